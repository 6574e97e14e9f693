-- wrk script for bench/files.ts. The request is described by the environment so one script serves
-- every row (wrk loads it once per thread plus once for the summary):
--   BENCH_METHOD        GET (default), PUT, POST
--   BENCH_BODY_FILE     path of a file sent verbatim as every request's body (read once per thread)
--   BENCH_CONTENT_TYPE  Content-Type header for the body
--   BENCH_UNIQUE_MARK   16 bytes found in the body, replaced in every request by a stamp:
--   BENCH_RUN_ID        this wrk invocation's number (0 to 2^24-1), unique within the benchmark process
--                       (bench/files/measure.ts); the stamp is `%06x%02x%08x` of (run id, thread 1-255,
--                       the thread's request counter), so no two uploads of the whole benchmark carry
--                       the same bytes (a store that keeps identical bytes once must still write and
--                       fsync each one). Thread 0 is the pre-flight request's (measure.ts).
--   BENCH_PATHS_FILE    a file of request paths, one a line: each thread sends them round-robin, from
--                       its own starting point (GET over many distinct files)
--   BENCH_THREADS       wrk's -t, to spread the threads' starting points over the paths
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

-- `id` (1, 2, ...) is set in each thread's state by setup() below, before its first request.
local threads = 0
function setup(thread)
  threads = threads + 1
  assert(threads <= 255, "the upload stamp has two hex digits for the thread: at most 255 wrk threads")
  thread:set("id", threads)
end

local mark = os.getenv("BENCH_UNIQUE_MARK")
local paths_file = os.getenv("BENCH_PATHS_FILE")
assert(not (mark and mark ~= "" and paths_file and paths_file ~= ""), "BENCH_UNIQUE_MARK or BENCH_PATHS_FILE, not both")
if mark and mark ~= "" and wrk.body then
  assert(#mark == 16, "BENCH_UNIQUE_MARK must be 16 bytes")
  assert(wrk.body:find(mark, 1, true), "BENCH_UNIQUE_MARK is not in the body")
  local run_id = assert(tonumber(os.getenv("BENCH_RUN_ID") or ""), "BENCH_UNIQUE_MARK needs BENCH_RUN_ID")
  assert(run_id >= 0 and run_id < 0x1000000 and run_id % 1 == 0, "BENCH_RUN_ID must be 0 to 2^24-1")
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
    assert(sent <= 0xffffffff, "the upload stamp's counter has 8 hex digits")
    return head .. string.format("%06x%02x%08x", run_id, id, sent) .. tail
  end
elseif paths_file and paths_file ~= "" then
  local paths = {}
  for line in assert(io.open(paths_file, "r")):lines() do
    if line ~= "" then paths[#paths + 1] = line end
  end
  assert(#paths > 0, "BENCH_PATHS_FILE has no paths")
  local requests, next_index
  function request()
    if not requests then
      -- Formatted once each, as above; threads start spread over the list, so they do not ask for
      -- the same file at the same moment.
      requests = {}
      for i, path in ipairs(paths) do requests[i] = wrk.format(nil, path) end
      local spread = math.max(1, tonumber(os.getenv("BENCH_THREADS") or "") or 1)
      next_index = ((id - 1) * math.floor(#paths / spread)) % #paths
    end
    next_index = next_index + 1
    if next_index > #requests then next_index = 1 end
    return requests[next_index]
  end
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
