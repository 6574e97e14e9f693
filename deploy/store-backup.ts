// The parts of deploy/backup and deploy/restore that need more than a shell: the file store's snapshot
// and its restore (lib/files/store-snapshot.ts, over the store's own layout), and the backup's manifest.
// The master has no bun: the scripts run this with the runtime image's (`docker run ... bun
// deploy/store-backup.ts`), the checkout mounted at /src. Imports node's modules and lib/files/ only.
//
//   snapshot <store> <backup> [--link-from <previous backup>] [--min-free-percent <n>]
//                       the store's names and blobs into <backup>/files (a store directory itself), its
//                       report into <backup>/files.json
//   manifest <backup>   <backup>/manifest.json: the snapshot's names (each with its blob's sha256 and
//                       size), and the size and sha256 of every other file (InfluxDB's, the secrets, the
//                       settings); exits 3 when the snapshot reported problems (the manifest is written all the same)
//   verify <backup> [--deep]
//                       every file the manifest names is there, with its size and sha256 (--deep: the
//                       blobs' bytes too, not only their sizes); exits 1 otherwise
//   check-empty <store> exits 0 when the store has no name and no blob, 3 when it has
//   restore-files <backup> <store> [--force] [--owner <uid>:<gid>]
//                       the snapshot's names and blobs into the store (refused unless empty or --force)
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, relative } from "node:path";
import process from "node:process";
import {
  checkSnapshot,
  restoreStore,
  type SnapshotResult,
  snapshotStore,
  storeIsEmpty,
} from "../lib/files/store-snapshot.ts";

export const MANIFEST_FORMAT = "tarsd-backup 1";

/** A file of the backup besides the snapshot's: InfluxDB's backup files, the secrets, the settings. */
export interface ManifestEntry {
  path: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  /** When the manifest was written (the backup's end), ISO 8601. */
  written: string;
  files: SnapshotResult;
  /** The InfluxDB instances backed up (directories under influxdb/). */
  influxdb: string[];
  entries: ManifestEntry[];
}

function sha256File(path: string): string {
  const hash = createHash("sha256");
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.allocUnsafe(1024 * 1024);
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0;) hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

/** Every regular file under `dir`, as paths relative to `root`, sorted. */
function filesUnder(root: string, dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(root, path));
    else if (entry.isFile()) out.push(relative(root, path));
    else throw new Error(`${path}: neither a file nor a directory`);
  }
  return out.sort();
}

export function readManifest(backup: string): Manifest {
  const manifest = JSON.parse(readFileSync(join(backup, "manifest.json"), "utf8")) as Manifest;
  if (manifest.format !== MANIFEST_FORMAT) {
    throw new Error(`${backup}/manifest.json: format ${JSON.stringify(manifest.format)}, not ${MANIFEST_FORMAT}`);
  }
  return manifest;
}

/** Writes <backup>/manifest.json (atomically) from the snapshot's report and the other files. */
export function writeManifest(backup: string): Manifest {
  const report = join(backup, "files.json");
  const files = JSON.parse(readFileSync(report, "utf8")) as SnapshotResult;
  const influxdb = existsSync(join(backup, "influxdb"))
    ? readdirSync(join(backup, "influxdb"), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)
      .sort()
    : [];
  const entries = ["influxdb", "secrets", "config"].flatMap((dir) => filesUnder(backup, join(backup, dir))).map((
    path,
  ) => ({
    path,
    size: statSync(join(backup, path)).size,
    sha256: sha256File(join(backup, path)),
  }));
  const manifest: Manifest = { format: MANIFEST_FORMAT, written: new Date().toISOString(), files, influxdb, entries };
  const tmp = join(backup, ".manifest.json.partial");
  writeFileSync(tmp, `${JSON.stringify(manifest, null, 1)}\n`, { mode: 0o600 });
  renameSync(tmp, join(backup, "manifest.json"));
  rmSync(report);
  return manifest;
}

/** What is wrong with the backup at `backup` against its manifest (empty: nothing). */
export function verifyBackup(backup: string, deep = false): string[] {
  const manifest = readManifest(backup);
  const problems = checkSnapshot(join(backup, "files"), manifest.files.names, deep);
  for (const entry of manifest.entries) {
    const path = join(backup, entry.path);
    const size = statSync(path, { throwIfNoEntry: false })?.size;
    if (size === undefined) problems.push(`${entry.path}: missing`);
    else if (size !== entry.size) problems.push(`${entry.path}: ${size} bytes, not ${entry.size}`);
    else if (sha256File(path) !== entry.sha256) problems.push(`${entry.path}: its sha256 is not the manifest's`);
  }
  for (const instance of manifest.influxdb) {
    if (!manifest.entries.some((e) => e.path.startsWith(`influxdb/${instance}/`))) {
      problems.push(`influxdb/${instance}: no file`);
    }
  }
  return problems;
}

const USAGE = `usage: bun deploy/store-backup.ts <command> ...
  snapshot <store> <backup> [--link-from <previous backup>] [--min-free-percent <n>]
  manifest <backup>
  verify <backup> [--deep]
  check-empty <store>
  restore-files <backup> <store> [--force] [--owner <uid>:<gid>]`;

function fail(message: string, code = 2): never {
  console.error(`store-backup: ${message}`);
  process.exit(code);
}

/** Positional arguments and --flags (a flag in `valued` takes the next argument). */
function parse(args: string[], valued: string[], flags: string[]) {
  const positional: string[] = [];
  const options: Record<string, string | true> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (valued.includes(arg)) {
      if (i + 1 >= args.length) fail(`${arg} needs a value`);
      options[arg] = args[++i]!;
    } else if (flags.includes(arg)) options[arg] = true;
    else if (arg.startsWith("-")) fail(`unknown option ${arg}\n${USAGE}`);
    else positional.push(arg);
  }
  return { positional, options };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "snapshot": {
      const { positional, options } = parse(rest, ["--link-from", "--min-free-percent"], []);
      if (positional.length !== 2) fail(USAGE);
      const [store, backup] = positional as [string, string];
      const linkFrom = options["--link-from"] as string | undefined;
      const percent = Number(options["--min-free-percent"] ?? 0);
      if (!(percent >= 0 && percent < 100)) fail("--min-free-percent must be from 0 to 99");
      mkdirSync(join(backup, "files"), { recursive: true });
      const fs = statfsSync(backup);
      const result = await snapshotStore(store, join(backup, "files"), {
        linkFrom: linkFrom === undefined ? undefined : join(linkFrom, "files"),
        reserveBytes: Math.ceil(fs.blocks * fs.bsize * percent / 100),
      });
      writeFileSync(join(backup, "files.json"), JSON.stringify(result), { mode: 0o600 });
      console.log(
        `file store: ${Object.keys(result.names).length} names, ${result.blobs} blobs (${result.bytes} bytes: ` +
          `${result.copied} copied, ${result.linked} linked from the previous backup), ` +
          `${result.dropped.length} deleted while backing up, ${result.reread.length} read again`,
      );
      for (const problem of result.problems) console.error(`file store: NOT BACKED UP: ${problem}`);
      return 0;
    }
    case "manifest": {
      const { positional } = parse(rest, [], []);
      if (positional.length !== 1) fail(USAGE);
      const manifest = writeManifest(positional[0]!);
      if (manifest.files.problems.length > 0) {
        console.error(`manifest: the file store had ${manifest.files.problems.length} problem(s), in manifest.json`);
        return 3;
      }
      return 0;
    }
    case "verify": {
      const { positional, options } = parse(rest, [], ["--deep"]);
      if (positional.length !== 1) fail(USAGE);
      const problems = verifyBackup(positional[0]!, options["--deep"] === true);
      for (const problem of problems) console.error(`verify: ${problem}`);
      if (problems.length > 0) return 1;
      const manifest = readManifest(positional[0]!);
      console.log(
        `backup ${positional[0]} complete: ${Object.keys(manifest.files.names).length} names, ` +
          `${manifest.files.blobs} blobs, InfluxDB ${manifest.influxdb.join(", ") || "none"}, ` +
          `${manifest.entries.filter((e) => e.path.startsWith("secrets/")).length} secrets`,
      );
      return 0;
    }
    case "check-empty": {
      const { positional } = parse(rest, [], []);
      if (positional.length !== 1) fail(USAGE);
      if (storeIsEmpty(positional[0]!)) return 0;
      console.error(`the store ${positional[0]} has names or blobs`);
      return 3;
    }
    case "restore-files": {
      const { positional, options } = parse(rest, ["--owner"], ["--force"]);
      if (positional.length !== 2) fail(USAGE);
      const [backup, store] = positional as [string, string];
      let owner: { uid: number; gid: number } | undefined;
      if (options["--owner"] !== undefined) {
        const match = /^(\d+):(\d+)$/.exec(options["--owner"] as string);
        if (!match) fail("--owner wants <uid>:<gid>");
        owner = { uid: Number(match[1]), gid: Number(match[2]) };
      }
      const manifest = readManifest(backup);
      const result = restoreStore(join(backup, "files"), store, manifest.files.names, {
        force: options["--force"] === true,
        owner,
      });
      console.log(`file store: ${result.names} names restored, ${result.blobs} blobs written (${result.bytes} bytes)`);
      return 0;
    }
    case "-h":
    case "--help":
      console.log(USAGE);
      return 0;
    default:
      fail(USAGE);
  }
}

if (import.meta.main) {
  try {
    process.exit(await main(process.argv.slice(2)));
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err), 1);
  }
}
