// The remote-write request pipeline: decode, convert, write, answer. Each step lives
// in its own module (decode.ts, convert.ts, sinks/*); this file only wires them and turns outcomes
// into the status codes Prometheus' retry logic depends on:
//   204  every sample, histogram, exemplar and metadata entry is in the sink (or deliberately
//        dropped by the documented scheme)
//   400  the request itself is bad (snappy, protobuf, duplicate labels in 2.0, an invalid native
//        histogram, sink refused the data), or some series have no metric name (the others are
//        written): retrying cannot help
//   401  bearer token missing or wrong (the function contract checks it);  413  body or announced
//        decompressed size over the limit
//   415  Content-Type / Content-Encoding / proto message not supported (remote write 2.0 §415)
//   503  sink unreachable, 5xx, 429, timeout, misconfigured: Prometheus retries, nothing is lost
import { DomainError, errorResponse, toErrorResponse } from "@tarsd/sdk";
import { type DecodeLimits, decodeRequest, type ParsedRequest, type ProtocolVersion } from "./decode.ts";
import { type Conversion, toLineProtocol } from "./convert.ts";
import { type Sink, SinkError } from "./sinks/sink.ts";
import * as metrics from "./metrics.ts";
import { ByteWriter } from "./byte-writer.ts";

export interface HandlerOptions {
  limits: DecodeLimits;
  /** Resolved per request so a lazily built sink (from env) is fine. */
  sink: () => Sink;
}

/** Counts an answer of the function by status: every one, the contract's 401s included (its `observe`). */
export function countAnswer(response: Response): void {
  metrics.requestsTotal.inc({ status: String(response.status) });
}

export function remoteWriteHandler(options: HandlerOptions): (request: Request) => Promise<Response> {
  const out = new ByteWriter(256 * 1024); // the body being built, reused by every request
  return async (request) => {
    let version: ProtocolVersion | undefined;
    let response: Response;
    try {
      const decoded = await decodeRequest(request, options.limits);
      version = decoded.version;
      metrics.requestBytesTotal.inc(decoded.bodyBytes);
      response = await convertAndWrite(decoded, version, options.sink(), out);
    } catch (err) {
      response = toErrorResponse(err);
      if (version === 2) writtenHeaders(response.headers, 0, 0, 0);
    }
    return response;
  };
}

async function convertAndWrite(
  request: ParsedRequest,
  version: ProtocolVersion,
  sink: Sink,
  out: ByteWriter,
): Promise<Response> {
  const conversion = toLineProtocol(request, { duplicateLabels: version === 1 ? "skip" : "reject" }, out);
  metrics.samplesReceivedTotal.inc(conversion.samplesReceived);

  const stop = metrics.influxWriteDuration.startTimer();
  try {
    await sink.write(conversion.body);
  } catch (err) {
    if (!(err instanceof SinkError)) throw err;
    metrics.influxWriteErrorsTotal.inc({ kind: err.kind });
    console.error(
      JSON.stringify({
        level: "error",
        msg: "remote-write sink write failed",
        sink: sink.describe,
        kind: err.kind,
        reason: err.reason,
        samples: conversion.written,
      }),
    );
    throw err.retryable
      ? new DomainError("sink_unavailable", `sink unavailable, retry later: ${err.reason}`)
      : new DomainError("sink_rejected", `sink rejected the data: ${err.reason}`);
  } finally {
    stop();
  }
  metrics.samplesWrittenTotal.inc(conversion.written);
  metrics.histogramsWrittenTotal.inc(conversion.histogramsWritten);
  metrics.exemplarsWrittenTotal.inc(conversion.exemplarsWritten);
  countDrops(conversion);

  // Written = received less what was refused: samples deliberately dropped (stale markers etc.)
  // count as written for the 2.0 sender, there is nothing to retry.
  const { nameless } = conversion;
  const samples = conversion.samplesReceived - nameless.samples;
  const histograms = conversion.histogramsReceived - nameless.histograms;
  const exemplars = conversion.exemplarsWritten;
  if (nameless.series + nameless.metadata > 0) {
    // Every series needs a metric name; Prometheus' own receiver answers 400 for one without.
    const response = errorResponse(
      400,
      `${nameless.series} series without a metric name (__name__)` +
        (nameless.metadata > 0 ? ` and ${nameless.metadata} metadata entries without a metric family name` : "") +
        `: ${nameless.samples} samples, ${nameless.histograms} histograms and ${nameless.exemplars} exemplars of them not written; ` +
        `the rest of the request was written (${samples} samples, ${histograms} histograms, ${exemplars} exemplars)`,
    );
    if (version === 2) writtenHeaders(response.headers, samples, histograms, exemplars);
    return response;
  }
  const response = new Response(null, { status: 204 });
  if (version === 2) writtenHeaders(response.headers, samples, histograms, exemplars);
  return response;
}

function countDrops(conversion: Conversion): void {
  for (const [reason, count] of Object.entries(conversion.dropped)) metrics.samplesDroppedTotal.inc({ reason }, count);
  const nameless = conversion.nameless.samples + conversion.nameless.histograms;
  if (nameless > 0) metrics.samplesDroppedTotal.inc({ reason: "missing_metric_name" }, nameless);
}

function writtenHeaders(headers: Headers, samples: number, histograms: number, exemplars: number): void {
  headers.set("X-Prometheus-Remote-Write-Samples-Written", String(samples));
  headers.set("X-Prometheus-Remote-Write-Histograms-Written", String(histograms));
  headers.set("X-Prometheus-Remote-Write-Exemplars-Written", String(exemplars));
}

export type { Sink };
