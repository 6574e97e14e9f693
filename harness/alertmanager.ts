// Alertmanager as the stack runs it, on this machine: deploy's own configuration, rendered by
// deploy/alertmanager/render-config exactly as deploy/stack-deploy renders it (the operator's notifiers
// from TARSD_ALERT_* variables), and Debian's Alertmanager (prometheus-alertmanager, 0.25; the stack
// runs the prom/alertmanager image) on a loopback port the kernel gives it, clustering off as in the
// stack, with a data directory of its own: Debian's own service, if it runs, is left alone.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, requireBinary } from "./binaries.ts";
import { type Child, spawnChild } from "./child-process.ts";
import { tempDir } from "./runtime-process.ts";

export const ALERTMANAGER_TEMPLATE = join(REPO_ROOT, "deploy", "alertmanager", "alertmanager.yml");
export const RENDER_CONFIG = join(REPO_ROOT, "deploy", "alertmanager", "render-config");

/**
 * Runs deploy/alertmanager/render-config with `settings` (TARSD_ALERT_* variables) as its only
 * settings: never this machine's /etc/tarsd/alerting.env unless `settings.TARSD_ALERTING_ENV` names
 * it. Returns the rendered file's path; throws with the script's message when it refuses.
 */
export function renderAlertmanagerConfig(
  out: string,
  settings: Record<string, string> = {},
  options: { smtpPasswordFile?: string } = {},
): string {
  const args = options.smtpPasswordFile ? ["--smtp-password-file", options.smtpPasswordFile] : [];
  const res = Bun.spawnSync(["bash", RENDER_CONFIG, ...args, out], {
    env: { PATH: process.env.PATH ?? "", TARSD_ALERTING_ENV: "/dev/null", ...settings },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  if (res.exitCode !== 0) {
    throw new Error(`render-config failed (${res.exitCode}): ${res.stderr.toString()}`);
  }
  return out;
}

export interface NotificationTimings {
  groupWait?: string;
  groupInterval?: string;
  repeatInterval?: string;
}

/**
 * The rendered configuration with its route's notification timings replaced, and nothing else (the
 * stack waits 30 s before a group's first notification and 5 min before telling of a change, a
 * resolution among them; a test wants both within seconds). Each key must be there exactly once.
 */
export function withNotificationTimings(yaml: string, timings: NotificationTimings): string {
  const keys: [keyof NotificationTimings, string][] = [
    ["groupWait", "group_wait"],
    ["groupInterval", "group_interval"],
    ["repeatInterval", "repeat_interval"],
  ];
  let text = yaml;
  for (const [option, key] of keys) {
    const value = timings[option];
    if (value === undefined) continue;
    const pattern = new RegExp(`^(\\s*)${key}:\\s*\\S+\\s*$`, "gm");
    const found = text.match(pattern)?.length ?? 0;
    if (found !== 1) throw new Error(`the Alertmanager configuration has ${found} '${key}:' lines, not one`);
    text = text.replace(pattern, `$1${key}: ${value}`);
  }
  return text;
}

/** Rewrites a rendered configuration file in place with `timings` (withNotificationTimings). */
export function applyNotificationTimings(file: string, timings: NotificationTimings): string {
  writeFileSync(file, withNotificationTimings(readFileSync(file, "utf8"), timings), { mode: 0o600 });
  return file;
}

/** Debian's Alertmanager with `configFile`, a data directory of its own, no cluster; ready at /-/ready. */
export async function startAlertmanager(configFile: string): Promise<Child & { dataDir: string }> {
  const bin = requireBinary("prometheus-alertmanager");
  const dataDir = tempDir("tarsd-alertmanager-");
  const child = await spawnChild(
    "alertmanager",
    [
      bin,
      `--config.file=${configFile}`,
      `--storage.path=${dataDir}`,
      "--web.listen-address=127.0.0.1:0",
      // one instance, as in the stack: no gossip (its default port, 9094, may be Debian's own service's)
      "--cluster.listen-address=",
      "--log.level=warn",
    ],
    "/-/ready",
  );
  return { ...child, dataDir };
}
