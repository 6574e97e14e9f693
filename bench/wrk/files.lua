-- wrk script for bench/files.ts. The request is described by the environment so one script serves
-- every row (wrk loads it once per thread plus once for the summary):
--   BENCH_METHOD        GET (default), PUT, POST
--   BENCH_BODY_FILE     path of a file sent verbatim as every request's body (read once per thread)
--   BENCH_CONTENT_TYPE  Content-Type header for the body
--   BENCH_UNIQUE_MARK   16 bytes found in the body, replaced in every request by the thread's id and
--                       a counter: no two uploads carry the same bytes (a store that keeps identical
--                       bytes once must still write and fsync each one)
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

local mark = os.getenv("BENCH_UNIQUE_MARK")
if mark and mark ~= "" and wrk.body then
  assert(#mark == 16, "BENCH_UNIQUE_MARK must be 16 bytes")
  local at = assert(wrk.body:find(mark, 1, true), "BENCH_UNIQUE_MARK is not in the body")
  local sent = 0
  local head, tail
  function request()
    if not head then
      -- The whole request is formatted once (wrk.headers are final by now) and cut at the mark: each
      -- request then costs one concatenation, one copy of the body, where formatting each one cost
      -- two. The load tool shares the cores with the server it measures.
      local whole = wrk.format()
      local m = assert(whole:find(mark, #whole - #wrk.body + 1, true))
      head, tail = whole:sub(1, m - 1), whole:sub(m + #mark)
    end
    sent = sent + 1
    -- `id` is set per thread by setup() below.
    return head .. string.format("%08x%08x", id, sent) .. tail
  end
end

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
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
