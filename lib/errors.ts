// The few ways a domain library (files, remote write) can refuse or fail, without any HTTP: the host
// maps each kind to one status in one table (runtime/http/errors.ts), so a library never decides
// what a client sees and never branches on a status code.
export type FailureKind =
  | "not_found" //         the thing asked for does not exist
  | "too_large" //         over a configured size limit
  | "invalid_name" //      a name the store refuses
  | "malformed" //         input that cannot be decoded or is inconsistent
  | "conflict" //          the request does not match the thing's current state (e.g. a stale offset)
  | "busy" //              another writer holds the thing right now: try again shortly
  | "unsupported" //       a format or encoding this library does not speak
  | "storage_full" //      the disk or the quota is full
  | "sink_unavailable" //  the downstream store cannot take it now: try again later
  | "sink_rejected"; //    the downstream store refuses this data: retrying cannot help

export class DomainError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
    this.name = "DomainError";
  }
}

export const isFailure = (err: unknown, kind: FailureKind): err is DomainError =>
  err instanceof DomainError && err.kind === kind;
