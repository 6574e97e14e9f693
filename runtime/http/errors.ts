// Every failure leaves a function as JSON with a human-readable reason, so curl users
// and retrying clients (Prometheus) both see why. Portable: web APIs only.
// The one place where a domain library's failure (lib/errors.ts) becomes an HTTP status.
import type { DomainError, FailureKind } from "../../lib/errors.ts";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(reason);
    this.name = "HttpError";
  }
}

// A function is deployed as a bundle with its own copy of these classes, and the host's body limit
// throws inside the function's body read: errors are recognised by name and shape, not by identity.
export function isHttpError(err: unknown): err is HttpError {
  const e = err as HttpError | null;
  return e instanceof Error && e.name === "HttpError" && typeof e.status === "number" &&
    typeof e.reason === "string";
}

function isDomainError(err: unknown): err is DomainError {
  const e = err as DomainError | null;
  return e instanceof Error && e.name === "DomainError" && Object.hasOwn(FAILURE_STATUS, e.kind);
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  return new Response(bytes, {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "content-length": String(bytes.byteLength),
      ...headers,
    },
  });
}

export function errorResponse(status: number, reason: string, headers: Record<string, string> = {}): Response {
  return json({ error: reason, status }, status, headers);
}

/** Each kind of domain failure, its status and the headers that go with it. */
export const FAILURE_STATUS: Record<FailureKind, { status: number; headers?: Record<string, string> }> = {
  not_found: { status: 404 },
  too_large: { status: 413 },
  invalid_name: { status: 400 },
  malformed: { status: 400 },
  conflict: { status: 409 },
  busy: { status: 423 }, // Locked (WebDAV): tus clients retry it, as they do 409.
  unsupported: { status: 415 },
  storage_full: { status: 507 },
  // Prometheus (and any polite client) retries a 503; the data is not lost.
  sink_unavailable: { status: 503, headers: { "retry-after": "1" } },
  sink_rejected: { status: 400 },
};

/** Maps anything thrown by a handler to a response; unknown errors are 500s and are logged. */
export function toErrorResponse(err: unknown): Response {
  if (isHttpError(err)) return errorResponse(err.status, err.reason, err.headers ?? {});
  if (isDomainError(err)) {
    const { status, headers } = FAILURE_STATUS[err.kind];
    return errorResponse(status, err.message, headers);
  }
  console.error(
    JSON.stringify({ level: "error", msg: "unhandled error", error: String((err as Error)?.stack ?? err) }),
  );
  return errorResponse(500, "internal error");
}
