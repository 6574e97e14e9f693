// Every failure leaves a function as JSON with a human-readable reason, so curl users and retrying
// clients (Prometheus) both see why. Domain libraries throw a DomainError of a few kinds and never
// choose a status; FAILURE_STATUS below is the one place where a kind becomes an HTTP status.

/** The few ways a domain library (files, remote write) can refuse or fail, without any HTTP. */
export type FailureKind =
  | "not_found" //         the thing asked for does not exist
  | "too_large" //         over a configured size limit
  | "invalid_name" //      a name the store refuses
  | "malformed" //         input that cannot be decoded or is inconsistent
  | "conflict" //          the request does not match the thing's current state (e.g. a stale offset)
  | "busy" //              another writer holds the thing right now: try again shortly
  | "unsupported" //       a format or encoding this library does not speak
  | "storage_full" //      the disk or the quota is full
  | "sink_unavailable" //  the downstream store cannot take it now: try again later
  | "sink_rejected"; //    the downstream store refuses this data: retrying cannot help

export class DomainError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
    this.name = "DomainError";
  }
}

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
  if (err instanceof HttpError) return errorResponse(err.status, err.reason, err.headers ?? {});
  if (err instanceof DomainError) {
    const { status, headers } = FAILURE_STATUS[err.kind];
    return errorResponse(status, err.message, headers);
  }
  console.error(
    JSON.stringify({ level: "error", msg: "unhandled error", error: String((err as Error)?.stack ?? err) }),
  );
  return errorResponse(500, "internal error");
}
