// The servers of the end-to-end rows, in two groups measured one after the other (each group's rows in
// alternating segments, measure.ts): each target gets a server of its own, started fresh, so no row
// writes into data another row left. Everything started here is stopped, and its data removed, by
// stopAll (also on SIGINT/SIGTERM).
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { INFLUXD, startInfluxDb } from "../../harness/influxdb.ts";
import { startVictoriaMetrics } from "../../harness/pipeline.ts";
import { startRuntime, tempDir } from "../../harness/runtime-process.ts";
import type { BodyKind } from "./bodies.ts";

export type TargetKey =
  | "function-vm"
  | "vm-ceiling"
  | "vm-own"
  | "function-influx"
  | "function-influx-no-spool"
  | "influx-own"
  | "influx-ceiling";

export interface Target {
  key: TargetKey;
  group: string;
  name: string;
  /** When the server answers 2xx: what is on disk by then. */
  durability: string;
  url: string;
  body: BodyKind;
}

const started: { stop(): Promise<unknown>; dir?: string }[] = [];

function track<T extends { stop(): Promise<unknown> }>(server: T, dir?: string): T {
  started.push({ stop: () => server.stop(), dir });
  return server;
}

/** Stops every server still running, newest first, and removes the data dirs this run made. */
export async function stopAll(): Promise<void> {
  while (started.length > 0) {
    const server = started.pop()!;
    await server.stop().catch(() => {});
    if (server.dir) rmSync(server.dir, { recursive: true, force: true });
  }
}

export function cleanUpOnSignals(): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      console.error(`\nbench: ${signal}, cleaning up`);
      void stopAll().finally(() => process.exit(130));
    });
  }
}

/**
 * The function in the runtime as deployed (FUNCTIONS=remote-write), its InfluxDB sink writing to `sinkUrl`,
 * behind its spool (the default) unless `spool` is false.
 */
async function startFunction(sinkUrl: string, spool = true): Promise<string> {
  const dataDir = tempDir("tarsd-bench-rw-runtime-");
  const runtime = track(
    await startRuntime({
      FUNCTIONS: "remote-write",
      INFLUX_URL: sinkUrl,
      INFLUX_ORG: "tarsd",
      INFLUX_BUCKET: "bench",
      LOG_REQUESTS: "0",
      DATA_DIR: dataDir,
      ...(spool ? {} : { REMOTE_WRITE_SPOOL_MAX_BYTES: "0" }),
    }),
    dataDir,
  );
  return `${runtime.url}/api/v1/write`;
}

const VM_DURABILITY = "in memory: answers once the rows are in its in-memory buffers, written to disk later; no fsync";

/** A function row: it answers 2xx only once its sink did, so its durability is the sink's. */
const sinkDurability = (peer: string, durability: string) => `its sink's (answers once ${peer} did): ${durability}`;

/** function → VictoriaMetrics /api/v2/write, VictoriaMetrics fed the function's output, VictoriaMetrics' own endpoint. */
export async function victoriaMetricsGroup(): Promise<Target[]> {
  const start = async () => {
    const vm = await startVictoriaMetrics();
    return track(vm, vm.dataDir);
  };
  const group = "VictoriaMetrics";
  const sink = await start();
  const functionUrl = await startFunction(sink.url);
  const ceiling = await start();
  const own = await start();
  return [
    {
      key: "function-vm",
      group,
      name: "function → VictoriaMetrics /api/v2/write",
      durability: sinkDurability("VictoriaMetrics", VM_DURABILITY),
      url: functionUrl,
      body: "remote-write",
    },
    {
      key: "vm-ceiling",
      group,
      name: "VictoriaMetrics /api/v2/write fed the function's output (line-protocol ceiling)",
      durability: VM_DURABILITY,
      url: `${ceiling.url}/api/v2/write?org=tarsd&bucket=bench&precision=ms`,
      body: "line-protocol",
    },
    {
      key: "vm-own",
      group,
      name: "VictoriaMetrics /api/v1/write (own endpoint)",
      durability: VM_DURABILITY,
      url: `${own.url}/api/v1/write`,
      body: "remote-write",
    },
  ];
}

/** The InfluxDB the tests and the stack use (harness/influxdb.ts: .tools/bin/influxd), e.g. "1.8.10". */
export function influxVersion(): string {
  const module = `${INFLUXD}.module`;
  const version = existsSync(module) ? /@v(\d+\.\d+\.\d+)/.exec(readFileSync(module, "utf8"))?.[1] : undefined;
  return version ?? "(version unknown)";
}

/**
 * `wal-fsync-delay` as the server was configured (harness/influxdb.ts writes the config): unset means
 * InfluxDB 1.8's default, 0s, i.e. every write waits for its own WAL fsync. With a delay, a write still
 * waits for an fsync, only batched with others (tsdb/engine/tsm1/wal.go, writeToLog / scheduleSync).
 */
export function walFsyncDelay(dataDir: string): { value: string; source: string } {
  const config = readFileSync(join(dataDir, "influxdb.conf"), "utf8");
  const set = /^\s*wal-fsync-delay\s*=\s*"([^"]*)"/m.exec(config);
  return set
    ? { value: set[1]!, source: "set by harness/influxdb.ts" }
    : { value: "0s", source: "InfluxDB 1.8's default; harness/influxdb.ts does not set it" };
}

function influxDurability(delay: { value: string; source: string }): string {
  const zero = /^0+(ns|us|µs|ms|s|m|h)?$/.test(delay.value.trim());
  return `WAL fsynced: answers once its WAL is fsynced (wal-fsync-delay = ${delay.value}, ${delay.source}${
    zero ? "" : "; fsyncs batched, each write still waits for one"
  })`;
}

/**
 * function → InfluxDB /api/v2/write, InfluxDB's own /api/v1/prom/write, InfluxDB fed the function's output,
 * and the function with its spool turned off → InfluxDB /api/v2/write (what the spool costs while InfluxDB is up).
 */
export async function influxGroup(): Promise<{ targets: Target[]; walFsyncDelay: string }> {
  const start = async () => {
    const influx = await startInfluxDb({ databases: ["bench"] });
    return track(influx, influx.dataDir);
  };
  const version = influxVersion();
  const group = `InfluxDB ${version}`;
  const sink = await start();
  const functionUrl = await startFunction(sink.url);
  const own = await start();
  const ceiling = await start();
  const noSpoolSink = await start();
  const noSpoolUrl = await startFunction(noSpoolSink.url, false);
  const delays = [sink, own, ceiling, noSpoolSink].map((s) => walFsyncDelay(s.dataDir));
  if (new Set(delays.map((d) => d.value)).size !== 1) throw new Error("the InfluxDB servers differ in wal-fsync-delay");
  const durability = influxDurability(delays[0]!);
  return {
    walFsyncDelay: delays[0]!.value,
    targets: [
      {
        key: "function-influx",
        group,
        name: `function → InfluxDB ${version} /api/v2/write`,
        durability: sinkDurability("InfluxDB", durability),
        url: functionUrl,
        body: "remote-write",
      },
      {
        key: "influx-own",
        group,
        name: `InfluxDB ${version} /api/v1/prom/write (own endpoint)`,
        durability,
        url: `${own.url}/api/v1/prom/write?db=bench`,
        body: "remote-write",
      },
      {
        key: "influx-ceiling",
        group,
        name: `InfluxDB ${version} /api/v2/write fed the function's output (line-protocol ceiling)`,
        durability,
        url: `${ceiling.url}/api/v2/write?org=tarsd&bucket=bench&precision=ms`,
        body: "line-protocol",
      },
      {
        key: "function-influx-no-spool",
        group,
        name: `function, spool off → InfluxDB ${version} /api/v2/write`,
        durability: sinkDurability("InfluxDB", durability),
        url: noSpoolUrl,
        body: "remote-write",
      },
    ],
  };
}
