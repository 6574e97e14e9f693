// Request bodies as async byte chunks. A body that breaks off (client gone, connection reset) is a
// client problem, reported as a 400 rather than an internal error.
import { HttpError, isHttpError } from "./errors.ts";

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
  return isHttpError(err)
    ? err
    : new HttpError(400, `request body was cut off: ${String((err as Error)?.message || err)}`);
}
