// flock(2) on an open file, through Bun's FFI: the kernel drops the lock when its holder dies, even by
// kill -9, so a lock says "its owner is alive" with no lease to expire and nothing to clean up. Locks
// belong to an open file description: the same process opening the file again is refused too.
import type { FileHandle } from "node:fs/promises";

const LOCK_EX = 2;
const LOCK_NB = 4;

type Flock = (fd: number, operation: number) => number;
let flock: Flock | undefined;

/** Loads flock from the C library; the spool cannot run where this fails (not Bun, not Linux/macOS). */
export async function loadFileLocks(): Promise<void> {
  if (flock) return;
  try {
    const ffi = await import("bun:ffi");
    const libc = ffi.dlopen(process.platform === "darwin" ? "libc.dylib" : "libc.so.6", {
      flock: { args: [ffi.FFIType.i32, ffi.FFIType.i32], returns: ffi.FFIType.i32 },
    });
    flock = libc.symbols.flock as Flock;
  } catch (err) {
    throw new Error(`the remote-write spool needs flock(2) through Bun's FFI: ${(err as Error).message}`);
  }
}

/** An exclusive lock on `file`, now or never: false when another open file description holds one. */
export function tryLock(file: FileHandle): boolean {
  if (!flock) throw new Error("file locks used before loadFileLocks()");
  return flock(file.fd, LOCK_EX | LOCK_NB) === 0;
}
