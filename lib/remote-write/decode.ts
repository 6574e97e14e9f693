// Decoding half of the receiver: header values and body bytes -> a list of series, independent of
// any backend and of HTTP. Order matters and is the point of this module: negotiate the message type
// from the headers, bound the *announced* decompressed size, only then decompress and parse (the
// protobuf wire format itself is read in parse-v1.ts and parse-v2.ts). The body's own size is the
// route's limit, applied by the function contract before these bytes exist.
import { Buffer } from "node:buffer";
import snappy from "snappy";
import { DomainError } from "@tarsd/sdk";
import { type ParsedRequest, PROTO_V1, PROTO_V2 } from "./model.ts";
import { parseV1 } from "./parse-v1.ts";
import { parseV2 } from "./parse-v2.ts";

export type ProtocolVersion = 1 | 2;

export interface DecodeLimits {
  /** Largest accepted decompressed message, in bytes, as announced by the snappy header. */
  maxDecodedBytes: number;
}

/**
 * Picks the schema from Content-Type (remote write 2.0 §Content-Type) and checks Content-Encoding.
 * A missing Content-Type or Content-Encoding means 1.0/snappy, as Prometheus' own receiver assumes;
 * anything else we cannot decode is 415, so a 2.0 sender can fall back to 1.0.
 */
export function negotiate(contentType: string | null, contentEncoding: string | null): ProtocolVersion {
  const encoding = (contentEncoding ?? "").trim().toLowerCase();
  if (encoding !== "" && encoding !== "snappy") {
    throw new DomainError(
      "unsupported",
      `unsupported Content-Encoding ${JSON.stringify(encoding)}: only snappy (block format) is accepted`,
    );
  }
  if (contentType === null || contentType.trim() === "") return 1;
  const [mediaType, ...params] = contentType.split(";").map((part) => part.trim());
  if (mediaType!.toLowerCase() !== "application/x-protobuf") {
    throw new DomainError(
      "unsupported",
      `unsupported Content-Type ${JSON.stringify(contentType)}: expected application/x-protobuf`,
    );
  }
  let proto = PROTO_V1;
  for (const param of params) {
    const eq = param.indexOf("=");
    if (eq > 0 && param.slice(0, eq).trim().toLowerCase() === "proto") {
      proto = param.slice(eq + 1).trim().replace(/^"|"$/g, "");
    }
  }
  if (proto === PROTO_V1) return 1;
  if (proto === PROTO_V2) return 2;
  throw new DomainError(
    "unsupported",
    `unsupported remote write message ${JSON.stringify(proto)}: expected ${PROTO_V1} or ${PROTO_V2}`,
  );
}

/** The uncompressed length a snappy block announces in its varint header (at most 2^32 - 1). */
export function snappyDecodedLength(block: Uint8Array): number {
  let length = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= block.length) throw new DomainError("malformed", "malformed snappy block: truncated length header");
    const byte = block[i]!;
    length += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) {
      if (length > 0xffffffff) break;
      return length;
    }
  }
  throw new DomainError("malformed", "malformed snappy block: invalid length header");
}

/** Checks the announced size against the limit *before* decompressing, then decompresses. */
export function decompress(block: Uint8Array, maxDecodedBytes: number): Uint8Array {
  const announced = snappyDecodedLength(block);
  if (announced > maxDecodedBytes) {
    throw new DomainError(
      "too_large",
      `snappy block announces ${announced} uncompressed bytes, over the limit of ${maxDecodedBytes} bytes`,
    );
  }
  try {
    // copyOutputData: a JS-owned buffer instead of a native "external" one; measured here 10x
    // faster on average under Bun (external buffers stress the GC: 0.9 ms vs 0.09 ms per request).
    return snappy.uncompressSync(Buffer.from(block.buffer, block.byteOffset, block.byteLength), {
      copyOutputData: true,
    }) as Buffer;
  } catch (err) {
    throw new DomainError("malformed", `malformed snappy block: ${(err as Error).message}`);
  }
}

/** Parses a decompressed message with the schema the headers selected; 400 when it is not valid protobuf. */
export function parseMessage(message: Uint8Array, version: ProtocolVersion): ParsedRequest {
  try {
    return version === 1 ? parseV1(message) : parseV2(message);
  } catch (err) {
    if (err instanceof DomainError) throw err;
    throw new DomainError(
      "malformed",
      `malformed protobuf ${version === 1 ? PROTO_V1 : PROTO_V2}: ${(err as Error).message}`,
    );
  }
}

/** A request body (a snappy block) as the series it carries: decompressed within the limit, then parsed. */
export function decodeBody(body: Uint8Array, version: ProtocolVersion, limits: DecodeLimits): ParsedRequest {
  return parseMessage(decompress(body, limits.maxDecodedBytes), version);
}
