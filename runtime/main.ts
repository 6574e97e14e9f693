// Entry point: `bun runtime/main.ts` (`bun run start`). Loads the functions named in FUNCTIONS,
// serves them, and drains gracefully on SIGTERM/SIGINT so rolling updates lose no request.
import { loadConfig, type RuntimeConfig } from "./config.ts";
import { type LoadedFunction, loadFunctions } from "./loader.ts";
import { buildApp, type RuntimeState } from "./app.ts";
import { collectDefaultMetrics, register } from "prom-client";
import { HostMetrics } from "./metrics.ts";
import { log } from "./log.ts";

let config: RuntimeConfig;
let functions: LoadedFunction[];
try {
  config = loadConfig();
  functions = await loadFunctions(config.functionsDir, config.functions);
} catch (err) {
  console.error(`tf-tarsd: cannot start: ${(err as Error).message}`);
  process.exit(1);
}
for (const fn of functions) await fn.module.start?.();

// The process's default registry: the functions' own metrics (built from their settings) are there too.
collectDefaultMetrics({ register });
const metrics = new HostMetrics(register);
const state: RuntimeState = { ready: true, inFlight: 0 };
const app = buildApp(config, functions, state, metrics);
await app.modules; // Plugins that load asynchronously (the web front end) are mounted before the first request.
try {
  app.listen({ port: config.port, hostname: config.host });
} catch (err) {
  console.error(`tf-tarsd: cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`);
  process.exit(1);
}
log({
  msg: "listening",
  // The port actually bound: with PORT=0 the kernel picks one (tests read it from this line).
  url: `http://${config.host}:${app.server?.port ?? config.port}`,
  functions: functions.map(({ name, sha256 }) => ({ name, sha256 })),
});

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  const deadline = Date.now() + config.shutdownGraceMs;
  // Readiness first: the load balancer stops sending new requests within one health-check interval.
  state.ready = false;
  metrics.ready.set(0);
  log({ msg: "draining", signal, inFlight: state.inFlight, drainDelayMs: config.drainDelayMs });
  await Bun.sleep(Math.min(config.drainDelayMs, Math.max(0, deadline - Date.now())));
  // No new connections; requests already in flight (a large upload, say) run to completion.
  void app.server?.stop(false);
  while (state.inFlight > 0 && Date.now() < deadline) await Bun.sleep(25);
  await Promise.all(functions.map((fn) => fn.module.stop?.()));
  log({ msg: "stopped", inFlight: state.inFlight, forced: state.inFlight > 0 });
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
