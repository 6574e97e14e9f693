// The one table from domain failures (lib/errors.ts) to HTTP answers.
import { expect, test } from "bun:test";
import { DomainError, FAILURE_STATUS, type FailureKind, HttpError, toErrorResponse } from "@tarsd/sdk";

test("every domain failure has one status; the answer is JSON with the library's reason", async () => {
  const expected: Record<FailureKind, number> = {
    not_found: 404,
    too_large: 413,
    invalid_name: 400,
    malformed: 400,
    conflict: 409,
    busy: 423,
    unsupported: 415,
    storage_full: 507,
    sink_unavailable: 503,
    sink_rejected: 400,
  };
  for (const [kind, status] of Object.entries(expected) as [FailureKind, number][]) {
    const response = toErrorResponse(new DomainError(kind, `reason for ${kind}`));
    expect({ kind, status: response.status }).toEqual({ kind, status });
    expect(await response.json()).toEqual({ error: `reason for ${kind}`, status });
  }
  expect(Object.keys(FAILURE_STATUS).sort()).toEqual(Object.keys(expected).sort());
  // A sink that cannot take the data now: the client (Prometheus) is told when to retry.
  expect(toErrorResponse(new DomainError("sink_unavailable", "down")).headers.get("retry-after")).toBe("1");
});

test("HTTP-level errors keep their status and headers; anything else is a 500 without internals", async () => {
  const unauthorized = toErrorResponse(new HttpError(401, "missing bearer token", { "www-authenticate": "Bearer" }));
  expect(unauthorized.status).toBe(401);
  expect(unauthorized.headers.get("www-authenticate")).toBe("Bearer");
  const crash = toErrorResponse(new Error("secret internals"));
  expect(crash.status).toBe(500);
  expect(await crash.json()).toEqual({ error: "internal error", status: 500 });
});
