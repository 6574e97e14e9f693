// One series of a registry, read as /metrics prints it: a test asserts the series it expects exists
// (an absent series is a failure naming what is there, never taken as 0).
import type { Registry } from "prom-client";
// deno-lint-ignore no-sloppy-imports -- plain JS, typed by web/prom.d.ts
import { parseMetrics } from "../web/prom.js";

/** The value of the series `name` whose labels are exactly `labels`. */
export async function seriesValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const all = parseMetrics(await registry.metrics()).filter((s) => s.name === name);
  const wanted = JSON.stringify(Object.entries(labels).sort());
  const found = all.filter((s) => JSON.stringify(Object.entries(s.labels).sort()) === wanted);
  if (found.length !== 1) {
    throw new Error(
      `${found.length} series ${name}${JSON.stringify(labels)} in the registry; ${name} has ${
        JSON.stringify(all.map((s) => s.labels))
      }`,
    );
  }
  return found[0]!.value;
}
