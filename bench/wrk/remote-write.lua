-- wrk script for bench/remote-write.ts: POSTs snappy-compressed remote-write bodies, cycling
-- through BENCH_BODY_COUNT files BENCH_BODY_DIR/body-<i>.bin (same series, later timestamps each),
-- as a Prometheus queue shard does. Every target gets exactly these bytes and headers.
local dir = os.getenv("BENCH_BODY_DIR")
local count = tonumber(os.getenv("BENCH_BODY_COUNT"))
local bodies = {}
for i = 0, count - 1 do
  local f = assert(io.open(dir .. "/body-" .. i .. ".bin", "rb"))
  bodies[i + 1] = f:read("*a")
  f:close()
end
local headers = {
  ["Content-Type"] = "application/x-protobuf",
  ["Content-Encoding"] = "snappy",
  ["X-Prometheus-Remote-Write-Version"] = "0.1.0",
  ["User-Agent"] = "tarsd-bench",
}
-- BENCH_BODY_KIND=line-protocol: the bodies are InfluxDB line protocol, sent as the function's sink sends them.
if os.getenv("BENCH_BODY_KIND") == "line-protocol" then
  headers = { ["Content-Type"] = "text/plain; charset=utf-8", ["User-Agent"] = "tarsd-bench" }
end
local n = 0

function request()
  n = n + 1
  return wrk.format("POST", nil, headers, bodies[(n % count) + 1])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"duration_us":%d,"requests":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p99":%d}}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
