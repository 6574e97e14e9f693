// How slow file creation is on the disk under TMPDIR, measured right before and after the upload rows.
import { closeSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";

export interface DiskProbe {
  tmpdir: string;
  fileCreateMicros: { beforeUploads: number; afterUploads: number };
}

/**
 * Mean µs to create an empty file in a new directory under `dir` (200 files, kept until cleanup:
 * removing them would free inodes, the very thing that slows file creation on ext4 without a
 * journal). The upload rows make files and the seed does not, so this is read beside their ratio.
 */
export function fileCreateMicros(dir: string, label: string): number {
  const probe = join(dir, `create-probe-${label}`);
  mkdirSync(probe);
  const started = performance.now();
  for (let i = 0; i < 200; i++) closeSync(openSync(join(probe, String(i)), "wx"));
  return (performance.now() - started) * 1000 / 200;
}
