// Optional bearer-token check. Tokens come from the environment so the same function file
// runs with or without auth; comparison is constant-time to not leak the token by timing.
import { timingSafeEqual } from "node:crypto";
import { HttpError } from "./errors.ts";

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
