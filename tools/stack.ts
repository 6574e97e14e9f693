// `bun run stack`: the whole monitored system on one machine, for anyone without the VMs.
//   node-exporter, the cAdvisor stand-in (harness/cadvisor-standin.ts), two InfluxDB servers as the stack has them (InfluxDB 1.8.10 with its 2.x write API
//   and Flux: harness/influxdb.ts; `bash scripts/setup --test` builds it), APP 1 x3 (upload,download
//   on one shared DATA_DIR), APP 2 (remote-write -> InfluxDB "containers"), APP 3 (remote-write ->
//   InfluxDB "vms"), and Prometheus loading every deploy/prometheus/rules/*.rules.yml with
//   remote_write to APP 2 / APP 3 as in deploy/.
// All on 127.0.0.1, on the ports the kernel gives; prints the URLs; Ctrl-C stops every child.
//   --fast   evaluate rule groups every 1 s instead of deploy's intervals (scrapes are 1 s anyway)
import { startInfluxDb } from "../harness/influxdb.ts";
import { startPipeline } from "../harness/pipeline.ts";
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
  const influxContainers = await startInfluxDb({ databases: ["containers"] });
  stoppers.push(() => influxContainers.stop());
  const influxVms = await startInfluxDb({ databases: ["vms"] });
  stoppers.push(() => influxVms.stop());
  const filesDir = tempDir("tarsd-stack-files-");
  const app1: RuntimeProcess[] = [];
  for (let i = 0; i < 3; i++) {
    const replica = await startRuntime({ FUNCTIONS: "upload,download", DATA_DIR: filesDir });
    stoppers.push(() => replica.stop());
    app1.push(replica);
  }
  const pipeline = await startPipeline({
    influx: { containers: influxContainers, vms: influxVms },
    ruleInterval: fast ? "1s" : undefined,
    services: { tarsd_files: app1 },
  });
  stoppers.push(() => pipeline.stop());
  const { app2, app3, prom, node, cadvisor } = pipeline;

  console.log(`
TF-TARSD stack is up (Ctrl-C stops everything)${fast ? " — rule groups every 1 s" : ""}

  APP 1 (upload, download)  ${app1.map((r) => r.url).join("  ")}   files in ${filesDir}
  APP 2 (remote-write)      ${app2.writeUrl}   bucket "containers", token ${app2.token}
  APP 3 (remote-write)      ${app3.writeUrl}   bucket "vms", token ${app3.token}
  Prometheus                ${prom.url}   rules: deploy/prometheus/rules
  node-exporter             ${node.url}/metrics
  cAdvisor stand-in         ${cadvisor.url}/metrics   (the replicas above as containers)
  InfluxDB containers       ${influxContainers.url}   Flux: curl -H 'Content-Type: application/vnd.flux' ${influxContainers.url}/api/v2/query -d 'from(bucket:"containers") |> range(start:-5m)'
  InfluxDB vms              ${influxVms.url}   e.g. curl '${influxVms.url}/query?db=vms' --data-urlencode 'q=SHOW MEASUREMENTS'
  Grafana's dashboards (deploy/grafana/dashboards) query these two; \`bun test tests/deploy/dashboards.test.ts\` renders them

  Try: curl -X POST -F "file=@README.md" ${app1[0]!.url}/upload && curl ${app1[1]!.url}/files
`);
  await new Promise(() => {});
} catch (err) {
  console.error(String((err as Error)?.stack ?? err));
  await stopAll(1);
}
