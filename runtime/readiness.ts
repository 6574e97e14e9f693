// Whether this replica can serve: not draining, and every function's own readiness check answering
// in time. A check that hangs (a file store on an NFS server that is gone) counts as not ready once
// READY_TIMEOUT_MS passes, so /readyz answers 503 at once instead of hanging with it; and it is not
// started again while it hangs (one check in flight per function), so hung checks never pile up.
import type { LoadedFunction } from "./loader.ts";

/** Function name -> why it is not ready; empty when all are. */
export type Unready = Record<string, string>;

export function readinessChecks(functions: LoadedFunction[], timeoutMs: number): () => Promise<Unready> {
  const inFlight = new Map<string, Promise<string | undefined>>();
  const check = (fn: LoadedFunction): Promise<string | undefined> => {
    let pending = inFlight.get(fn.name);
    if (!pending) {
      // (a bundle built before functions had `ready` has none: it is ready when loaded)
      pending = Promise.resolve(fn.module.ready?.()).then(
        () => undefined,
        (err: unknown) => (err instanceof Error ? err.message : String(err)),
      ).finally(() => inFlight.delete(fn.name));
      inFlight.set(fn.name, pending);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`its readiness check did not answer within ${timeoutMs} ms`), timeoutMs);
    });
    return Promise.race([pending, late]).finally(() => clearTimeout(timer));
  };
  return async () => {
    const reasons = await Promise.all(functions.map(check));
    return Object.fromEntries(
      functions.flatMap((fn, i) => (reasons[i] === undefined ? [] : [[fn.name, reasons[i]!]])),
    );
  };
}
