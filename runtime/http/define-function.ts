// The function contract. A function file default-exports `defineFunction({...})`: an object with
// a web-standard `fetch(request)` (so `deno serve functions/x.ts` serves it unmodified) and the
// list of routes it answers (so the Bun runtime can mount exactly those, and document them).
//
// `fetch` relies on `request` alone: the second argument means something different on every
// runtime (Deno: connection info, Bun: the server, Workers: env), so configuration comes from env.
import { requireBearer } from "./auth.ts";
import { errorResponse, HttpError, toErrorResponse } from "./errors.ts";
import { envFirst } from "../env.ts";

export type Params = Record<string, string>;
export type Handler = (request: Request, params: Params) => Response | Promise<Response>;

export interface Route {
  method: "GET" | "HEAD" | "POST" | "PUT" | "DELETE";
  /** Elysia-style path: literal segments and `:param` segments. */
  path: string;
  handler: Handler;
  /** One line for the API docs. */
  summary: string;
  /** Whether the bearer token is required; defaults to true for every method but GET and HEAD. */
  auth?: boolean;
  /** OpenAPI fragments (request body, responses) for /openapi.json. */
  openapi?: Record<string, unknown>;
  /**
   * The largest body this route takes, in bytes, as its users configure it (MAX_UPLOAD_BYTES,
   * REMOTE_WRITE_MAX_BYTES). The host answers 413 above it: before the handler runs when
   * Content-Length says so, and as soon as a chunked body passes it. Default: DEFAULT_MAX_BODY_BYTES.
   */
  maxBodyBytes?: number;
  /** Room for framing around that limit (multipart boundaries and part headers); not in the 413 reason. */
  bodyOverheadBytes?: number;
}

/** The body limit of a route that declares none (forms, small JSON). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export type RouteInfo = Omit<Route, "handler">;

export interface FunctionModule {
  routes: RouteInfo[];
  fetch(request: Request): Promise<Response>;
  /** One-time preparation (e.g. clean leftovers); the runtime awaits it before listening. */
  start(): Promise<void>;
}

export interface FunctionDefinition {
  routes: Route[];
  /** Runs once, before the first request is handled; under `deno serve` on the first request. */
  start?: () => void | Promise<void>;
  /** Env vars holding the bearer token, first set wins. Default: AUTH_TOKEN. */
  tokenEnv?: string[];
  /** Sees every answer: the handlers' and the contract's own (401, 404, 405, errors), e.g. to count them. */
  observe?: (response: Response, request: Request) => void;
}

export function defineFunction(definition: FunctionDefinition): FunctionModule {
  const tokenEnv = definition.tokenEnv ?? ["AUTH_TOKEN"];
  const compiled = definition.routes.map((route) => ({ route, match: compilePath(route.path) }));
  let started: Promise<void> | undefined;
  const start = () => (started ??= Promise.resolve(definition.start?.()));

  async function fetch(request: Request): Promise<Response> {
    const response = await answer(request);
    definition.observe?.(response, request);
    return response;
  }

  async function answer(request: Request): Promise<Response> {
    try {
      await start();
      const path = new URL(request.url).pathname;
      const onPath = compiled.flatMap(({ route, match }) => {
        const params = match(path);
        return params ? [{ route, params }] : [];
      });
      if (onPath.length === 0) return errorResponse(404, `no route for ${path}`);
      const hit = onPath.find(({ route }) => route.method === request.method);
      if (!hit) {
        const allow = [...new Set(onPath.map(({ route }) => route.method))].join(", ");
        return errorResponse(405, `method ${request.method} not allowed on ${path}`, { allow });
      }
      if (routeNeedsAuth(hit.route)) {
        requireBearer(request, envFirst(...tokenEnv));
      }
      return await hit.route.handler(request, hit.params);
    } catch (err) {
      return toErrorResponse(err);
    }
  }

  return {
    routes: definition.routes.map(({ handler: _handler, ...info }) => info),
    fetch,
    start,
  };
}

/** Whether a route requires the bearer token (when one is configured): writes do, reads do not. */
export function routeNeedsAuth(route: Pick<RouteInfo, "method" | "auth">): boolean {
  return route.auth ?? !["GET", "HEAD"].includes(route.method);
}

/** Compiles `/files/:name` into a matcher returning the decoded params, or null. */
export function compilePath(pattern: string): (path: string) => Params | null {
  const want = pattern.split("/");
  return (path) => {
    const got = path.split("/");
    if (got.length !== want.length) return null;
    const params: Params = {};
    for (let i = 0; i < want.length; i++) {
      const w = want[i]!;
      const g = got[i]!;
      if (w.startsWith(":")) {
        try {
          params[w.slice(1)] = decodeURIComponent(g);
        } catch {
          throw new HttpError(400, `path segment ${JSON.stringify(g)} is not valid percent-encoding`);
        }
      } else if (w !== g) {
        return null;
      }
    }
    return params;
  };
}
