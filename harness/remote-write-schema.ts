// The remote-write .proto files (lib/remote-write/proto/, the schema of record) loaded with protobufjs
// reflection: what builds requests here (tests, the benchmark's load generator), as a sender would. The
// receiver reads the wire with its own hand-written parsers (lib/remote-write/parse-v1.ts, parse-v2.ts);
// tests encode with this and decode with those, so the two cannot drift.
import protobuf from "protobufjs";
import { join } from "node:path";
import { REPO_ROOT } from "./binaries.ts";

/** The .proto files, beside the parsers that read their messages. */
export const PROTO_DIR = join(REPO_ROOT, "lib", "remote-write", "proto");

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
