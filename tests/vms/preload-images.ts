// The images the VMs cannot pull (no registry here), built as the swarm test builds its stand-ins
// (tests/swarm/standin-images.ts) plus Grafana's and cAdvisor's (tests/vms/standins), under the very
// names deploy/stack.yml and deploy/Dockerfile use, and saved into the archive the provisioners
// `docker load` when it exists (.artifacts/preload/*.tar: deploy/vagrant/provision-common.sh).
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, SETUP_COMMAND } from "../../harness/binaries.ts";
import { startDockerEngine } from "../../harness/docker-engine.ts";
import { buildStandin, buildStandinImages, bunBaseImage, stackImages } from "../swarm/standin-images.ts";

export const PRELOAD_ARCHIVE = join(REPO_ROOT, ".artifacts", "preload", "stack-images.tar");
const STANDINS = join(import.meta.dir, "standins");
const CADVISOR = join(REPO_ROOT, ".tools", "bin", "cadvisor");

/** The images deploy/stack.yml names that a registry would give, and deploy/Dockerfile's base. */
export async function preloadImageNames(): Promise<string[]> {
  const stack = await Bun.file(join(REPO_ROOT, "deploy", "stack.yml")).text();
  const image = (pattern: RegExp) => {
    const found = pattern.exec(stack)?.[1];
    if (!found) throw new Error(`deploy/stack.yml names no image matching ${pattern}`);
    return found;
  };
  const { influxdb, prometheus, nodeExporter, alertmanager } = stackImages(stack);
  return [
    bunBaseImage(await Bun.file(join(REPO_ROOT, "deploy", "Dockerfile")).text()),
    influxdb,
    prometheus,
    nodeExporter,
    image(/image: (grafana\/grafana:\S+)/),
    image(/image: (ghcr\.io\/google\/cadvisor:\S+)/),
    alertmanager,
  ];
}

export async function buildPreloadArchive(): Promise<string> {
  if (!existsSync(CADVISOR)) throw new Error(`cAdvisor's stand-in is missing (${CADVISOR}): run \`${SETUP_COMMAND}\``);
  const names = await preloadImageNames();
  const engine = await startDockerEngine();
  try {
    await buildStandinImages(engine);
    await buildStandin(engine, join(STANDINS, "grafana"), names[4]!, {});
    await buildStandin(engine, join(STANDINS, "cadvisor"), names[5]!, { cadvisor: CADVISOR });
    mkdirSync(join(PRELOAD_ARCHIVE, ".."), { recursive: true });
    await engine.docker(["save", "-o", `${PRELOAD_ARCHIVE}.partial`, ...names], { timeoutMs: 600_000 });
    renameSync(`${PRELOAD_ARCHIVE}.partial`, PRELOAD_ARCHIVE);
    return PRELOAD_ARCHIVE;
  } finally {
    await engine.stop();
  }
}

if (import.meta.main) console.log(`saved ${await buildPreloadArchive()}`);
