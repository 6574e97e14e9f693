// Prometheus remote write (1.0 and 2.0) into InfluxDB 2 or, without INFLUX_URL, a fsynced line-protocol
// file: APP 2 (container metrics) and APP 3 (VM metrics) run this one function with different settings.
// The request's way is lib/remote-write/handler.ts, its answers lib/remote-write/statuses.ts; this file
// declares the routes and their documentation, built from explicit settings (tests build their own).
import { defineFunction, errorOf, type FunctionModule, type Route } from "@tarsd/sdk";
import { register, type Registry } from "prom-client";
import { createRemoteWriteHandler } from "../lib/remote-write/handler.ts";
import { type RemoteWriteMetrics, remoteWriteMetrics } from "../lib/remote-write/metrics.ts";
import { spooledSink } from "../lib/remote-write/sinks/spooled.ts";
import { type RemoteWriteSettings, remoteWriteSettingsFromEnv } from "../lib/remote-write/settings.ts";
import { REMOTE_WRITE_STATUSES, WRITTEN_HEADERS } from "../lib/remote-write/statuses.ts";
import { fileSink } from "../lib/remote-write/sinks/file.ts";
import { influxSink } from "../lib/remote-write/sinks/influx.ts";
import type { Sink } from "../lib/remote-write/sinks/sink.ts";

export function remoteWriteFunction(
  settings: RemoteWriteSettings,
  deps: { registry: Registry; sink?: Sink },
): FunctionModule {
  const metrics = remoteWriteMetrics(deps.registry);
  const sink = deps.sink ?? sinkOf(settings, deps.registry, metrics);
  const handler = createRemoteWriteHandler({
    limits: { maxDecodedBytes: settings.maxDecodedBytes },
    sink,
    metrics,
  });

  // /api/v1/write is what Prometheus-compatible receivers usually serve; /api/v1/prom/write is the
  // old InfluxDB 1.x endpoint path, so migrating a Prometheus config only means changing the host.
  const paths = [...new Set([settings.path, "/api/v1/prom/write"])];
  const routes: Route[] = paths.map((path) => ({
    method: "POST",
    path,
    summary:
      "Prometheus remote write 1.0/2.0 (snappy protobuf) into InfluxDB; 204 once stored, 503 to make Prometheus retry",
    maxBodyBytes: settings.maxBodyBytes,
    handler,
    openapi: { requestBody: REQUEST_BODY, responses: RESPONSES },
  }));

  // Every answer, the contract's own 401s and 413s included, is counted by its status.
  return defineFunction({
    token: settings.token,
    routes,
    start: () => sink.start?.(),
    stop: () => sink.stop?.(),
    observe: (response) => metrics.requestsTotal.inc({ status: String(response.status) }),
  });
}

/**
 * InfluxDB when the settings name one, behind the spool unless it is turned off; else the embedded
 * file sink. Nothing does any I/O before `start` or a write.
 */
function sinkOf(settings: RemoteWriteSettings, registry: Registry, metrics: RemoteWriteMetrics): Sink {
  if (!settings.influxUrl) return fileSink(settings.dataDir, settings.influxBucket);
  const influx = influxSink({
    url: settings.influxUrl,
    token: settings.influxToken,
    org: settings.influxOrg,
    bucket: settings.influxBucket,
    timeoutMs: settings.influxTimeoutMs,
  });
  if (settings.spoolMaxBytes <= 0) return influx;
  return spooledSink(influx, {
    dir: settings.spoolDir,
    maxBytes: settings.spoolMaxBytes,
    registry,
    onSinkError: (err) => metrics.influxWriteErrorsTotal.inc({ kind: err.kind }),
  });
}

const REQUEST_BODY = {
  required: true,
  content: {
    "application/x-protobuf": {
      schema: { type: "string", format: "binary", description: "snappy block-compressed prometheus.WriteRequest" },
    },
    "application/x-protobuf;proto=io.prometheus.write.v2.Request": { schema: { type: "string", format: "binary" } },
  },
};

// A 2.0 answer given once the message is decoded says how much of it was written (0 on failure).
const WRITTEN = Object.fromEntries(
  Object.values(WRITTEN_HEADERS).map((name) => [name, { description: "2.0 only", schema: { type: "integer" } }]),
);
const AFTER_DECODING = new Set(["204", "400", "503"]);

const RESPONSES = Object.fromEntries(
  Object.entries(REMOTE_WRITE_STATUSES).map(([status, meaning]) => {
    const response = status === "204" ? { description: meaning } : errorOf(meaning);
    return [status, AFTER_DECODING.has(status) ? { ...response, headers: WRITTEN } : response];
  }),
);

export default remoteWriteFunction(remoteWriteSettingsFromEnv(), { registry: register });
