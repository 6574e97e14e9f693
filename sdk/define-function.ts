// The function contract. A function file default-exports `defineFunction({...})`: an object with
// a web-standard `fetch(request)` (so `deno serve functions/x.ts` serves it unmodified) and the
// list of routes it answers (so the Bun runtime can mount exactly those, and document them).
//
// `fetch` relies on `request` alone: the second argument means something different on every
// runtime (Deno: connection info, Bun: the server, Workers: env), so a function reads its
// configuration from its environment once, when it loads, and passes it in here.
import { requireBearer } from "./auth.ts";
import { withHeaders } from "./response-headers.ts";
import { toErrorResponse } from "./errors.ts";
import { type BodyMeter, limitBody } from "./body.ts";
import { compilePath, type Params, routeTable } from "./route-table.ts";

export type Handler = (request: Request, params: Params) => Response | Promise<Response>;

export interface Route {
  method: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS";
  /** Elysia-style path: literal segments and `:param` segments. */
  path: string;
  handler: Handler;
  /** One line for the API docs. */
  summary: string;
  /** Whether the bearer token is required; defaults to true for every method but GET, HEAD and OPTIONS. */
  auth?: boolean;
  /** OpenAPI fragments (request body, responses) for /openapi.json. */
  openapi?: Record<string, unknown>;
  /**
   * The largest body this route takes, in bytes, as its users configure it (MAX_UPLOAD_BYTES,
   * REMOTE_WRITE_MAX_BYTES). `handle` answers 413 above it: before the handler runs when
   * Content-Length says so, and as soon as a chunked body passes it. Default: DEFAULT_MAX_BODY_BYTES.
   */
  maxBodyBytes?: number;
  /** Room for framing around that limit (multipart boundaries and part headers); not in the 413 reason. */
  bodyOverheadBytes?: number;
  /**
   * Headers on every answer of this route, the contract's own (401, errors) included, unless the
   * answer sets them itself: what a protocol requires of all its responses (tus: Tus-Resumable).
   */
  responseHeaders?: Record<string, string>;
}

/** The body limit of a route that declares none (forms, small JSON). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export type RouteInfo = Omit<Route, "handler">;

export interface MountedRoute extends RouteInfo {
  /**
   * Answers a request routed here (by the host's router or by `fetch`): its body limit applied (413),
   * its params decoded strictly from the URL (a bad percent-encoding is a 400), the bearer token
   * checked, the handler run, any error turned into its JSON answer, and `observe` shown the result.
   * `meter`, when given, is told how many body bytes arrived. Never throws.
   */
  handle(request: Request, params?: Params, meter?: BodyMeter): Promise<Response>;
}

export interface FunctionModule {
  routes: MountedRoute[];
  /** Component schemas the routes' OpenAPI fragments refer to (`ref(name)`), by name. */
  schemas: Record<string, unknown>;
  /** The whole function on its own (deno serve): the same routes, through the one route table. */
  fetch(request: Request): Promise<Response>;
  /** One-time preparation (e.g. clean leftovers); the runtime awaits it before listening. */
  start(): Promise<void>;
  /** Resolves when the function can serve; rejects with the reason, or hangs, when it cannot. */
  ready(): Promise<void>;
  /** Ends what `start` began (timers, open handles); the host calls it once requests have drained. */
  stop(): Promise<void>;
}

export interface FunctionDefinition {
  routes: Route[];
  /** OpenAPI component schemas the routes' fragments refer to with `ref(name)`; `Error` is the SDK's. */
  schemas?: Record<string, unknown>;
  /** Runs once, before the first request is handled; under `deno serve` on the first request. */
  start?: () => void | Promise<void>;
  /**
   * Whether the function can serve now, asked by the host's /readyz (which bounds how long it waits):
   * throws with the reason when not, e.g. when the storage it needs does not answer.
   */
  ready?: () => void | Promise<void>;
  /** Ends what `start` began (a periodic pass, say); called at most once, after the last request. */
  stop?: () => void | Promise<void>;
  /**
   * The bearer token the routes that need auth require (writes, unless a route says otherwise);
   * unset: no auth. The function reads it from its environment once, when it loads.
   */
  token?: string;
  /** Sees every answer: the handlers' and the contract's own (401, 404, 405, errors), e.g. to count them. */
  observe?: (response: Response, request: Request) => void;
}

export function defineFunction(definition: FunctionDefinition): FunctionModule {
  let started: Promise<void> | undefined;
  const start = () => (started ??= Promise.resolve(definition.start?.()));
  const observed = (response: Response, request: Request) => {
    definition.observe?.(response, request);
    return response;
  };

  const routes: MountedRoute[] = definition.routes.map(({ handler, ...info }) => {
    const paramsOf = compilePath(info.path);
    const needsAuth = routeNeedsAuth(info);
    const limit = { bytes: info.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, overhead: info.bodyOverheadBytes ?? 0 };
    return {
      ...info,
      async handle(request, params, meter) {
        let response: Response;
        try {
          request = limitBody(request, limit, meter);
          await start();
          const decoded = params ?? paramsOf(new URL(request.url).pathname) ?? {};
          if (needsAuth) requireBearer(request, definition.token);
          response = await handler(request, decoded);
        } catch (err) {
          response = toErrorResponse(err);
        }
        return observed(withHeaders(response, info.responseHeaders), request);
      },
    };
  });
  const table = routeTable(routes);

  async function fetch(request: Request): Promise<Response> {
    let found;
    try {
      found = table.lookup(request.method, new URL(request.url).pathname);
    } catch (err) {
      return observed(toErrorResponse(err), request);
    }
    if ("response" in found) return observed(found.response, request);
    return await found.route.handle(request, found.params);
  }

  const ready = async () => {
    await start();
    await definition.ready?.();
  };
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= started ? started.then(() => definition.stop?.()) : Promise.resolve());
  return { routes, schemas: definition.schemas ?? {}, fetch, start, ready, stop };
}

/** Whether a route requires the bearer token (when one is configured): writes do, reads (and OPTIONS) do not. */
export function routeNeedsAuth(route: Pick<RouteInfo, "method" | "auth">): boolean {
  return route.auth ?? !["GET", "HEAD", "OPTIONS"].includes(route.method);
}
