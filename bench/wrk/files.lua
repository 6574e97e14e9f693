-- wrk script for bench/files.ts. The request is described by the environment so one script serves
-- every row (wrk loads it once per thread plus once for the summary):
--   BENCH_METHOD        GET (default), PUT, POST
--   BENCH_BODY_FILE     path of a file sent verbatim as every request's body (read once per thread)
--   BENCH_CONTENT_TYPE  Content-Type header for the body
-- No response() callback on purpose: defining one makes wrk copy every response body into Lua.
-- done() prints one machine-readable line that bench/files.ts parses instead of wrk's text output.
local method = os.getenv("BENCH_METHOD")
if method and method ~= "" then wrk.method = method end

local body_file = os.getenv("BENCH_BODY_FILE")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
end

local content_type = os.getenv("BENCH_CONTENT_TYPE")
if content_type and content_type ~= "" then wrk.headers["Content-Type"] = content_type end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"duration_us":%d,"requests":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p99":%d,"max":%d}}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(99), latency.max))
end
