// The machine and tool versions a run is made with, printed first and kept in the report.
import { cpus } from "node:os";
import { requireBinary } from "../../harness/binaries.ts";
import { CONNECTIONS, ONLY, SEGMENT_S, THREADS, WARMUP_S } from "./config.ts";
import { run } from "./processes.ts";
import { DUFS, NGINX, PYTHON } from "./servers.ts";

export type Environment = Awaited<ReturnType<typeof describeEnvironment>>;

export async function describeEnvironment() {
  return {
    cpus: cpus().length,
    bun: Bun.version,
    nginx: await version([NGINX, "-v"]),
    /** The seed's Bottle and waitress (Debian's packages) and dufs. */
    peers: ONLY === "rss" ? "" : [
      await version([
        PYTHON,
        "-c",
        "import bottle, importlib.metadata as m; print('bottle', bottle.__version__, 'waitress', m.version('waitress'))",
      ]),
      await version([DUFS, "--version"]),
    ].join(", "),
    wrk: await version([requireBinary("wrk"), "-v"]),
    wrk_args:
      `-t${THREADS} -c${CONNECTIONS}, 2 × -d${SEGMENT_S}s per server in the order A B … B A (warm-up ${WARMUP_S}s)`,
  };
}

async function version(cmd: string[]): Promise<string> {
  const out = await run(cmd).catch(() => ({ stdout: "", stderr: "" }));
  return (out.stdout + out.stderr).split("\n")[0]!.trim();
}
