// A runtime in the test's own process: the host (runtime/app.ts) over function modules the test built
// from its own settings, on a loopback port. What a replica does, minus the process: tests try another
// setting by building another function, not by spawning `bun runtime/main.ts` (runtime-process.ts),
// which stays for what needs a process (signals, curl, Chromium, Deno, replicas, the swarm).
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Registry } from "prom-client";
import type { FunctionModule } from "@tarsd/sdk";
import { buildApp, type RuntimeState } from "../runtime/app.ts";
import { loadConfig, type RuntimeConfig } from "../runtime/config.ts";
import type { LoadedFunction } from "../runtime/loader.ts";
import { HostMetrics } from "../runtime/metrics.ts";
import { REPO_ROOT } from "./binaries.ts";

export interface InProcessRuntime {
  url: string;
  /** The registry the host's metrics are on (pass it to functions so theirs are served too). */
  registry: Registry;
  state: RuntimeState;
  /** Stops listening (in-flight requests are cut) and stops every function. */
  stop(): Promise<void>;
}

/** A fresh registry per runtime: two in one process never share a series. */
export const newRegistry = () => new Registry();

/**
 * Serves `functions` (name -> module) as a replica would: started, mounted by the host, on 127.0.0.1
 * at a port the kernel picks. Give `registry` when the functions were built with one.
 */
export async function startInProcess(
  functions: Record<string, FunctionModule>,
  options: { config?: Partial<RuntimeConfig>; registry?: Registry } = {},
): Promise<InProcessRuntime> {
  const loaded: LoadedFunction[] = Object.entries(functions).map(([name, module]) => {
    const file = join(REPO_ROOT, "functions", `${name}.ts`);
    const source = existsSync(file) ? readFileSync(file) : name;
    return { name, file, sha256: createHash("sha256").update(source).digest("hex"), module };
  });
  for (const fn of loaded) await fn.module.start();
  const registry = options.registry ?? newRegistry();
  const config: RuntimeConfig = { ...loadConfig(), logRequests: false, ...options.config };
  const state: RuntimeState = { ready: true, inFlight: 0 };
  const app = buildApp(config, loaded, state, new HostMetrics(registry));
  await app.modules;
  app.listen({ port: 0, hostname: "127.0.0.1" });
  const url = `http://127.0.0.1:${app.server!.port}`;
  return {
    url,
    registry,
    state,
    async stop() {
      await app.server?.stop(true);
      await Promise.all(loaded.map((fn) => fn.module.stop()));
    },
  };
}
