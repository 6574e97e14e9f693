// cAdvisor's place on a machine without Docker (tests, `bun run stack`): an exporter that reports the
// runtime replicas started here as if they were the stack's containers, in cAdvisor's own metric
// names and labels, so deploy's container rules (deploy/prometheus/rules/containers.rules.yml) and
// the Containers dashboard get real data through APP 2 exactly as in the swarm:
//   container_cpu_usage_seconds_total     the process' user + system CPU time (/proc/<pid>/stat)
//   container_memory_working_set_bytes    its resident set (/proc/<pid>/status VmRSS)
//   container_network_*_bytes_total       the HTTP bytes it received and sent (its own
//                                         tarsd_function_request/response_bytes_total): processes
//                                         share the host's network, so this is their traffic
// plus, as cAdvisor has it, a root cgroup series without `name` that the rules must leave out.
import { readFileSync } from "node:fs";
// deno-lint-ignore no-sloppy-imports -- plain JS, typed by web/prom.d.ts
import { parseMetrics, select } from "../web/prom.js";

export interface StandInContainer {
  /** Docker's container name, e.g. tarsd_files.1.abc */
  name: string;
  /** The swarm service, e.g. tarsd_files */
  service: string;
  pid: number;
  /** The replica's own /metrics page. */
  metricsUrl: string;
}

export interface CadvisorStandIn {
  url: string;
  stop(): Promise<void>;
}

const CLOCK_TICKS_PER_SECOND = 100; // Linux' USER_HZ: `getconf CLK_TCK`

function cpuSeconds(pid: number): number {
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

function residentBytes(pid: number): number {
  const kib = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kib ?? 0) * 1024;
}

async function httpBytes(metricsUrl: string): Promise<{ received: number; sent: number }> {
  const samples = parseMetrics(await (await fetch(metricsUrl)).text());
  const sum = (name: string) => select(samples, name).reduce((total, s) => total + s.value, 0);
  return { received: sum("tarsd_function_request_bytes_total"), sent: sum("tarsd_function_response_bytes_total") };
}

const label = (value: string) => JSON.stringify(value);

async function exposition(containers: StandInContainer[]): Promise<string> {
  const families: Record<string, { type: string; samples: string[] }> = {
    container_cpu_usage_seconds_total: {
      type: "counter",
      samples: [`{id="/",cpu="total"} ${readFileSync("/proc/uptime", "utf8").split(" ")[0]}`],
    },
    container_memory_working_set_bytes: { type: "gauge", samples: [] },
    container_network_receive_bytes_total: { type: "counter", samples: [] },
    container_network_transmit_bytes_total: { type: "counter", samples: [] },
  };
  for (const c of containers) {
    let cpu: number, memory: number, bytes: { received: number; sent: number };
    try {
      [cpu, memory, bytes] = [cpuSeconds(c.pid), residentBytes(c.pid), await httpBytes(c.metricsUrl)];
    } catch {
      continue; // the replica stopped: its container is gone, as in cAdvisor
    }
    const labels = `id=${label(`/docker/${c.name}`)},name=${label(c.name)},image="tarsd.local/runtime",` +
      `container_label_com_docker_swarm_service_name=${label(c.service)}`;
    families.container_cpu_usage_seconds_total!.samples.push(`{${labels},cpu="total"} ${cpu}`);
    families.container_memory_working_set_bytes!.samples.push(`{${labels}} ${memory}`);
    families.container_network_receive_bytes_total!.samples.push(`{${labels},interface="eth0"} ${bytes.received}`);
    families.container_network_transmit_bytes_total!.samples.push(`{${labels},interface="eth0"} ${bytes.sent}`);
  }
  return Object.entries(families)
    .flatMap(([name, family]) => [`# TYPE ${name} ${family.type}`, ...family.samples.map((s) => name + s)])
    .join("\n") + "\n";
}

/** Serves /metrics on a loopback port the kernel picks; `containers` is asked on every scrape. */
export function startCadvisorStandIn(containers: () => StandInContainer[]): CadvisorStandIn {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      if (new URL(request.url).pathname !== "/metrics") return new Response("not found", { status: 404 });
      return new Response(await exposition(containers()), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}
