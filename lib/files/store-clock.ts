// The shared directory's own clock. The replicas decide from file times when something is abandoned
// (a temp file, an upload, a lock) or unused long enough (a blob), and those times are set by the file
// server: over NFS, the server stamps a file's modification time with *its* clock when a client
// creates it, writes it or truncates it, and when a client sets its times to "now". A replica's own
// clock (Date.now()) may disagree with the server's and with the other replicas' by any amount (no
// NTP, a VM paused or restored): compared with a file's time, a clock running ahead took another
// replica's live file for abandoned, and one running behind never cleaned up. So every such decision
// compares file times only with a time read from the directory itself (`storeClock`), once per
// decision pass, and a writer that marks a file fresh has the server stamp it (`touchNow`): no
// replica's clock is ever written into a file's time, or into a time stored to be compared with one.
//
// Assumed now: every time a file in the directory gets comes from one clock, the file server's (on a
// local disk: the kernel's); it may be any distance from the replicas' clocks, but it moves forward at
// its normal pace. An NFS server that delegates timestamps to its clients (NFS 4.2's timestamp
// delegation) lets them stamp files with their own clocks: such a server is not supported. A server clock stepped forward makes files look older (what
// is past its limit by then goes); stepped back, they look younger (cleanup waits until it catches up).
import { closeSync, constants, fstatSync, ftruncateSync, openSync, utimesSync } from "node:fs";
import { open, rm } from "node:fs/promises";

/** The store's time now, in ms since the epoch: what the file server would stamp on a file now. */
export type Clock = () => Promise<number>;

/**
 * The store's clock, read through `probe` (a path in the store no one else uses, such as a fresh
 * FileStore.tempPath: it names its process, so one left by a crash is removed like any temp file).
 * Each reading creates the probe, has the server stamp it (a truncation, as `touchNow` does), takes
 * its modification time and removes it: a reading is a time the server gave a file during the call.
 * Nothing is cached: a decision pass reads it once (`perPass`), the next reads it again.
 * Its calls are promise-based (the thread pool's): a file server that stopped answering holds up the
 * pass that reads the clock, not the event loop (nor so /readyz, which then says so).
 */
export function storeClock(probe: () => string): Clock {
  return async () => {
    const path = probe();
    const handle = await open(path, constants.O_WRONLY | constants.O_CREAT, 0o644);
    try {
      await handle.truncate(0); // new, so to its own size: the server stamps it
      return (await handle.stat()).mtimeMs;
    } finally {
      await handle.close();
      await rm(path, { force: true });
    }
  };
}

/**
 * One reading of `clock` for one decision pass (a request): taken at its first use, the same after;
 * a pass that needs none reads nothing. Taken before a file's time is looked at, a reading can only
 * make the file look younger than it is, never older.
 */
export function perPass(clock: Clock): Clock {
  let reading: Promise<number> | undefined;
  return () => reading ??= clock();
}

/**
 * Sets `path`'s modification time to the file server's now; false when there is no such file. It is
 * truncated to its own size: Linux marks a truncated file's times for update whatever the size, and
 * an NFS client then asks the server to set them to the server's time (utimes with a time, even
 * Date.now(), would write this host's clock into the file). Its bytes stay as they are. In place:
 * three system calls. A file this process may not open for writing (a file of mode 0444 from the
 * older layout) gets this host's time instead.
 */
export function touchNow(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return false;
    if (code !== "EACCES" && code !== "EPERM") throw err;
    const now = new Date();
    utimesSync(path, now, now); // the owner may set times it may not write
    return true;
  }
  try {
    stamp(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** `touchNow` for a file open for writing: has the server stamp it with its now. */
export function stamp(fd: number): void {
  ftruncateSync(fd, fstatSync(fd).size);
}
