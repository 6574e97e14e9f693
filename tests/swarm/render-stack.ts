// deploy/stack.yml as `docker stack config` renders it, with the variables deploy/stack-deploy sets:
// the function bundles and their content ids (the first 12 hex digits of each bundle's sha256), the
// same ids of Prometheus' and Grafana's files and of Alertmanager's rendered configuration, the image.
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { renderAlertmanagerConfig } from "../../harness/alertmanager.ts";
import { REPO_ROOT, requireBinary } from "../../harness/binaries.ts";
import { repositoryFunctionBundles, sha256Of } from "../../harness/bundles.ts";
import { tempDir } from "../../harness/runtime-process.ts";

export const DEPLOY_DIR = join(REPO_ROOT, "deploy");
export const STACK_FILE = join(DEPLOY_DIR, "stack.yml");

export const functionConfigId = (name: string) => repositoryFunctionBundles().sha256(name).slice(0, 12);

/** Every file under deploy/prometheus and deploy/grafana, as paths relative to deploy/. */
export function monitoringFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(DEPLOY_DIR, path));
    }
  };
  walk(join(DEPLOY_DIR, "prometheus"));
  walk(join(DEPLOY_DIR, "grafana"));
  return out.sort();
}

/** The variable deploy/stack-deploy gives a file's content id: prometheus/rules/vms.rules.yml -> CONFIG_ID_PROMETHEUS_RULES_VMS_RULES_YML. */
export const configIdVariable = (path: string) => `CONFIG_ID_${path.toUpperCase().replaceAll(/[^A-Z0-9_]/g, "_")}`;

/** The first 12 hex digits of the sha256 of deploy/<path>. */
export const fileConfigId = (path: string) => sha256Of(join(DEPLOY_DIR, path)).slice(0, 12);

let alertmanagerConfig: string | undefined;
/** Alertmanager's configuration as deploy/stack-deploy renders it with no TARSD_ALERT_* set (rendered once). */
export function defaultAlertmanagerConfig(): string {
  alertmanagerConfig ??= renderAlertmanagerConfig(join(tempDir("tarsd-alertmanager-config-"), "alertmanager.yml"));
  return alertmanagerConfig;
}

export function stackEnv(env: Record<string, string> = {}): Record<string, string> {
  return {
    TARSD_BUNDLES_DIR: repositoryFunctionBundles().functionsDir,
    FN_UPLOAD_ID: functionConfigId("upload"),
    FN_DOWNLOAD_ID: functionConfigId("download"),
    FN_REMOTE_WRITE_ID: functionConfigId("remote-write"),
    ...Object.fromEntries(monitoringFiles().map((path) => [configIdVariable(path), fileConfigId(path)])),
    TARSD_ALERTMANAGER_CONFIG: defaultAlertmanagerConfig(),
    CONFIG_ID_ALERTMANAGER_ALERTMANAGER_YML: sha256Of(defaultAlertmanagerConfig()).slice(0, 12),
    TARSD_IMAGE: "tarsd.local/runtime:0123456789ab",
    ...env,
  };
}

/** `docker stack config` of deploy/stack.yml, parsed; throws with docker's message when it refuses. */
// a compose file is free-form
// deno-lint-ignore no-explicit-any
export function renderStack(env: Record<string, string> = {}): any {
  const res = Bun.spawnSync([requireBinary("docker"), "stack", "config", "-c", STACK_FILE], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...stackEnv(env) },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  if (res.exitCode !== 0 || res.stderr.length > 0) {
    throw new Error(`docker stack config failed (${res.exitCode}): ${res.stderr}`);
  }
  return Bun.YAML.parse(res.stdout.toString());
}
