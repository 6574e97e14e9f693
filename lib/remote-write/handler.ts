// One remote-write request, in data-flow order: negotiate the message from the headers, read the
// body, decompress and parse it (decode.ts), convert it to line protocol (convert.ts), write it to
// the sink (sinks/), answer. Each outcome is one status of the table in statuses.ts; the body limit
// and the bearer token are the function contract's, before this runs.
import { bodyCutOff, DomainError, errorResponse, toErrorResponse } from "@tarsd/sdk";
import { decodeBody, type DecodeLimits, negotiate, type ProtocolVersion } from "./decode.ts";
import { type Conversion, toLineProtocol } from "./convert.ts";
import { type Sink, SinkError } from "./sinks/sink.ts";
import type { RemoteWriteMetrics } from "./metrics.ts";
import { ByteWriter } from "./byte-writer.ts";
import { WRITTEN_HEADERS } from "./statuses.ts";

interface RemoteWriteHandlerOptions {
  limits: DecodeLimits;
  sink: Sink;
  /** Where the request's samples, drops, bytes and sink writes are counted (its answers: the function's observe). */
  metrics: RemoteWriteMetrics;
}

export function createRemoteWriteHandler(
  { limits, sink, metrics }: RemoteWriteHandlerOptions,
): (request: Request) => Promise<Response> {
  const out = new ByteWriter(256 * 1024); // the body being built, reused by every request
  return async (request) => {
    // Set once the message is decoded: from then on a 2.0 answer says how much was written.
    let decoded: ProtocolVersion | undefined;
    try {
      const version = negotiate(request.headers.get("content-type"), request.headers.get("content-encoding"));
      const body = await readBody(request);
      const parsed = decodeBody(body, version, limits);
      decoded = version;
      metrics.requestBytesTotal.inc(body.byteLength);

      const conversion = toLineProtocol(parsed, { duplicateLabels: version === 1 ? "skip" : "reject" }, out);
      metrics.samplesReceivedTotal.inc(conversion.samplesReceived);
      await write(sink, conversion, metrics);
      return answer(conversion, version);
    } catch (err) {
      const response = toErrorResponse(err);
      if (decoded === 2) writtenHeaders(response.headers, 0, 0, 0);
      return response;
    }
  };
}

/**
 * The whole body (its size already bounded by the contract, which fails the read with its 413 as soon
 * as a chunked body passes the limit: that passes through as it is); a body cut off is a 400.
 */
async function readBody(request: Request): Promise<Uint8Array> {
  try {
    return new Uint8Array(await request.arrayBuffer());
  } catch (err) {
    throw bodyCutOff(err);
  }
}

/** Resolves once the sink holds every line; otherwise throws what the sender must do (retry or not). */
async function write(sink: Sink, conversion: Conversion, metrics: RemoteWriteMetrics): Promise<void> {
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
  for (const [reason, count] of Object.entries(conversion.dropped)) metrics.samplesDroppedTotal.inc({ reason }, count);
  const nameless = conversion.nameless.samples + conversion.nameless.histograms;
  if (nameless > 0) metrics.samplesDroppedTotal.inc({ reason: "missing_metric_name" }, nameless);
  const invalid = conversion.invalidHistograms.histograms;
  if (invalid > 0) metrics.samplesDroppedTotal.inc({ reason: "invalid_histogram" }, invalid);
}

/**
 * 204 once everything is written; 400 naming what was refused when there was some: series without a
 * metric name, native histograms Prometheus would refuse (as its own receiver answers both).
 */
function answer(conversion: Conversion, version: ProtocolVersion): Response {
  // Written = received less what was refused: samples deliberately dropped (stale markers etc.)
  // count as written for the 2.0 sender, there is nothing to retry.
  const { nameless, invalidHistograms: invalid } = conversion;
  const samples = conversion.samplesReceived - nameless.samples;
  const histograms = conversion.histogramsReceived - nameless.histograms - invalid.histograms;
  const exemplars = conversion.exemplarsWritten;
  const refused: string[] = [];
  if (nameless.series + nameless.metadata > 0) {
    refused.push(
      `${nameless.series} series without a metric name (__name__)` +
        (nameless.metadata > 0 ? ` and ${nameless.metadata} metadata entries without a metric family name` : "") +
        `: ${nameless.samples} samples, ${nameless.histograms} histograms and ${nameless.exemplars} exemplars of them not written`,
    );
  }
  if (invalid.histograms > 0) {
    const more = invalid.series - invalid.first.length;
    refused.push(
      `${invalid.histograms} native histograms of ${invalid.series} series refused as Prometheus refuses them, ` +
        `not written: ${invalid.first.join("; ")}${more > 0 ? `; and ${more} more series` : ""}`,
    );
  }
  const response = refused.length > 0
    ? errorResponse(
      400,
      `${refused.join("; ")}; the rest of the request was written ` +
        `(${samples} samples, ${histograms} histograms, ${exemplars} exemplars)`,
    )
    : new Response(null, { status: 204 });
  if (version === 2) writtenHeaders(response.headers, samples, histograms, exemplars);
  return response;
}

function writtenHeaders(headers: Headers, samples: number, histograms: number, exemplars: number): void {
  headers.set(WRITTEN_HEADERS.samples, String(samples));
  headers.set(WRITTEN_HEADERS.histograms, String(histograms));
  headers.set(WRITTEN_HEADERS.exemplars, String(exemplars));
}
