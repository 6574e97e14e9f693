// /metrics: per-function request metrics and the info gauge carrying each function file's sha256.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";
import { startRuntime } from "../../harness/runtime-process.ts";
// deno-lint-ignore no-sloppy-imports -- plain JS, typed by web/prom.d.ts
import { parseMetrics, select } from "../../web/prom.js";

/** Value of the first sample whose name and labels are all given (web/prom.js parses). */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  return select(parseMetrics(text), name, labels)[0]?.value;
}

describe("/metrics", () => {
  test("requests, durations, bytes and the loaded functions' sha256", async () => {
    const rt = await startRuntime({ FUNCTIONS: "upload,download" });
    try {
      await fetch(`${rt.url}/files/m.txt`, { method: "PUT", body: "x".repeat(1000) });
      // Chunked (no Content-Length): counted as read.
      const chunked = new ReadableStream({
        start(c) {
          c.enqueue(new Uint8Array(500));
          c.close();
        },
      });
      // @ts-expect-error -- streaming request bodies need half duplex
      await fetch(`${rt.url}/files/chunked.bin`, { method: "PUT", body: chunked, duplex: "half" });
      for (let i = 0; i < 3; i++) await (await fetch(`${rt.url}/files/m.txt`)).arrayBuffer();
      await (await fetch(`${rt.url}/files/absent`)).arrayBuffer();
      const res = await fetch(`${rt.url}/metrics`);
      expect(res.headers.get("content-type")).toContain("text/plain");
      const text = await res.text();

      const get = { function: "download", method: "GET", route: "/files/:name" };
      expect(sample(text, "tarsd_function_requests_total", { ...get, status: "200" })).toBe(3);
      expect(sample(text, "tarsd_function_requests_total", { ...get, status: "404" })).toBe(1);
      expect(sample(text, "tarsd_function_request_duration_seconds_count", get)).toBe(4);
      expect(sample(text, "tarsd_function_response_bytes_total", get)).toBeGreaterThanOrEqual(3000);
      expect(sample(text, "tarsd_function_request_bytes_total", { function: "upload", method: "PUT" })).toBe(1500);
      expect(sample(text, "tarsd_ready", {})).toBe(1);
      expect(sample(text, "process_resident_memory_bytes", {})).toBeGreaterThan(0);

      for (const fn of ["upload", "download"]) {
        const digest = createHash("sha256").update(readFileSync(join(REPO_ROOT, "functions", `${fn}.ts`))).digest(
          "hex",
        );
        expect(sample(text, "tarsd_function_info", { function: fn, sha256: digest })).toBe(1);
      }
    } finally {
      await rt.stop();
    }
  });
});
