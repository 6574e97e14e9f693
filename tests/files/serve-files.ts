// The file service in the test's process: the upload and download functions built from settings (a
// temporary data directory unless one is given) and served through the real host on a loopback port.
import { rmSync } from "node:fs";
import { downloadFunction } from "../../functions/download.ts";
import { uploadFunction } from "../../functions/upload.ts";
import { type InProcessRuntime, startInProcess } from "../../harness/in-process.ts";
import { tempDir } from "../../harness/runtime-process.ts";
import { DEFAULT_MAX_UPLOAD_BYTES, type FileServiceSettings } from "../../lib/files/settings.ts";

/** The settings fileServiceSettingsFromEnv gives with no variable set, but for the data directory. */
export const defaultSettings = (dataDir: string): FileServiceSettings => ({
  dataDir,
  maxUploadBytes: DEFAULT_MAX_UPLOAD_BYTES,
  token: undefined,
  gcIntervalMs: 600_000,
  gcGraceMs: 3_600_000,
  uploadExpiryMs: 86_400_000,
});

export interface FileHost extends InProcessRuntime {
  dataDir: string;
  settings: FileServiceSettings;
}

/** Serves upload and download over `overrides` (a fresh temporary data directory unless given). */
export async function serveFiles(overrides: Partial<FileServiceSettings> = {}): Promise<FileHost> {
  const settings = { ...defaultSettings(overrides.dataDir ?? tempDir("tarsd-files-")), ...overrides };
  const runtime = await startInProcess({ upload: uploadFunction(settings), download: downloadFunction(settings) });
  return { ...runtime, dataDir: settings.dataDir, settings };
}

/** Stops the hosts, then removes their data directories. */
export async function stopAll(hosts: (FileHost | undefined)[]): Promise<void> {
  const present = hosts.filter((host) => host !== undefined);
  await Promise.all(present.map((host) => host.stop()));
  for (const dir of new Set(present.map((host) => host.dataDir))) rmSync(dir, { recursive: true, force: true });
}
