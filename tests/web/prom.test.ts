// The status page's Prometheus text parser (web/prom.js), on real /metrics output shapes.
import { expect, test } from "bun:test";
// web/prom.js is plain JS served as is; its types are in web/prom.d.ts beside it.
// deno-lint-ignore no-sloppy-imports
import { parseMetrics, requestCounts, scalar, select } from "../../web/prom.js";

const text = `# HELP tarsd_function_requests_total Requests handled.
# TYPE tarsd_function_requests_total counter
tarsd_function_requests_total{function="upload",method="PUT",route="/files/:name",status="201"} 7
tarsd_function_requests_total{function="upload",method="PUT",route="/files/:name",status="413"} 2
tarsd_function_requests_total{function="download",method="GET",route="/files/:name",status="404"} 1
tarsd_function_requests_total{function="download",method="GET",route="/files/:name",status="500"} 3
tarsd_function_requests_total{function="we\\"ird,name",method="GET",route="/x",status="200"} 1 1700000000000
process_start_time_seconds 1764216000
tarsd_function_request_duration_seconds_bucket{le="+Inf",function="upload",method="PUT",route="/files/:name"} 9
go_weird NaN
`;

test("parses samples, labels (with escapes and commas) and special values", () => {
  const samples = parseMetrics(text);
  expect(samples.length).toBe(8);
  expect(samples[0]).toEqual({
    name: "tarsd_function_requests_total",
    labels: { function: "upload", method: "PUT", route: "/files/:name", status: "201" },
    value: 7,
  });
  expect(samples[4]!.labels.function).toBe('we"ird,name');
  expect(samples[4]!.value).toBe(1);
  expect(samples[6]!.labels.le).toBe("+Inf");
  expect(Number.isNaN(samples[7]!.value)).toBe(true);
  expect(scalar(samples, "process_start_time_seconds")).toBe(1764216000);
  expect(scalar(samples, "absent")).toBeUndefined();
});

test("sums requests, 4xx and 5xx per function", () => {
  expect(requestCounts(parseMetrics(text))).toEqual({
    upload: { requests: 9, clientErrors: 2, serverErrors: 0 },
    download: { requests: 4, clientErrors: 1, serverErrors: 3 },
    'we"ird,name': { requests: 1, clientErrors: 0, serverErrors: 0 },
  });
});

test('select matches label values exactly: k="v" is not xk="v", nor k="vv"', () => {
  const samples = parseMetrics(['m{xk="v"} 1', 'm{k="vv"} 2', 'm{k="v",j="w"} 4', 'other{k="v"} 8'].join("\n"));
  expect(select(samples, "m", { k: "v" }).map((s) => s.value)).toEqual([4]);
  expect(select(samples, "m").map((s) => s.value)).toEqual([1, 2, 4]);
});
