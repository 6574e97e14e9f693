// Builds the Elysia server around the loaded functions. Each declared route is mounted with
// `parse: 'none'` and handed the untouched web Request, so bodies stream straight to the function
// (Elysia's `.mount()` rewrites URLs and buffered whole bodies; its multipart parsing buffers too).
// The host adds what every route shares: metrics, draining, one log line; each route's `handle`
// (the SDK's contract) applies its body limit and auth and answers errors as JSON.
import { basename } from "node:path";
import { Elysia } from "elysia";
import {
  type BodyMeter,
  cleanlyDecoded,
  errorResponse,
  type MountedRoute,
  type Params,
  routeTable,
  toErrorResponse,
  withHeaders,
} from "@tarsd/sdk";
import type { RuntimeConfig } from "./config.ts";
import type { LoadedFunction } from "./loader.ts";
import type { HostMetrics } from "./metrics.ts";
import { log } from "./log.ts";
import { readinessChecks } from "./readiness.ts";
import { alertsHandler } from "./alerts.ts";
import { webPlugin } from "./web.ts";

/** What Bun's router adds to a request it routed natively (Elysia mounts its routes there). */
type BunRequest = Request & { params?: Params };

export interface RuntimeState {
  ready: boolean;
  inFlight: number;
}

export function buildApp(
  config: RuntimeConfig,
  functions: LoadedFunction[],
  state: RuntimeState,
  metrics: HostMetrics,
) {
  const { registry } = metrics;
  const app = new Elysia({
    // Bun cuts off bodies over its own limit before any handler runs, with a bare 413 and no reason.
    // Every route enforces its own instead (wrap below), with a JSON reason.
    // Elysia asks Bun for SO_REUSEPORT, with which a second runtime started on the same port shares
    // it silently, each answering some of the requests; a port in use must be an error instead.
    serve: { maxRequestBodySize: Number.MAX_SAFE_INTEGER, idleTimeout: 120, reusePort: false },
  });

  // Draining: a caller that keeps its connection open would send its next request here after this
  // replica is gone from the service (swarm takes it out of DNS and the VIP before SIGTERM); telling
  // it to close makes it connect again, to a replica that is ready. Done on the functions' answers and
  // the runtime's own, not in an Elysia onRequest hook: a hook makes Elysia build every request's URL
  // (bench/NOTES.md). The page's static files are not marked: a browser whose kept-alive connection closes at stop retries a GET.
  const closingIfDraining = (response: Response) =>
    state.ready ? response : withHeaders(response, { connection: "close" });

  app.get("/healthz", () => closingIfDraining(Response.json({ status: "alive" })));
  const unready = readinessChecks(functions, config.readyTimeoutMs);
  app.get("/readyz", async () => {
    if (!state.ready) return closingIfDraining(Response.json({ status: "draining" }, { status: 503 }));
    const functions = await unready();
    if (Object.keys(functions).length > 0) return Response.json({ status: "unavailable", functions }, { status: 503 });
    return Response.json({ status: "ready" });
  });
  app.get(
    "/metrics",
    async () =>
      closingIfDraining(new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } })),
  );
  app.get("/functions", () =>
    closingIfDraining(Response.json(
      functions.map(({ name, file, sha256, module }) => ({
        name,
        file: basename(file), // <name>.js: the deployed bundle; <name>.ts: the source, run from a checkout
        sha256,
        routes: module.routes.map(({ method, path, summary }) => ({ method, path, summary })),
      })),
    )));
  // The stack's firing alerts, from Alertmanager (ALERTMANAGER_URL), for the status page.
  const alerts = alertsHandler(config.alertmanagerUrl);
  app.get("/alerts", async () => closingIfDraining(await alerts()));

  // The page, /openapi.json and /docs (async: resolved by `await app.modules` before listening).
  app.use(webPlugin(functions));

  metrics.ready.set(state.ready ? 1 : 0);
  for (const fn of functions) {
    metrics.functionInfo.set({ function: fn.name, sha256: fn.sha256 }, 1);
    for (const route of fn.module.routes) {
      const handle = wrap(fn, route, config.logRequests, state, closingIfDraining, metrics);
      app.route(
        route.method,
        route.path,
        // The client's address is only for the request log.
        ({ request, server }) => handle(request, config.logRequests ? server?.requestIP(request)?.address : undefined),
        {
          parse: "none",
        },
      );
    }
  }

  // What Elysia's router did not match: the one 404/405 decision (runtime/http/route-table.ts), over
  // everything mounted, so a known path with an unknown method gets 405 (with Allow), not 404.
  const runtimeRoutes = ["/healthz", "/readyz", "/metrics", "/functions", "/alerts"].map((path) => ({
    method: "GET",
    path,
  }));
  const table = routeTable([...runtimeRoutes, ...functions.flatMap((fn) => fn.module.routes)]);
  app.onError(({ code, request, error }) => closingIfDraining(unrouted(code, request, error)));
  function unrouted(code: unknown, request: Request, error: unknown): Response {
    if (code !== "NOT_FOUND") return toErrorResponse(error);
    try {
      const found = table.lookup(request.method, new URL(request.url).pathname);
      // Elysia routes every mounted method and path, so the table finds no route here; were it to,
      // the request is still refused rather than handled outside the host's limits and metrics.
      return "response" in found ? found.response : errorResponse(405, `method ${request.method} not allowed`);
    } catch (err) {
      return toErrorResponse(err); // a path segment that is not valid percent-encoding
    }
  }

  return app;
}

function wrap(
  fn: LoadedFunction,
  route: MountedRoute,
  logRequests: boolean,
  state: RuntimeState,
  closingIfDraining: (response: Response) => Response,
  hostMetrics: HostMetrics,
) {
  const metrics = hostMetrics.route({ function: fn.name, method: route.method, route: route.path });
  return async (request: Request, ip: string | undefined): Promise<Response> => {
    const started = performance.now();
    // Bun's router found the route (Elysia mounts its routes there) and decoded its params
    // leniently: they are passed on only when clean; otherwise the route decodes its URL itself,
    // strictly (a bad percent-encoding is a 400).
    const params = cleanlyDecoded((request as BunRequest).params);
    const body: BodyMeter = { bytes: 0 };
    state.inFlight++;
    let response: Response;
    try {
      // The route applies its body limit, checks auth and turns errors into their JSON answers:
      // `handle` never throws.
      response = await route.handle(request, params, body);
    } finally {
      state.inFlight--;
    }
    const seconds = (performance.now() - started) / 1000;
    const bytesOut = Number(response.headers.get("content-length") ?? "0") || 0;
    metrics.observe(response.status, seconds, body.bytes, bytesOut);
    response = closingIfDraining(response);
    if (logRequests) {
      log({
        function: fn.name,
        method: request.method,
        path: new URL(request.url).pathname,
        route: route.path,
        status: response.status,
        ms: Math.round(seconds * 1000 * 10) / 10,
        bytes_in: body.bytes,
        bytes_out: bytesOut,
        ip,
      });
    }
    return response;
  };
}
