// Images the stack names but no registry can give here, built locally under the very names
// deploy/stack.yml and deploy/Dockerfile use, so neither file changes for the test:
//   tarsd.test/debian:bookworm   `docker import` of the root file system `scripts/setup --test` bootstrapped
//   oven/bun:<v>-slim            the base deploy/Dockerfile builds the runtime image on
//   influxdb:2.7                 InfluxDB 1.8.10 (2.x write API and Flux), see standins/influxdb/Dockerfile
//   prom/prometheus, prom/node-exporter   Debian's binaries (Prometheus with its promtool)
//   prom/alertmanager            Debian's prometheus-alertmanager (with its amtool)
//   ghcr.io/google/cadvisor      cAdvisor's exporter built from its own Go library by `scripts/setup --test`
//                                (.tools/bin/cadvisor; tests/vms/standins/cadvisor: source and Dockerfile)
// Grafana has no stand-in here: it can be neither built nor installed (tests/swarm/test-stack.ts leaves it
// out; the VM test has one, tests/vms/standins/grafana).
import { copyFileSync, cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { REPO_ROOT, requireBinary, SETUP_COMMAND } from "../../harness/binaries.ts";
import type { DockerEngine } from "../../harness/docker-engine.ts";

const STANDINS = join(import.meta.dir, "standins");
const ROOTFS_TAR = join(REPO_ROOT, ".tools", "swarm", "bookworm-minbase.tar");
const INFLUXD = join(REPO_ROOT, ".tools", "bin", "influxd");
const CADVISOR = join(REPO_ROOT, ".tools", "bin", "cadvisor");
/** cAdvisor's Dockerfile lives beside its source, which `scripts/setup --test` builds. */
const CADVISOR_STANDIN = join(REPO_ROOT, "tests", "vms", "standins", "cadvisor");
export const BASE_IMAGE = "tarsd.test/debian:bookworm";

/** Image names as deploy/stack.yml spells them (one source: the stack file itself). */
export function stackImages(
  stackYaml: string,
): Record<"influxdb" | "prometheus" | "nodeExporter" | "cadvisor" | "alertmanager", string> {
  const image = (pattern: RegExp) => {
    const found = pattern.exec(stackYaml)?.[1];
    if (!found) throw new Error(`deploy/stack.yml names no image matching ${pattern}`);
    return found;
  };
  return {
    influxdb: image(/image: (influxdb:\S+)/),
    prometheus: image(/image: (prom\/prometheus:\S+)/),
    nodeExporter: image(/image: (prom\/node-exporter:\S+)/),
    cadvisor: image(/image: (ghcr\.io\/google\/cadvisor:\S+)/),
    alertmanager: image(/image: (prom\/alertmanager:\S+)/),
  };
}

/** The bun base tag deploy/Dockerfile builds FROM (its ARG BUN_VERSION). */
export function bunBaseImage(dockerfile: string): string {
  const version = /^ARG BUN_VERSION=(\S+)/m.exec(dockerfile)?.[1];
  if (!version || !/FROM oven\/bun:\$\{BUN_VERSION\}-slim/.test(dockerfile)) {
    throw new Error("deploy/Dockerfile no longer builds FROM oven/bun:${BUN_VERSION}-slim");
  }
  return `oven/bun:${version}-slim`;
}

async function imageExists(engine: DockerEngine, name: string) {
  return (await engine.docker(["image", "inspect", name], { allowFail: true })).code === 0;
}

/** `docker build` of standins/<dir> (or of an absolute directory) with extra files copied into the context. */
export async function buildStandin(engine: DockerEngine, dir: string, tag: string, files: Record<string, string>) {
  const context = mkdtempSync(join(tmpdir(), `tarsd-standin-${basename(dir)}-`));
  try {
    cpSync(resolve(STANDINS, dir), context, { recursive: true });
    for (const [name, source] of Object.entries(files)) copyFileSync(source, join(context, name));
    await engine.docker(["build", "-q", "-t", tag, context], { timeoutMs: 300_000 });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

export async function buildStandinImages(engine: DockerEngine): Promise<void> {
  for (
    const [path, what] of [
      [ROOTFS_TAR, "the Debian root file system"],
      [INFLUXD, "influxd 1.8.10"],
      [CADVISOR, "cAdvisor's exporter built from its Go library"],
    ] as const
  ) {
    if (!existsSync(path)) throw new Error(`${what} is missing (${path}): run \`${SETUP_COMMAND}\` first`);
  }
  if (!(await imageExists(engine, BASE_IMAGE))) {
    await engine.docker(["import", ROOTFS_TAR, BASE_IMAGE], { timeoutMs: 300_000 });
  }
  const stack = await Bun.file(join(REPO_ROOT, "deploy", "stack.yml")).text();
  const images = stackImages(stack);
  const bunBase = bunBaseImage(await Bun.file(join(REPO_ROOT, "deploy", "Dockerfile")).text());
  // The bun binary the tests run is the version scripts/setup pins, the one deploy/Dockerfile names.
  if (!bunBase.includes(`:${Bun.version}-`)) {
    throw new Error(`deploy/Dockerfile builds on ${bunBase} but the tests run bun ${Bun.version}`);
  }
  await buildStandin(engine, "bun", bunBase, {
    bun: process.execPath,
    "ca-certificates.crt": "/etc/ssl/certs/ca-certificates.crt",
  });
  await buildStandin(engine, "influxdb", images.influxdb, { influxd: INFLUXD });
  await buildStandin(engine, "prometheus", images.prometheus, {
    prometheus: requireBinary("prometheus"),
    promtool: requireBinary("promtool"),
  });
  await buildStandin(engine, "node-exporter", images.nodeExporter, {
    node_exporter: requireBinary("prometheus-node-exporter"),
  });
  await buildStandin(engine, CADVISOR_STANDIN, images.cadvisor, { cadvisor: CADVISOR });
  await buildStandin(engine, "alertmanager", images.alertmanager, {
    alertmanager: requireBinary("prometheus-alertmanager"),
    amtool: requireBinary("amtool"),
    "default.tmpl": "/usr/share/prometheus/alertmanager/default.tmpl",
    "email.tmpl": "/usr/share/prometheus/alertmanager/email.tmpl",
  });
}
