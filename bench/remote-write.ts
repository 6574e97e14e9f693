// Remote-write benchmark: `bun bench/remote-write.ts` (one run, about 2 minutes).
//
// 1. Decode+convert of the function with writes disabled, on one core, samples/s:
//      warm: the same 2000 series again with new samples (what Prometheus sends every interval);
//      cold: 2000 series never seen before in every request (series churn).
// 2. End to end with one load generator (wrk, c=8, the same snappy bodies: 2000 series of
//    node-exporter-like labels per request, as a Prometheus shard batches them) against
//      the function (runtime, FUNCTIONS=remote-write) writing to VictoriaMetrics' /api/v2/write,
//      VictoriaMetrics' own /api/v1/write,
//      VictoriaMetrics' /api/v2/write fed the function's own output (the same bodies converted to
//      line protocol beforehand): what any receiver that writes through InfluxDB's API can reach here,
//      as the peer's line-protocol ingestion shares the two cores with it,
//      InfluxDB 1.x's own /api/v1/prom/write (Debian's influxdb 1.6),
//    each answering 2xx only once stored. Prints samples/s and the ratios the issues target:
//    function >= 2x InfluxDB 1.x and >= 0.6x VictoriaMetrics' own endpoint end to end; decode+convert
//    of never-seen series >= 1 M samples/s per core.
// Knobs (env): BENCH_DURATION seconds per target (15), BENCH_SERIES per request (2000),
// BENCH_ONLY=decode (only part 1).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { toLineProtocol } from "../lib/remote-write/convert.ts";
import { decompress, parseMessage } from "../lib/remote-write/decode.ts";
import { ByteWriter } from "../lib/remote-write/byte-writer.ts";
import { REPO_ROOT, requireBinary } from "../harness/binaries.ts";
import { compress, encodeV1, type TestSeries } from "../harness/remote-write-requests.ts";
import type { Child } from "../harness/child-process.ts";
import { startInfluxDb } from "../harness/influxdb.ts";
import { startVictoriaMetrics } from "../harness/pipeline.ts";
import { type RuntimeProcess, startRuntime, tempDir } from "../harness/runtime-process.ts";
import { wrk, wrkErrors, type WrkResult } from "../harness/wrk.ts";

const DURATION_S = Number(process.env.BENCH_DURATION ?? 15);
const SERIES = Number(process.env.BENCH_SERIES ?? 2000);
const BODIES = 16;
const CONNECTIONS = 8;

function batch(requestIndex: number, seriesTag: string): TestSeries[] {
  const at = 1_780_000_000_000 + requestIndex * 15_000;
  return Array.from({ length: SERIES }, (_, i) => ({
    labels: [
      ["__name__", `node_metric_${i % 50}`],
      ["cpu", String(i % 16)],
      ["device", `sd${String.fromCharCode(97 + (i % 4))}`],
      ["instance", `vm${i % 10}.example.internal:9100`],
      ["job", "node"],
      ["mode", ["idle", "user", "system", "iowait"][i % 4]!],
      ["node", `swarm-node-${i % 10}`],
      ["series", `${seriesTag}${i}`],
    ],
    samples: [{ value: (requestIndex * 7919 + i * 104729) / 997, timestamp: at }],
  }));
}

// ---- 1. decode + convert, one core -------------------------------------------------------------

// One reused body buffer for every round, as a running APP 2/3 has it.
const out = new ByteWriter(256 * 1024);

function decodeConvertRate(bodies: Uint8Array[], rounds: number): number {
  let samples = 0;
  const started = performance.now();
  for (let round = 0; round < rounds; round++) {
    for (const body of bodies) {
      const series = parseMessage(decompress(body, 64 << 20), 1);
      samples += toLineProtocol(series, { duplicateLabels: "skip" }, out).written;
    }
  }
  return samples / ((performance.now() - started) / 1000);
}

const warmBodies = Array.from({ length: BODIES }, (_, i) => compress(encodeV1(batch(i, "s"))));
const coldBodies = Array.from({ length: 250 }, (_, i) => compress(encodeV1(batch(i, `cold${i}-`))));
decodeConvertRate(warmBodies, 10); // JIT warm-up
Bun.gc(true); // measure the receiver, not the collection of the request generator's garbage
const warm = decodeConvertRate(warmBodies, 60);
Bun.gc(true);
const cold = decodeConvertRate(coldBodies, 1);
console.log(
  `decode+convert, one core: warm ${(warm / 1e6).toFixed(2)} M samples/s, cold ${(cold / 1e6).toFixed(2)} M samples/s`,
);
if (process.env.BENCH_ONLY === "decode") process.exit(0);

// ---- 2. end to end ------------------------------------------------------------------------------

const bodyDir = tempDir("tarsd-bench-rw-");
warmBodies.forEach((body, i) => writeFileSync(join(bodyDir, `body-${i}.bin`), body));
const lineProtocolDir = tempDir("tarsd-bench-lp-");
warmBodies.forEach((body, i) => {
  const converted = toLineProtocol(parseMessage(decompress(body, 64 << 20), 1), { duplicateLabels: "skip" });
  writeFileSync(join(lineProtocolDir, `body-${i}.bin`), converted.body);
});

async function load(url: string, lineProtocol = false): Promise<WrkResult & { samplesPerSecond: number }> {
  const result = await wrk({
    url,
    script: "remote-write",
    seconds: DURATION_S,
    connections: CONNECTIONS,
    timeoutSeconds: 10,
    env: {
      BENCH_BODY_DIR: lineProtocol ? lineProtocolDir : bodyDir,
      BENCH_BODY_COUNT: String(BODIES),
      BENCH_BODY_KIND: lineProtocol ? "line-protocol" : "remote-write",
    },
  });
  return { ...result, samplesPerSecond: (result.requests * SERIES) / (result.duration_us / 1e6) };
}

/** Debian's InfluxDB 1.x with its own Prometheus endpoint, database "bench". */
function startInfluxDb1(): Promise<Child> {
  return startInfluxDb({ databases: ["bench"], binary: requireBinary("influxd") });
}

const children: { stop(): Promise<unknown> }[] = [];
let runtime: RuntimeProcess | undefined;
try {
  const vmForFunction = await startVictoriaMetrics();
  children.push(vmForFunction);
  runtime = await startRuntime({
    FUNCTIONS: "remote-write",
    INFLUX_URL: vmForFunction.url,
    INFLUX_ORG: "tarsd",
    INFLUX_BUCKET: "bench",
    LOG_REQUESTS: "0",
  });
  const viaFunction = await load(`${runtime.url}/api/v1/write`);
  await runtime.stop();
  await vmForFunction.stop();

  const vm = await startVictoriaMetrics();
  children.push(vm);
  const vmNative = await load(`${vm.url}/api/v1/write`);
  await vm.stop();

  const vmForLines = await startVictoriaMetrics();
  children.push(vmForLines);
  const vmLines = await load(`${vmForLines.url}/api/v2/write?org=tarsd&bucket=bench&precision=ms`, true);
  await vmForLines.stop();

  const influx1 = await startInfluxDb1();
  children.push(influx1);
  const influxNative = await load(`${influx1.url}/api/v1/prom/write?db=bench`);
  await influx1.stop();

  const rows = [
    ["function -> VictoriaMetrics /api/v2/write", viaFunction],
    ["VictoriaMetrics /api/v1/write (own endpoint)", vmNative],
    ["VictoriaMetrics /api/v2/write, the function's output as is (ceiling)", vmLines],
    ["InfluxDB 1.x /api/v1/prom/write (own endpoint)", influxNative],
  ] as const;
  const toInflux1 = viaFunction.samplesPerSecond / influxNative.samplesPerSecond;
  const toVm = viaFunction.samplesPerSecond / vmNative.samplesPerSecond;
  const ceiling = vmLines.samplesPerSecond / vmNative.samplesPerSecond;
  console.log(
    `\n## bench/remote-write.ts: ${SERIES} series per request, wrk -t2 -c${CONNECTIONS} -d${DURATION_S}s, ${navigator.hardwareConcurrency} CPUs\n`,
  );
  console.log("| path | samples/s | requests | p50 ms | p99 ms | errors (non-2xx, socket) |");
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const [name, r] of rows) {
    console.log(
      `| ${name} | ${Math.round(r.samplesPerSecond).toLocaleString("en")} | ${r.requests} | ${
        (r.latency_us.p50 / 1000).toFixed(1)
      } | ${(r.latency_us.p99 / 1000).toFixed(1)} | ${wrkErrors(r)} |`,
    );
  }
  console.log(
    `\nfunction / InfluxDB 1.x own endpoint: ${toInflux1.toFixed(2)}x (target >= 2x): ${
      toInflux1 >= 2 ? "PASS" : "FAIL"
    }`,
  );
  console.log(
    `function / VictoriaMetrics own endpoint: ${toVm.toFixed(2)}x (target >= 0.6x): ${
      toVm >= 0.6 ? "PASS" : "FAIL"
    }; ` +
      `its line-protocol ingestion alone reaches ${
        ceiling.toFixed(2)
      }x of it (no receiver writing through it can do more)`,
  );
  console.log(
    `decode+convert, one core: cold (new series every request) ${(cold / 1e6).toFixed(2)} M samples/s (target >= 1): ${
      cold >= 1e6 ? "PASS" : "FAIL"
    }; warm (the same series again) ${(warm / 1e6).toFixed(2)} M samples/s`,
  );
  mkdirSync(join(REPO_ROOT, ".artifacts"), { recursive: true });
  writeFileSync(
    join(REPO_ROOT, ".artifacts", "bench-remote-write.json"),
    JSON.stringify(
      {
        series: SERIES,
        duration_s: DURATION_S,
        viaFunction,
        vmNative,
        vmLines,
        influxNative,
        ratioToInflux1: toInflux1,
        ratioToVm: toVm,
        vmLineProtocolCeiling: ceiling,
        decodeConvert: { warm, cold },
      },
      null,
      2,
    ),
  );
  if (rows.some(([, r]) => wrkErrors(r) > 0)) {
    console.log("some requests failed: the figures above are not valid");
    process.exitCode = 1;
  }
} finally {
  await runtime?.stop();
  for (const child of children) await child.stop().catch(() => {});
}
