// Request bodies: the route's size limit, and the body as async byte chunks. A body that breaks off
// (client gone, connection reset) is a client problem, reported as a 400 rather than an internal error.
import { HttpError } from "./errors.ts";

/** An absent body is an empty one (an empty file is a file). */
export async function* bodyChunks(request: Request): AsyncGenerator<Uint8Array> {
  if (!request.body) return;
  try {
    for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) yield chunk;
  } catch (err) {
    throw bodyCutOff(err);
  }
}

export function bodyCutOff(err: unknown): HttpError {
  return err instanceof HttpError
    ? err
    : new HttpError(400, `request body was cut off: ${String((err as Error)?.message || err)}`);
}

/** Where `limitBody` reports the body bytes that arrived (for the host's metrics). */
export interface BodyMeter {
  bytes: number;
}

/**
 * The request with its body held to `limit.bytes` (plus `limit.overhead` of framing, which the 413's
 * reason leaves out): a declared Content-Length over it is refused at once; a chunked body is counted
 * as it is read and the read fails (413) as soon as it passes. The one place a body limit is enforced.
 */
export function limitBody(request: Request, limit: { bytes: number; overhead: number }, meter?: BodyMeter): Request {
  const allowed = limit.bytes + limit.overhead;
  const overLimit = (bytes: number) =>
    new HttpError(413, `request body of ${bytes} bytes is over the limit of ${limit.bytes} bytes`);
  const length = request.headers.get("content-length");
  if (length !== null || !request.body) {
    const declared = Number(length ?? "0") || 0;
    if (meter) meter.bytes = declared;
    if (declared > allowed) throw overLimit(declared);
    return request;
  }
  let counted = 0;
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      counted += chunk.byteLength;
      if (meter) meter.bytes = counted;
      if (counted > allowed) controller.error(overLimit(counted));
      else controller.enqueue(chunk);
    },
  });
  return new Request(request, { body: request.body.pipeThrough(counter), duplex: "half" } as RequestInit);
}
