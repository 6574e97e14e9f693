// A real InfluxDB for the tests and `bun run stack`: InfluxDB 1.8.10, built from the Go module proxy by
// `bash scripts/setup --test` into .tools/bin (InfluxDB 2 cannot be had here). It serves the two APIs
// of InfluxDB 2 this project uses: the write API `@influxdata/influxdb-client` posts to
// (/api/v2/write, bucket = "<database>[/<retention policy>]", `Authorization: Token <user>:<password>`
// when auth is on) and Flux on /api/v2/query, which Grafana's panels run. A bucket is a database here.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, SETUP_COMMAND } from "./binaries.ts";
import { type Child, spawnChild } from "./child-process.ts";
import { freePort } from "./ports.ts";
import { tempDir } from "./runtime-process.ts";

export const INFLUXD = join(REPO_ROOT, ".tools", "bin", "influxd");

export interface InfluxDbOptions {
  /** Databases (the 2.x buckets) created at start, if missing. */
  databases: string[];
  /** Auth on: an admin user is created and `token` (`<user>:<password>`) is needed for every call. */
  auth?: boolean;
  /** Reuse the data of a stopped server (a restart after an outage). */
  dataDir?: string;
  /** Reuse the port of a stopped server (default: the kernel picks one). */
  port?: number;
  /**
   * Serve the backup/restore RPC (`influxd backup -portable -host <rpcAddress>`) on a known free port
   * (default: a port the kernel picks and nobody learns: no backups).
   */
  rpc?: boolean;
}

export interface InfluxDb extends Child {
  dataDir: string;
  /** What a client sends as `Authorization: Token <token>`; undefined when auth is off. */
  token?: string;
  /** `127.0.0.1:<port>` of the backup/restore RPC, with `rpc: true`. */
  rpcAddress?: string;
  /** InfluxQL on /query (JSON, epoch milliseconds). */
  influxql(database: string, query: string): Promise<InfluxQlSeries[]>;
  /** Flux on /api/v2/query: the rows of every table of the CSV answer. */
  flux(query: string): Promise<FluxRow[]>;
}

export interface InfluxQlSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

export type FluxRow = Record<string, string>;

const ADMIN = { user: "tarsd", password: "tarsd-test-password" };

export async function startInfluxDb(options: InfluxDbOptions): Promise<InfluxDb> {
  if (!existsSync(INFLUXD)) {
    throw new Error(`InfluxDB 1.8.10 is not installed at ${INFLUXD}: run \`${SETUP_COMMAND}\` first`);
  }
  const dataDir = options.dataDir ?? tempDir("tarsd-influxdb-");
  mkdirSync(join(dataDir, "meta"), { recursive: true });
  const config = join(dataDir, "influxdb.conf");
  const rpcAddress = options.rpc ? `127.0.0.1:${await freePort()}` : undefined;
  writeFileSync(
    config,
    [
      "reporting-disabled = true",
      `bind-address = "${rpcAddress ?? "127.0.0.1:0"}"`, // the backup/restore RPC service
      "[meta]",
      `  dir = "${dataDir}/meta"`,
      "[data]",
      `  dir = "${dataDir}/data"`,
      `  wal-dir = "${dataDir}/wal"`,
      "  query-log-enabled = false",
      "[http]",
      `  bind-address = "127.0.0.1:${options.port ?? 0}"`,
      "  flux-enabled = true",
      "  log-enabled = false",
      `  auth-enabled = ${options.auth === true}`,
      "[monitor]",
      "  store-enabled = false",
      "[continuous_queries]",
      "  enabled = false",
      "",
    ].join("\n"),
  );
  // /ping answers 204 with auth on or off.
  const child = await spawnChild("influxdb", [INFLUXD, "run", "-config", config], "/ping", {
    port: options.port,
    readyStatus: 204,
  });
  const token = options.auth ? `${ADMIN.user}:${ADMIN.password}` : undefined;
  const authParams: Record<string, string> = options.auth ? { u: ADMIN.user, p: ADMIN.password } : {};

  const query = async (q: string, database?: string): Promise<InfluxQlSeries[]> => {
    const params = new URLSearchParams({ ...authParams, epoch: "ms", ...(database ? { db: database } : {}) });
    const res = await fetch(`${child.url}/query?${params}`, { method: "POST", body: new URLSearchParams({ q }) });
    const body = (await res.json()) as { results?: { series?: InfluxQlSeries[]; error?: string }[]; error?: string };
    const error = body.error ?? body.results?.find((r) => r.error)?.error;
    if (!res.ok || error) throw new Error(`InfluxQL ${JSON.stringify(q)}: ${res.status} ${error ?? ""}`);
    return body.results?.flatMap((r) => r.series ?? []) ?? [];
  };

  try {
    // With auth on, InfluxDB lets the first admin user be created without credentials.
    if (options.auth && !options.dataDir) {
      await query(`CREATE USER "${ADMIN.user}" WITH PASSWORD '${ADMIN.password}' WITH ALL PRIVILEGES`);
    }
    for (const database of options.databases) await query(`CREATE DATABASE "${database}"`);
  } catch (err) {
    await child.stop();
    throw err;
  }

  return {
    ...child,
    dataDir,
    token,
    rpcAddress,
    influxql: (database, q) => query(q, database),
    async flux(source) {
      const res = await fetch(`${child.url}/api/v2/query`, {
        method: "POST",
        headers: {
          "content-type": "application/vnd.flux",
          accept: "application/csv",
          ...(token ? { authorization: `Token ${token}` } : {}),
        },
        body: source,
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`Flux query failed: ${res.status} ${text.slice(0, 1000)}\n${source}`);
      return parseFluxCsv(text);
    },
  };
}

/**
 * Flux's CSV answer: tables one after another, each with its header row (a blank line may separate
 * them); an error in the middle of a stream comes as a table with an `error` column. Fields are
 * RFC 4180 (quotes around values with commas or quotes, doubled quotes inside).
 */
export function parseFluxCsv(text: string): FluxRow[] {
  const rows: FluxRow[] = [];
  let header: string[] | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "") {
      header = undefined;
      continue;
    }
    if (line.startsWith("#")) continue; // annotations (not asked for)
    const cells = splitCsvLine(line);
    if (!header || cells[0] === "" && cells[1] === "result" && cells[2] === "table") {
      header = cells;
      continue;
    }
    const row: FluxRow = {};
    header.forEach((name, i) => {
      if (name !== "") row[name] = cells[i] ?? "";
    });
    if (header.includes("error") && row.error) throw new Error(`Flux error: ${row.error} ${row.reference ?? ""}`);
    rows.push(row);
  }
  return rows;
}

function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      cells.push(cell);
      cell = "";
    } else cell += c;
  }
  cells.push(cell);
  return cells;
}
