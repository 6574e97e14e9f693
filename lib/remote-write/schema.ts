// The remote-write .proto files loaded with protobufjs reflection. The receiver's hot path uses the
// hand-written decoder in decode.ts (measured faster, and it can see the raw bits of every double);
// this module is the schema of record for everything that *builds* requests: tests, the benchmark's
// load generator, tools. Tests encode with it and decode with decode.ts, so the two cannot drift.
import protobuf from "protobufjs";
import { join } from "node:path";

const PROTO_DIR = join(import.meta.dir, "proto");

let root: protobuf.Root | undefined;

function load(): protobuf.Root {
  root ??= protobuf.loadSync([join(PROTO_DIR, "remote.proto"), join(PROTO_DIR, "io/prometheus/write/v2/types.proto")]);
  return root;
}

/** `prometheus.WriteRequest` (remote write 1.0). */
export function writeRequestV1(): protobuf.Type {
  return load().lookupType("prometheus.WriteRequest");
}

/** `io.prometheus.write.v2.Request` (remote write 2.0). */
export function writeRequestV2(): protobuf.Type {
  return load().lookupType("io.prometheus.write.v2.Request");
}

export const CONTENT_TYPE_V1 = "application/x-protobuf";
export const CONTENT_TYPE_V2 = "application/x-protobuf;proto=io.prometheus.write.v2.Request";
