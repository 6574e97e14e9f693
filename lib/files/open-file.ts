// A file opened in place (openSync), with promise-based calls for what waits on the disk. Why:
// promise-based file calls run on Bun's pool threads, and under concurrent uploads those are busy
// with fsyncs and direct writes, which a promise-based open would wait behind, where the open itself
// (a path lookup and a new inode) is quick in the kernel on a local disk. Its writes, fdatasync,
// truncate and close still go to the pool: those can wait for the device (close too: on NFS it
// writes back what is cached).
import { close, fdatasync, ftruncate, openSync, write } from "node:fs";
import { promisify } from "node:util";

export interface OpenFile {
  readonly fd: number;
  /** Writes `length` bytes of `buffer` from `offset`, at `position` (at the file's offset when null). */
  write(buffer: Uint8Array, offset: number, length: number, position: number | null): Promise<number>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  /** Closes the file once; later calls give the same promise (a descriptor's number is reused after). */
  close(): Promise<void>;
}

const writeAt = promisify(write);
const datasyncFd = promisify(fdatasync);
const truncateFd = promisify(ftruncate);
const closeFd = promisify(close);

export function openInPlace(path: string, flags: number, mode: number): OpenFile {
  const fd = openSync(path, flags, mode);
  let closing: Promise<void> | undefined;
  return {
    fd,
    write: async (buffer, offset, length, position) =>
      (await writeAt(fd, buffer, offset, length, position)).bytesWritten,
    datasync: () => datasyncFd(fd),
    truncate: (length) => truncateFd(fd, length),
    close: () => closing ??= closeFd(fd),
  };
}
