// Prometheus remote write (1.0 and 2.0) into InfluxDB 2: APP 2 (container metrics) and APP 3
// (VM metrics) run this same function with different env. Decode, convert and write live in
// lib/remote-write/ (the HTTP side in runtime/http/remote-write-handler.ts); this file only
// declares the routes and picks the sink from env:
//   INFLUX_URL set   -> InfluxDB 2 /api/v2/write (INFLUX_TOKEN[_FILE], INFLUX_ORG, INFLUX_BUCKET)
//   INFLUX_URL unset -> $DATA_DIR/metrics/<INFLUX_BUCKET>.lp, fsynced (embedded default)
// A 2xx is sent only after the sink has accepted the samples; see handler.ts for every status.
import { defineFunction, type Route } from "@tarsd/sdk";
import { configFromEnv } from "../lib/remote-write/config.ts";
import { countAnswer, remoteWriteHandler } from "../lib/remote-write/handler.ts";
import { fileSink } from "../lib/remote-write/sinks/file.ts";
import { influxSink } from "../lib/remote-write/sinks/influx.ts";
import type { Sink } from "../lib/remote-write/sinks/sink.ts";

const config = configFromEnv();

let sink: Sink | undefined;
function currentSink(): Sink {
  sink ??= config.influxUrl
    ? influxSink({
      url: config.influxUrl,
      token: config.influxToken,
      org: config.influxOrg,
      bucket: config.influxBucket,
      timeoutMs: config.influxTimeoutMs,
    })
    : fileSink(config.dataDir, config.influxBucket);
  return sink;
}

const handler = remoteWriteHandler({ limits: config.limits, sink: currentSink });

// /api/v1/write is what Prometheus-compatible receivers usually serve; /api/v1/prom/write is the
// old InfluxDB 1.x endpoint path, so migrating a Prometheus config only means changing the host.
const paths = [...new Set([config.path, "/api/v1/prom/write"])];

const routes: Route[] = paths.map((path) => ({
  method: "POST",
  path,
  summary:
    "Prometheus remote write 1.0/2.0 (snappy protobuf) into InfluxDB; 204 once stored, 503 to make Prometheus retry",
  maxBodyBytes: config.limits.maxBodyBytes,
  handler,
  openapi: {
    requestBody: {
      required: true,
      content: {
        "application/x-protobuf": {
          schema: { type: "string", format: "binary", description: "snappy block-compressed prometheus.WriteRequest" },
        },
        "application/x-protobuf;proto=io.prometheus.write.v2.Request": { schema: { type: "string", format: "binary" } },
      },
    },
    responses: {
      "204": {
        description: "All samples, histograms, exemplars and metadata stored (NaN/Inf/stale markers dropped by design)",
      },
      "400": {
        description:
          "Malformed snappy/protobuf, duplicate labels (2.0), an invalid native histogram, data refused by InfluxDB, " +
          "or series without a metric name (the rest of the request is written)",
      },
      "401": { description: "Bearer token missing or wrong" },
      "413": { description: "Body or announced decompressed size over the limit" },
      "415": { description: "Unsupported Content-Type, Content-Encoding or proto message" },
      "503": { description: "InfluxDB unavailable; Prometheus retries" },
    },
  },
}));

// The bearer token: REMOTE_WRITE_TOKEN[_FILE], else AUTH_TOKEN[_FILE]. Every answer, 401s included,
// is counted in tarsd_remote_write_requests_total{status}.
export default defineFunction({ token: config.token, routes, observe: countAnswer });
