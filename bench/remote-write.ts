// Remote-write benchmark: `bun bench/remote-write.ts` (one run, about 3 minutes at the defaults).
//
// 1. Decode+convert of the function with writes disabled, on one core, samples/s (remote-write/decode.ts):
//      warm: the same 2000 series again with new samples (what Prometheus sends every interval);
//      cold: 2000 series never seen before in every request (series churn).
// 2. End to end with one load generator (wrk, -t2 -c8, the same snappy bodies: 2000 series of
//    node-exporter-like labels per request, as a Prometheus shard batches them), in two groups; each
//    target has a fresh server of its own (remote-write/servers.ts):
//      VictoriaMetrics (answers once the rows are buffered in memory, no fsync before answering):
//        the function (the runtime, FUNCTIONS=remote-write, its InfluxDB sink) → VictoriaMetrics' /api/v2/write,
//        VictoriaMetrics' /api/v2/write fed the function's own output (the same bodies converted to line
//          protocol beforehand): the line-protocol ceiling, the most any receiver writing through
//          InfluxDB's API reaches here, as the peer's ingestion shares the two cores with it,
//        VictoriaMetrics' own /api/v1/write;
//      InfluxDB 1.8 (.tools/bin/influxd, harness/influxdb.ts; answers once its WAL is fsynced:
//      wal-fsync-delay is read from the config it was started with, 0s, InfluxDB's default, unless the
//      harness sets it):
//        the function → InfluxDB 1.8's /api/v2/write (the stack's sink shape, against a real InfluxDB),
//        InfluxDB 1.8's own /api/v1/prom/write,
//        InfluxDB 1.8's /api/v2/write fed the function's own output (its line-protocol ceiling),
//        the function with its spool turned off (REMOTE_WRITE_SPOOL_MAX_BYTES=0) → InfluxDB 1.8's /api/v2/write.
//    A function row answers once its sink answered, so its durability is its sink's. Within a group the
//    rows run in alternating segments, A B C C B A (remote-write/measure.ts: a drift of the machine's
//    speed weighs on all alike), after a pre-flight request that must be answered 2xx and a warm-up.
//    Ratios are taken within a group only.
// Targets (remote-write/config.ts; bench/NOTES.md says why they are stated so):
//    function → VictoriaMetrics ÷ its line-protocol ceiling measured in the same run >= 0.6;
//    function → InfluxDB 1.8 /api/v2/write ÷ InfluxDB 1.8's own /api/v1/prom/write >= 2 (same durability);
//    function → InfluxDB 1.8 ÷ the same with its spool off >= 0.9 (the spool costs at most 10% while InfluxDB is up);
//    decode+convert of never-seen series >= 1 M samples/s per core.
// Prints a markdown table of the rows with each one's durability, every ratio of the run (targets PASS/FAIL)
// and writes .artifacts/bench-remote-write.json. Exit status: 0 when every row ran clean (no socket
// error, timeout or non-2xx), every target holds and no function row beats its own line-protocol ceiling by
// more than 10% (the same bytes sent straight to the same server: above it the run's figures are noise), 1 otherwise.
// Knobs (env): BENCH_DURATION seconds per row (16, in two segments), BENCH_WARMUP seconds per target
// before its group's segments (2), BENCH_SERIES per request (2000), BENCH_ONLY=decode (only part 1,
// judged by its target alone).
import { rmSync } from "node:fs";
import { tempDir } from "../harness/runtime-process.ts";
import { warmBodies, writeBodyFiles } from "./remote-write/bodies.ts";
import { CONNECTIONS, ONLY, THREADS } from "./remote-write/config.ts";
import { measureDecodeConvert } from "./remote-write/decode.ts";
import { measureTogether, type Row } from "./remote-write/measure.ts";
import { failures, printSummary, ratios, type Results, writeArtifact } from "./remote-write/report.ts";
import { cleanUpOnSignals, influxGroup, influxVersion, stopAll, victoriaMetricsGroup } from "./remote-write/servers.ts";

cleanUpOnSignals();

async function victoriaMetricsVersion(): Promise<string> {
  const proc = Bun.spawn(["dpkg-query", "-W", "-f=${Version}", "victoria-metrics"], {
    stdout: "pipe",
    stderr: "ignore",
  });
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  return code === 0 ? out.trim() : "unknown";
}

async function main(bodyDir: string): Promise<number> {
  const bodies = warmBodies();
  const decodeConvert = measureDecodeConvert(bodies);
  console.log(
    `decode+convert, one core: warm ${(decodeConvert.warm / 1e6).toFixed(2)} M samples/s, cold ${
      (decodeConvert.cold / 1e6).toFixed(2)
    } M samples/s`,
  );
  const env: Results["env"] = {
    cpus: navigator.hardwareConcurrency,
    bun: Bun.version,
    wrk: `-t${THREADS} -c${CONNECTIONS}`,
    victoriaMetrics: await victoriaMetricsVersion(),
    influxdb: influxVersion(),
  };
  const rows: Row[] = [];
  if (ONLY !== "decode") {
    const dirs = writeBodyFiles(bodyDir, bodies);
    const vm = await victoriaMetricsGroup();
    console.log(`\n${vm[0]!.group}: ${vm.map((t) => t.key).join(" ")} then back`);
    rows.push(...await measureTogether(vm, dirs));
    await stopAll();
    const influx = await influxGroup();
    env.influxWalFsyncDelay = influx.walFsyncDelay;
    console.log(`\n${influx.targets[0]!.group}: ${influx.targets.map((t) => t.key).join(" ")} then back`);
    rows.push(...await measureTogether(influx.targets, dirs));
    await stopAll();
  }
  const results: Results = { env, rows, ratios: ratios(rows), decodeConvert };
  printSummary(results);
  const failed = failures(results);
  writeArtifact(results, failed);
  if (failed.length === 0) return 0;
  console.log(`\nexit status 1:\n${failed.map((f) => `- ${f}`).join("\n")}`);
  return 1;
}

const bodyDir = tempDir("tarsd-bench-rw-");
let code = 1;
try {
  code = await main(bodyDir);
} catch (err) {
  console.error(`bench/remote-write.ts: ${(err as Error).stack ?? String(err)}`);
  code = 1;
} finally {
  await stopAll();
  rmSync(bodyDir, { recursive: true, force: true });
}
process.exit(code);
