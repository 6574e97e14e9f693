// harness/pipeline.ts' /metrics readers, which the end-to-end tests check counters with: a series that
// is not on the page is an error (a renamed metric or label must fail a `toBe(0)`, not pass it), and
// `scrapeValueOr` gives a fallback only where a caller asks for one.
import { afterAll, expect, test } from "bun:test";
import { scrapeValue, scrapeValueOr } from "../../harness/pipeline.ts";

const PAGE = [
  "# HELP tarsd_remote_write_requests_total Remote-write requests answered, by HTTP status code.",
  "# TYPE tarsd_remote_write_requests_total counter",
  'tarsd_remote_write_requests_total{status="204"} 7',
  'tarsd_remote_write_requests_total{status="400"} 2',
  'tarsd_influx_write_errors_total{kind="config"} 0',
  "",
].join("\n");

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch: (req) => new URL(req.url).pathname === "/metrics" ? new Response(PAGE) : new Response("", { status: 404 }),
});
const url = `http://127.0.0.1:${server.port}`;
afterAll(() => server.stop(true));

test("scrapeValue sums the matching samples, a present 0 included", async () => {
  expect(await scrapeValue(url, "tarsd_remote_write_requests_total")).toBe(9);
  expect(await scrapeValue(url, "tarsd_remote_write_requests_total", { status: "400" })).toBe(2);
  expect(await scrapeValue(url, "tarsd_influx_write_errors_total", { kind: "config" })).toBe(0);
});

test("scrapeValue: an absent metric is an error naming it, not 0", async () => {
  await expect(scrapeValue(url, "tarsd_remote_write_request_total", { status: "401" })).rejects.toThrow(
    `no tarsd_remote_write_request_total{status="401"}: no tarsd_remote_write_request_total series at all`,
  );
});

test("scrapeValue: a metric present with other labels only is an error listing the labels it has", async () => {
  await expect(scrapeValue(url, "tarsd_remote_write_requests_total", { status: "401" })).rejects.toThrow(
    `no tarsd_remote_write_requests_total{status="401"}: 2 tarsd_remote_write_requests_total series with other ` +
      `labels ({"status":"204"}, {"status":"400"})`,
  );
  await expect(scrapeValue(url, "tarsd_influx_write_errors_total", { kind: "conifg" })).rejects.toThrow(
    /kind="conifg"/,
  );
});

test("scrapeValue: a /metrics page that is not there is an error", async () => {
  await expect(scrapeValue(`${url}/nowhere`, "tarsd_remote_write_requests_total")).rejects.toThrow("answered 404");
});

test("scrapeValueOr: the fallback where nothing matches, the sum where something does", async () => {
  expect(await scrapeValueOr(url, "tarsd_remote_write_requests_total", { status: "503" }, 0)).toBe(0);
  expect(await scrapeValueOr(url, "tarsd_remote_write_requests_total", { status: "503" }, -1)).toBe(-1);
  expect(await scrapeValueOr(url, "tarsd_remote_write_requests_total", { status: "204" }, -1)).toBe(7);
});
