// Which route answers a method and path, or why none does: the one 404/405 decision, used by the
// contract's own `fetch` (deno serve) and by the Bun host for what Elysia's router did not match.
import { errorResponse, HttpError } from "./errors.ts";

export type Params = Record<string, string>;

/** Compiles `/files/:name` into a matcher returning the params, strictly percent-decoded, or null. */
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

/**
 * Params as Bun's router decoded them (`request.params`), when they are what strict decoding gives:
 * Bun decodes leniently, turning a bad percent-encoding into U+FFFD where decodeURIComponent
 * throws; a value without U+FFFD decoded cleanly (tests/runtime/router-params.test.ts checks this
 * against Bun). Otherwise undefined: the route decodes its URL itself and answers 400 if it must.
 * Saves building and parsing the request URL on every routed request (bench/NOTES.md).
 */
export function cleanlyDecoded(params: Params | undefined): Params | undefined {
  if (params === undefined) return undefined;
  for (const key in params) if (params[key]!.includes("\uFFFD")) return undefined;
  return params;
}

export type Lookup<R> = { route: R; params: Params } | { response: Response };

/** A table of routes: `lookup` gives the route and its params, or the 404/405 answer (with Allow). */
export function routeTable<R extends { method: string; path: string }>(routes: readonly R[]) {
  const compiled = routes.map((route) => ({ route, match: compilePath(route.path) }));
  return {
    lookup(method: string, path: string): Lookup<R> {
      const onPath: { route: R; params: Params }[] = [];
      for (const { route, match } of compiled) {
        const params = match(path);
        if (params) onPath.push({ route, params });
      }
      if (onPath.length === 0) return { response: errorResponse(404, `no route for ${path}`) };
      const hit = onPath.find(({ route }) => route.method === method);
      if (hit) return hit;
      const allow = [...new Set(onPath.map(({ route }) => route.method))].join(", ");
      return { response: errorResponse(405, `method ${method} not allowed on ${path}`, { allow }) };
    },
  };
}
