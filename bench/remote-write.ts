// Decode+convert rate of the remote-write function with writes disabled, on one core:
// realistic batches (2000 series per request, 1 sample each, node-exporter-like labels), measured
// as snappy decompress + protobuf decode + line-protocol conversion per request.
// Usage: bun bench/remote-write.ts [seconds=5]
// (The end-to-end comparison against VictoriaMetrics' /api/v1/write and InfluxDB 1.x's
// /api/v1/prom/write is not implemented yet.)
import { decompress, parseMessage } from "../runtime/remote-write/decode.ts";
import { toLineProtocol } from "../runtime/remote-write/convert.ts";
import { compress, encodeV1, type TestSeries } from "../tests/remote-write/build.ts";

const seconds = Number(process.argv[2] ?? 5);
const SERIES_PER_REQUEST = 2000;
const now = Date.now();
const series: TestSeries[] = Array.from({ length: SERIES_PER_REQUEST }, (_, i) => ({
  labels: [
    ["__name__", `node_metric_${i % 50}`],
    ["cpu", String(i % 16)],
    ["device", `sd${String.fromCharCode(97 + (i % 4))}`],
    ["instance", `vm${i % 10}.example.internal:9100`],
    ["job", "node"],
    ["mode", ["idle", "user", "system", "iowait"][i % 4]!],
    ["node", `swarm-node-${i % 10}`],
  ],
  samples: [{ value: Math.random() * 1e6, timestamp: now + i }],
}));
const body = compress(encodeV1(series));

let requests = 0;
let lines = 0;
const start = performance.now();
while (performance.now() - start < seconds * 1000) {
  const conversion = toLineProtocol(parseMessage(decompress(body, 64 << 20), 1), { duplicateLabels: "skip" });
  lines += conversion.lines.length;
  requests++;
}
const elapsed = (performance.now() - start) / 1000;
console.log(JSON.stringify({
  bench: "decode+convert (writes disabled), one core",
  series_per_request: SERIES_PER_REQUEST,
  request_bytes: body.length,
  requests,
  samples_per_second: Math.round(lines / elapsed),
}));
