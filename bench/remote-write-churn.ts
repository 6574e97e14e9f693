// Series churn and memory: `bun bench/remote-write-churn.ts` (CHURN_SECONDS, default 600).
// One APP 3 replica (the runtime, FUNCTIONS=remote-write) writing into VictoriaMetrics' InfluxDB API
// gets CHURN_SERIES (default 1,000,000) series it has never seen, evenly over CHURN_SECONDS, in
// requests of 2000 series, as a sender with heavy churn would send them. Its resident memory is read
// every second from /proc. The receiver keeps nothing per series between requests (a series' line
// prefix is copied from each request's bytes): RSS must level off instead of growing with the series
// sent. Prints the peak and the end RSS, and the RSS after each tenth of the run, and exits 1 when a
// request failed or RSS grew past the bound.
import { readFileSync } from "node:fs";
import { startVictoriaMetrics } from "../harness/pipeline.ts";
import { compress, encodeV1 } from "../harness/remote-write-requests.ts";
import { startRuntime } from "../harness/runtime-process.ts";

const SECONDS = Number(process.env.CHURN_SECONDS ?? 600);
const SERIES = Number(process.env.CHURN_SERIES ?? 1_000_000);
const PER_REQUEST = 2000;
/** What a replica may use for everything (its stack limit is 256 MiB): the bound checked here. */
const RSS_BOUND_MIB = 200;

const rssMiB = (pid: number) =>
  Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) / 1024;

const vm = await startVictoriaMetrics();
const app = await startRuntime({
  FUNCTIONS: "remote-write",
  INFLUX_URL: vm.url,
  INFLUX_ORG: "tarsd",
  INFLUX_BUCKET: "churn",
  LOG_REQUESTS: "0",
});
let failed = 0;
let sent = 0;
let peak = 0;
const samples: { at: number; rss: number }[] = [];
const started = performance.now();
const sampler = setInterval(() => {
  const rss = rssMiB(app.proc.pid);
  peak = Math.max(peak, rss);
  samples.push({ at: (performance.now() - started) / 1000, rss });
}, 1000);
try {
  const requests = Math.ceil(SERIES / PER_REQUEST);
  for (let i = 0; i < requests; i++) {
    const due = started + (i * SECONDS * 1000) / requests;
    const wait = due - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    const at = Date.now();
    const body = compress(encodeV1(Array.from({ length: PER_REQUEST }, (_, j) => ({
      labels: [
        ["__name__", `churn_metric_${j % 20}`],
        ["instance", `pod-${i}-${j}.example:9100`],
        ["job", "churn"],
        ["request_id", `${i * PER_REQUEST + j}`],
      ] as [string, string][],
      samples: [{ value: j, timestamp: at }],
    }))));
    const res = await fetch(`${app.url}/api/v1/write`, {
      method: "POST",
      body,
      headers: { "content-type": "application/x-protobuf", "content-encoding": "snappy" },
    });
    await res.arrayBuffer();
    if (res.status !== 204) failed++;
    sent += PER_REQUEST;
  }
} finally {
  clearInterval(sampler);
  await app.stop();
  await vm.stop();
}
const elapsed = (performance.now() - started) / 1000;
const tenths = Array.from({ length: 10 }, (_, k) => samples[Math.floor(((k + 1) * samples.length) / 10) - 1]);
console.log(
  `churn: ${sent.toLocaleString("en")} new series in ${elapsed.toFixed(0)} s, ${failed} requests failed; ` +
    `RSS peak ${peak.toFixed(1)} MiB (bound ${RSS_BOUND_MIB}), at each tenth: ${
      tenths.map((s) => s?.rss.toFixed(0)).join(" ")
    } MiB`,
);
process.exit(failed === 0 && peak <= RSS_BOUND_MIB ? 0 : 1);
