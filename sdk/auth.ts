// Optional bearer-token check. Tokens come from the environment so the same function file
// runs with or without auth; comparison is constant-time to not leak the token by timing.
import { timingSafeEqual } from "node:crypto";
import { HttpError } from "./errors.ts";
import { envString } from "./env.ts";

/**
 * The host's token, AUTH_TOKEN (or AUTH_TOKEN_FILE, a swarm secret): what every write route of every
 * function requires unless the function declares a token of its own or the route opts out. Read here,
 * by the contract, so it holds wherever a function runs: in the runtime and under `deno serve` alone.
 */
export function hostAuthToken(): string | undefined {
  return envString("AUTH_TOKEN");
}

export function requireBearer(request: Request, token: string | undefined): void {
  if (!token) return;
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer\s+(.+)$/i.exec(header);
  const given = new TextEncoder().encode(match?.[1]?.trim() ?? "");
  const wanted = new TextEncoder().encode(token);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
    throw new HttpError(401, match ? "invalid bearer token" : "missing bearer token", {
      "www-authenticate": 'Bearer realm="tf-tarsd"',
    });
  }
}
