// Every failure leaves a function as JSON with a human-readable reason, so curl users
// and retrying clients (Prometheus) both see why. Portable: web APIs only.

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(reason);
  }
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  return new Response(bytes, {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "content-length": String(bytes.byteLength), ...headers },
  });
}

export function errorResponse(status: number, reason: string, headers: Record<string, string> = {}): Response {
  return json({ error: reason, status }, status, headers);
}

/** Maps anything thrown by a handler to a response; unknown errors are 500s and are logged. */
export function toErrorResponse(err: unknown): Response {
  if (err instanceof HttpError) return errorResponse(err.status, err.reason, err.headers);
  console.error(JSON.stringify({ level: "error", msg: "unhandled error", error: String((err as Error)?.stack ?? err) }));
  return errorResponse(500, "internal error");
}
