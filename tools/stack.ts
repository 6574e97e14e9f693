// `bun run stack`: the whole monitored system on one machine, for anyone without the VMs.
//   node-exporter, VictoriaMetrics (standing in for both InfluxDB 2 instances: it speaks
//   /api/v2/write), APP 1 x3 (upload,download on one shared DATA_DIR), APP 2 (remote-write ->
//   bucket "containers"), APP 3 (remote-write -> bucket "vms"), and Prometheus loading every
//   deploy/prometheus/rules/*.rules.yml with remote_write to APP 2 / APP 3 as in deploy/.
// All on 127.0.0.1 free ports; prints the URLs; Ctrl-C stops every child.
//   --fast   evaluate rule groups every 1 s instead of deploy's intervals (scrapes are 1 s anyway)
import { join } from "node:path";
import { type Child } from "../harness/child-process.ts";
import {
  hostPort,
  ruleFiles,
  startNodeExporter,
  startPrometheus,
  startRemoteWriteApp,
  startVictoriaMetrics,
  withRuleInterval,
} from "../harness/pipeline.ts";
import { type RuntimeProcess, startRuntime, tempDir } from "../harness/runtime-process.ts";

const fast = process.argv.includes("--fast");
const stoppers: (() => Promise<unknown>)[] = [];

async function stopAll(code: number): Promise<never> {
  console.log("\nstopping...");
  for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
  process.exit(code);
}
process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

try {
  const vm = await startVictoriaMetrics();
  stoppers.push(() => vm.stop());
  const node = await startNodeExporter();
  stoppers.push(() => node.stop());

  const filesDir = tempDir("tarsd-stack-files-");
  const app1: RuntimeProcess[] = [];
  for (let i = 0; i < 3; i++) {
    const replica = await startRuntime({ FUNCTIONS: "upload,download", DATA_DIR: filesDir });
    stoppers.push(() => replica.stop());
    app1.push(replica);
  }
  const app2 = await startRemoteWriteApp(vm.url, "containers", "containers-token");
  stoppers.push(() => app2.runtime.stop());
  const app3 = await startRemoteWriteApp(vm.url, "vms", "vms-token");
  stoppers.push(() => app3.runtime.stop());

  const rules = fast ? withRuleInterval(ruleFiles(), "1s", join(tempDir("tarsd-stack-rules-"), "rules")) : ruleFiles();
  const prom: Child = await startPrometheus({
    nodeExporters: [hostPort(node.url)],
    functions: [...app1.map((r) => hostPort(r.url)), hostPort(app2.runtime.url), hostPort(app3.runtime.url)],
    rules,
    remoteWrites: [
      { name: "app2-containers", url: app2.writeUrl, token: app2.token, keep: "job_container:.+" },
      { name: "app3-vms", url: app3.writeUrl, token: app3.token, keep: "job_instance:.+" },
    ],
  });
  stoppers.push(() => prom.stop());

  console.log(`
TF-TARSD stack is up (Ctrl-C stops everything)${fast ? " — rule groups every 1 s" : ""}

  APP 1 (upload, download)  ${app1.map((r) => r.url).join("  ")}   files in ${filesDir}
  APP 2 (remote-write)      ${app2.writeUrl}   bucket "containers", token ${app2.token}
  APP 3 (remote-write)      ${app3.writeUrl}   bucket "vms", token ${app3.token}
  Prometheus                ${prom.url}   rules: ${rules.length} files from deploy/prometheus/rules (+ cAdvisor stand-in)
  node-exporter             ${node.url}/metrics
  VictoriaMetrics (InfluxDB 2 stand-in)  ${vm.url}/vmui   e.g. ${vm.url}/api/v1/export?match[]={__name__=~"job_.*"}

  Try: curl -X POST -F "file=@README.md" ${app1[0]!.url}/upload && curl ${app1[1]!.url}/files
`);
  await new Promise(() => {});
} catch (err) {
  console.error(String((err as Error)?.stack ?? err));
  await stopAll(1);
}
