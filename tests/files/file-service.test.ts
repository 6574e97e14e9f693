// The file service's settings and life: read from the environment as they always were, built into
// functions that touch nothing until started, prepared at start (directories, the older layout),
// ready while the store answers, and housekeeping only in the upload function, until it stops.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import process from "node:process";
import { downloadFunction } from "../../functions/download.ts";
import { uploadFunction } from "../../functions/upload.ts";
import { startInProcess } from "../../harness/in-process.ts";
import { scratchDirs } from "../../harness/runtime-process.ts";
import { FileService } from "../../lib/files/file-service.ts";
import { fileServiceSettingsFromEnv } from "../../lib/files/settings.ts";
import { defaultSettings, serveFiles, stopAll } from "./serve-files.ts";

const sha = (data: string) => createHash("sha256").update(data).digest("hex");

const VARIABLES = [
  "DATA_DIR",
  "MAX_UPLOAD_BYTES",
  "AUTH_TOKEN",
  "GC_INTERVAL_SECONDS",
  "GC_GRACE_SECONDS",
  "UPLOAD_EXPIRY_SECONDS",
].flatMap((name) => [name, `${name}_FILE`]);

const scratch = scratchDirs(afterEach);

describe("settings from the environment", () => {
  let saved: Record<string, string | undefined>;
  beforeEach(() => {
    saved = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
    for (const name of VARIABLES) delete process.env[name];
  });
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  test("no variable set: the defaults (which the tests' defaultSettings spell out too)", () => {
    const settings = fileServiceSettingsFromEnv();
    expect(settings).toEqual({
      dataDir: resolve("./data"),
      maxUploadBytes: 5 * 1024 ** 3,
      token: undefined,
      gcIntervalMs: 600_000,
      gcGraceMs: 3_600_000,
      uploadExpiryMs: 86_400_000,
    });
    expect(defaultSettings(resolve("./data"))).toEqual(settings);
  });

  test("each variable, seconds turned into milliseconds, a relative DATA_DIR resolved", () => {
    Object.assign(process.env, {
      DATA_DIR: "some/where",
      MAX_UPLOAD_BYTES: "1234",
      AUTH_TOKEN: "t0ken",
      GC_INTERVAL_SECONDS: "2",
      GC_GRACE_SECONDS: "3",
      UPLOAD_EXPIRY_SECONDS: "4",
    });
    expect(fileServiceSettingsFromEnv()).toEqual({
      dataDir: resolve("some/where"),
      maxUploadBytes: 1234,
      token: "t0ken",
      gcIntervalMs: 2000,
      gcGraceMs: 3000,
      uploadExpiryMs: 4000,
    });
  });

  test("a bad number is refused, naming the variable", () => {
    process.env.MAX_UPLOAD_BYTES = "5GB";
    expect(() => fileServiceSettingsFromEnv()).toThrow('MAX_UPLOAD_BYTES must be a non-negative integer, got "5GB"');
  });

  test("AUTH_TOKEN_FILE (a swarm secret) gives the token: writes then need it", async () => {
    const secretFile = join(scratch("tarsd-secret-"), "tarsd_auth_token");
    writeFileSync(secretFile, "from-a-secret\n");
    process.env.AUTH_TOKEN_FILE = secretFile;
    const { token } = fileServiceSettingsFromEnv();
    expect(token).toBe("from-a-secret");
    const host = await serveFiles({ token });
    try {
      expect((await fetch(`${host.url}/files/s.txt`, { method: "PUT", body: "s" })).status).toBe(401);
      const ok = await fetch(`${host.url}/files/s.txt`, {
        method: "PUT",
        body: "s",
        headers: { authorization: "Bearer from-a-secret" },
      });
      expect(ok.status).toBe(201);
    } finally {
      await stopAll([host]);
    }
  });
});

describe("the functions' life", () => {
  test("building a function touches nothing; starting it makes the store's directories", async () => {
    const dataDir = join(scratch("tarsd-build-"), "data");
    const settings = { ...defaultSettings(dataDir), gcIntervalMs: 50 };
    const upload = uploadFunction(settings);
    const download = downloadFunction(settings);
    expect(existsSync(dataDir)).toBe(false);
    await upload.start();
    await download.start();
    expect(readdirSync(join(dataDir, "store")).sort()).toEqual(["blobs", "gc", "names", "tmp", "uploads"]);
    await upload.stop();
    await download.stop();
  });

  test("the older layout ($DATA_DIR/files) is moved into the store at start", async () => {
    const dataDir = scratch("tarsd-legacy-");
    mkdirSync(join(dataDir, "files"));
    writeFileSync(join(dataDir, "files", "old.txt"), "from the old layout");
    const host = await serveFiles({ dataDir });
    try {
      expect(existsSync(join(dataDir, "files"))).toBe(false);
      const got = await fetch(`${host.url}/files/old.txt`);
      expect(got.headers.get("etag")).toBe(`"${sha("from the old layout")}"`);
      expect(await got.text()).toBe("from the old layout");
    } finally {
      await host.stop();
    }
  });

  test("ready while the store answers; /readyz says which function is not once it is gone", async () => {
    const dataDir = scratch("tarsd-ready-");
    const host = await serveFiles({ dataDir });
    try {
      expect(await (await fetch(`${host.url}/readyz`)).json()).toEqual({ status: "ready" });
      rmSync(join(dataDir, "store"), { recursive: true, force: true });
      const res = await fetch(`${host.url}/readyz`);
      expect(res.status).toBe(503);
      const names = join(dataDir, "store", "names");
      const reason = `ENOENT: no such file or directory, stat '${names}'`;
      expect(await res.json()).toEqual({ status: "unavailable", functions: { upload: reason, download: reason } });
    } finally {
      await host.stop();
    }
  });

  test("the upload function's periodic pass collects a deleted file's blob", async () => {
    const dataDir = scratch("tarsd-pass-");
    const upload = uploadFunction({ ...defaultSettings(dataDir), gcIntervalMs: 50, gcGraceMs: 0 });
    const host = await startInProcess({ upload });
    try {
      expect((await fetch(`${host.url}/files/passing.txt`, { method: "PUT", body: "passing" })).status).toBe(201);
      const blob = join(dataDir, "store", "blobs", sha("passing").slice(0, 2), sha("passing"));
      expect(existsSync(blob)).toBe(true);
      expect((await fetch(`${host.url}/files/passing.txt`, { method: "DELETE" })).status).toBe(204);
      for (const deadline = Date.now() + 10_000; existsSync(blob);) {
        if (Date.now() > deadline) throw new Error("timed out waiting for the pass to remove the blob");
        await Bun.sleep(20);
      }
    } finally {
      await host.stop();
    }
  });
});

describe("FileService", () => {
  test("housekeeping runs between start({ housekeeping: true }) and stop, and not again after", async () => {
    const service = new FileService({ ...defaultSettings(scratch("tarsd-service-")), gcIntervalMs: 50 });
    expect(service.housekeeping).toBe(false);
    await service.start({ housekeeping: true });
    expect(service.housekeeping).toBe(true);
    await service.stop();
    expect(service.housekeeping).toBe(false);
    await service.start({ housekeeping: true });
    expect(service.housekeeping).toBe(false);
  });

  test("a reader's service (no housekeeping) prepares the store and schedules nothing", async () => {
    const dataDir = scratch("tarsd-reader-");
    const service = new FileService(defaultSettings(dataDir));
    await service.start();
    expect(service.housekeeping).toBe(false);
    await service.reachable();
    expect(existsSync(join(dataDir, "store", "names"))).toBe(true);
    await service.stop();
  });
});
