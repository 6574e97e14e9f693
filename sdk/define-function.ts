// The function contract. A function file default-exports `defineFunction({...})`: an object with
// a web-standard `fetch(request)` (so `deno serve functions/x.ts` serves it unmodified) and the
// list of routes it answers (so the Bun runtime can mount exactly those, and document them).
//
// `fetch` relies on `request` alone: the second argument means something different on every
// runtime (Deno: connection info, Bun: the server, Workers: env), so a function reads its
// configuration from its environment once, when it loads, and passes it in here.
import { hostAuthToken, requireBearer } from "./auth.ts";
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
  /**
   * Who may call the route. By default a write (every method but GET, HEAD and OPTIONS) needs the bearer
   * token (the function's `token`, else the host's AUTH_TOKEN; neither set: open) and a read does not.
   * `"bearer"` protects a read too; `{ none: "why" }` opens a write to anyone, explicitly: /openapi.json
   * shows the operation with `security: []` and the reason.
   */
  auth?: "bearer" | { none: string };
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
   * The function's own bearer token for the routes that need auth (writes, unless a route says
   * otherwise), e.g. REMOTE_WRITE_TOKEN, read from its environment once, when it loads. Unset: the
   * host's AUTH_TOKEN (`hostAuthToken`), so a function that declares nothing still has protected
   * writes wherever AUTH_TOKEN is set; neither set: no auth (the historic open API).
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

  // One token for every route, read once: the function's own, else the host's (under the runtime and
  // under `deno serve` alike: both read the same environment).
  const token = definition.token || hostAuthToken();
  const routes: MountedRoute[] = definition.routes.map(({ handler, ...info }) => {
    checkAuth(info);
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
          if (needsAuth) requireBearer(request, token);
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

/** The methods that only read: open unless a route says `auth: "bearer"`. */
export const READ_METHODS: readonly Route["method"][] = ["GET", "HEAD", "OPTIONS"];

/**
 * Whether a route requires the bearer token (when one is configured): writes do unless they opt out
 * with `auth: { none }`, reads (and OPTIONS) do not unless they say `auth: "bearer"`.
 */
export function routeNeedsAuth(route: Pick<RouteInfo, "method" | "auth">): boolean {
  if (route.auth === "bearer") return true;
  if (openReason(route) !== undefined) return false;
  return !READ_METHODS.includes(route.method); // anything else fails closed (and `defineFunction` refuses it)
}

/** Why a route is open to anyone, when it opted out of the token explicitly (`auth: { none }`). */
export function openReason(route: Pick<RouteInfo, "auth">): string | undefined {
  const auth = route.auth as unknown;
  return typeof auth === "object" && auth !== null && typeof (auth as { none?: unknown }).none === "string"
    ? (auth as { none: string }).none
    : undefined;
}

/** A route's `auth` as the contract takes it, or the error naming the route (e.g. the old `auth: false`). */
function checkAuth(route: Pick<RouteInfo, "method" | "path" | "auth">): void {
  if (route.auth === undefined || route.auth === "bearer" || openReason(route)?.trim()) return;
  throw new Error(
    `${route.method} ${route.path}: auth must be "bearer" or { none: "<why anyone may call it>" }, ` +
      `got ${JSON.stringify(route.auth)}`,
  );
}
