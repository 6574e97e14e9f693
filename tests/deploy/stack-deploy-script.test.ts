// deploy/stack-deploy against a stand-in `docker` (a script on PATH that logs every call): `docker run`
// of the Prometheus image's promtool (the Alertmanager image's amtool) runs this machine's promtool
// (amtool) on the mounted directory, and `docker stack deploy` keeps what the real `docker stack config`
// renders from the stack file with the environment the script set, and Alertmanager's rendered
// configuration. Run from a copy laid out as the VMs' shared folder (every file 0640).
// The real deploy is in tests/swarm.
import { afterAll, expect, test } from "bun:test";
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireBinary } from "../../harness/binaries.ts";
import { sha256Of } from "../../harness/bundles.ts";
import { tempDir } from "../../harness/runtime-process.ts";
import { copyAsSharedFolder } from "../swarm/shared-folder.ts";
import { fakeDockerDir } from "./fake-docker.ts";

// the rendered stack is free-form
// deno-lint-ignore no-explicit-any
type Any = any;

const FAKE_DOCKER = `#!/usr/bin/env bash
# Minimal docker stand-in for deploy/stack-deploy. State in $FAKE_STATE.
set -euo pipefail
S="$FAKE_STATE"
echo "docker $*" >>"$S/calls.log"
case "$1 $2" in
  "secret inspect") [[ -e "$S/secret-$3" ]] ;;
  "secret create") touch "$S/secret-$3" ;;
  "stack deploy")
    if [[ "$3" == --help ]]; then echo "      --detach   Exit immediately"; exit 0; fi
    args=("$@"); file=""
    for ((i = 0; i < \${#args[@]}; i++)); do [[ "\${args[$i]}" == -c ]] && file="\${args[$((i + 1))]}"; done
    "$FAKE_REAL_DOCKER" stack config -c "$file" >"$S/deployed.yml"
    cp "$TARSD_ALERTMANAGER_CONFIG" "$S/alertmanager.yml" ;;
  "service ls") ;;
  "run --rm")
    shift 2
    mounts=(); entrypoint=""
    while [[ $# -gt 0 ]]; do
      case "$1" in
        --network | --user) shift ;;
        --entrypoint) shift; entrypoint="$1" ;;
        --volume | -v) shift; mounts+=("$1") ;;
        *) break ;;
      esac
      shift
    done
    echo "$1" >"$S/run-image-$entrypoint"
    shift
    case "$entrypoint" in
      promtool) tool="$FAKE_PROMTOOL" ;;
      amtool) tool="$FAKE_AMTOOL" ;;
      *) echo "fake docker: run of $entrypoint" >&2; exit 3 ;;
    esac
    mapped=()
    for arg in "$@"; do
      for m in "\${mounts[@]}"; do src="\${m%%:*}"; rest="\${m#*:}"; dst="\${rest%%:*}"; arg="\${arg/#$dst/$src}"; done
      mapped+=("$arg")
    done
    exec "$tool" "\${mapped[@]}" ;;
  *) echo "fake docker: unsupported: $*" >&2; exit 3 ;;
esac
`;

const copies: string[] = [];
afterAll(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

function setup(alerting: { env?: string; smtpPassword?: string } = {}) {
  const root = copyAsSharedFolder(tempDir("tarsd-shared-"));
  const { dir, bin, state } = fakeDockerDir("tarsd-stack-deploy-", FAKE_DOCKER);
  copies.push(root, dir);
  const secrets = join(dir, "secrets");
  mkdirSync(secrets);
  // The scoped InfluxDB tokens were minted already: no deploy/influx-tokens here.
  for (const bucket of ["containers", "vms"]) {
    for (const action of ["write", "read"]) {
      const name = `tarsd_influx_${bucket}_${action}_token`;
      writeFileSync(join(secrets, `${name}.secret`), `${name}_0123abcd\n`);
    }
  }
  // The operator's alerting settings (none: this machine's /etc/tarsd/alerting.env is not read either).
  const alertingEnv = join(dir, "alerting.env");
  writeFileSync(alertingEnv, alerting.env ?? "");
  if (alerting.smtpPassword !== undefined) {
    writeFileSync(join(secrets, "tarsd_alert_smtp_password"), alerting.smtpPassword);
  }
  const deploy = () => {
    const res = Bun.spawnSync(["bash", join(root, "deploy", "stack-deploy")], {
      env: {
        PATH: `${bin}:${process.env.PATH ?? ""}`,
        HOME: dir,
        FAKE_STATE: state,
        FAKE_REAL_DOCKER: requireBinary("docker"),
        FAKE_PROMTOOL: requireBinary("promtool"),
        FAKE_AMTOOL: requireBinary("amtool"),
        TARSD_ALERTING_ENV: alertingEnv,
        TARSD_ARTIFACTS: join(dir, "artifacts"),
        TARSD_SECRETS_DIR: secrets,
        TARSD_IMAGE: "tarsd.local/runtime:0123456789ab",
      },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 60_000,
    });
    return { code: res.exitCode, out: res.stdout.toString() + res.stderr.toString() };
  };
  const calls = () =>
    (existsSync(join(state, "calls.log")) ? readFileSync(join(state, "calls.log"), "utf8") : "").split("\n");
  const deployed = (): Any => Bun.YAML.parse(readFileSync(join(state, "deployed.yml"), "utf8"));
  const deployedAlertmanagerConfig = () => readFileSync(join(state, "alertmanager.yml"), "utf8");
  return { root, state, deploy, calls, deployed, deployedAlertmanagerConfig };
}

test(
  "deploy/stack-deploy from a shared folder (every file 0640): promtool checks Prometheus' files first, then each file ships as a config named after its sha256",
  () => {
    const t = setup();
    const res = t.deploy();
    expect(res.out).toContain("stack tarsd converged");
    expect(res.code).toBe(0);

    // promtool of the image the stack runs Prometheus from, on deploy/prometheus, before the deploy.
    const stack = t.deployed();
    expect(readFileSync(join(t.state, "run-image-promtool"), "utf8").trim()).toBe(stack.services.prometheus.image);
    const calls = t.calls();
    const check = calls.findIndex((c) => c.includes("--entrypoint promtool"));
    expect(calls[check]).toBe(
      `docker run --rm --network none --user ${process.getuid?.()}:${process.getgid?.()} --entrypoint promtool --volume ${
        join(t.root, "deploy", "prometheus")
      }:/etc/prometheus:ro ${stack.services.prometheus.image} check config /etc/prometheus/prometheus.yml`,
    );
    expect(check).toBeLessThan(calls.findIndex((c) => c.startsWith("docker stack deploy --detach")));

    // Every config of Prometheus and Grafana: the file in this checkout, named after its sha256[:12].
    const monitoring = Object.values(stack.configs as Record<string, Any>).filter((c) =>
      /^tarsd_(prometheus|grafana)_/.test(c.name)
    );
    expect(monitoring.length).toBe(10);
    for (const config of monitoring) {
      expect(config.file.startsWith(join(t.root, "deploy") + "/")).toBe(true);
      expect({ file: config.file, name: config.name }).toEqual({
        file: config.file,
        name: expect.stringMatching(new RegExp(`_${sha256Of(config.file).slice(0, 12)}$`)),
      });
    }
  },
  120_000,
);

test("deploy/stack-deploy stops with promtool's message when a rule file is broken, and deploys nothing", () => {
  const t = setup();
  appendFileSync(
    join(t.root, "deploy", "prometheus", "rules", "vms.rules.yml"),
    "      - record: job_instance:broken:ratio\n        expr: rate(node_cpu_seconds_total[5m]\n",
  );
  const res = t.deploy();
  expect(res.code).not.toBe(0);
  expect(res.out).toContain("vms.rules.yml");
  expect(res.out).toContain("unclosed left parenthesis");
  expect(res.out).toContain("promtool check config failed");
  expect(t.calls().filter((c) => c.startsWith("docker stack deploy") && !c.includes("--help"))).toEqual([]);
  expect(t.calls().filter((c) => c.startsWith("docker secret"))).toEqual([]);
}, 120_000);

test(
  "deploy/stack-deploy renders Alertmanager's configuration with the operator's notifiers, checks it with the image's amtool, and ships it named after its sha256; the SMTP password only as a secret",
  () => {
    // Without settings: the configuration as it is (no notifier), the password's placeholder secret.
    const plain = setup();
    const first = plain.deploy();
    expect(first.out).toContain("stack tarsd converged");
    expect(first.code).toBe(0);
    const plainStack = plain.deployed();
    expect(plain.deployedAlertmanagerConfig()).toBe(
      readFileSync(join(plain.root, "deploy", "alertmanager", "alertmanager.yml"), "utf8"),
    );
    expect(plainStack.configs.alertmanager_config.name).toBe(
      `tarsd_alertmanager_config_${sha256Of(join(plain.state, "alertmanager.yml")).slice(0, 12)}`,
    );
    expect(plainStack.secrets.tarsd_alert_smtp_password.name).toBe("tarsd_alert_smtp_password_unset");
    expect(plain.calls().filter((c) => c.startsWith("docker secret create tarsd_alert_smtp_password"))).toEqual([
      expect.stringMatching(
        /^docker secret create tarsd_alert_smtp_password_unset \/\S+\/tarsd_alert_smtp_password_unset$/,
      ),
    ]);

    // With a settings file and an SMTP password.
    const password = "hunter2-smtp";
    const t = setup({
      env: [
        "# alerting for the stack",
        "TARSD_ALERT_WEBHOOK_URL=https://hooks.example.org/services/T0/B0/xyz",
        'TARSD_ALERT_EMAIL_TO="ops@example.org"',
        "TARSD_ALERT_EMAIL_FROM=alertmanager@example.org",
        "TARSD_ALERT_EMAIL_SMARTHOST=smtp.example.org:587",
        "TARSD_ALERT_EMAIL_USERNAME=alertmanager",
        "",
      ].join("\n"),
      smtpPassword: `${password}\n`,
    });
    const res = t.deploy();
    expect(res.out).toContain("stack tarsd converged");
    expect(res.code).toBe(0);
    const stack = t.deployed();
    const config = t.deployedAlertmanagerConfig();
    expect(config).toContain('      - url: "https://hooks.example.org/services/T0/B0/xyz"');
    expect(config).toContain('      - to: "ops@example.org"');
    expect(config).toContain('        auth_password_file: "/run/secrets/tarsd_alert_smtp_password"');
    expect(config).not.toContain(password);
    expect(stack.configs.alertmanager_config.name).toBe(
      `tarsd_alertmanager_config_${sha256Of(join(t.state, "alertmanager.yml")).slice(0, 12)}`,
    );
    expect(stack.configs.alertmanager_config.name).not.toBe(plainStack.configs.alertmanager_config.name);
    // The password, without its trailing newline, as a secret named after a hash of it.
    const secret = `tarsd_alert_smtp_password_${
      new Bun.CryptoHasher("sha256").update(password).digest("hex").slice(0, 8)
    }`;
    expect(stack.secrets.tarsd_alert_smtp_password.name).toBe(secret);
    expect(t.calls()).toContain(`docker secret create ${secret} -`);
    expect(stack.services.alertmanager.secrets.map((s: Any) => s.source)).toEqual([
      "tarsd_alert_smtp_password",
    ]);
    expect(JSON.stringify(stack)).not.toContain(password);

    // amtool of the image the stack runs Alertmanager from, on the rendered file, before the deploy.
    const calls = t.calls();
    const check = calls.findIndex((c) => c.includes("--entrypoint amtool"));
    expect(readFileSync(join(t.state, "run-image-amtool"), "utf8").trim()).toBe(stack.services.alertmanager.image);
    expect(calls[check]).toMatch(
      new RegExp(
        `^docker run --rm --network none --user \\d+:\\d+ --entrypoint amtool --volume \\S+/alertmanager:/etc/alertmanager:ro ${
          stack.services.alertmanager.image.replaceAll(".", "\\.")
        } check-config /etc/alertmanager/alertmanager\\.yml$`,
      ),
    );
    expect(check).toBeLessThan(calls.findIndex((c) => c.startsWith("docker stack deploy --detach")));
  },
  240_000,
);

test(
  "deploy/stack-deploy stops with render-config's reason when the alerting settings cannot work, and deploys nothing",
  () => {
    const t = setup({ env: "TARSD_ALERT_EMAIL_TO=ops@example.org\n" });
    const res = t.deploy();
    expect(res.code).not.toBe(0);
    expect(res.out).toContain("TARSD_ALERT_EMAIL_FROM (the sender address) is missing");
    expect(t.calls().filter((c) => c.startsWith("docker stack deploy") && !c.includes("--help"))).toEqual([]);
    expect(t.calls().filter((c) => c.startsWith("docker secret"))).toEqual([]);
  },
  120_000,
);
