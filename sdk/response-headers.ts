// Adding headers to an answer someone else made. A Response's headers can be immutable (a fetch()
// answer passed through, Response.redirect): then the answer is copied, body untouched.

/** Adds the headers the answer does not set itself (on a copy when its headers are immutable). */
export function withHeaders(response: Response, headers: Record<string, string> | undefined): Response {
  if (headers === undefined) return response;
  const missing = Object.entries(headers).filter(([name]) => !response.headers.has(name));
  if (missing.length === 0) return response;
  let target = response;
  try {
    for (const [name, value] of missing) target.headers.set(name, value);
  } catch {
    target = new Response(response.body, response);
    for (const [name, value] of missing) target.headers.set(name, value);
  }
  return target;
}
