// A full disk or quota is the one storage failure a client can act on (free space, retry later):
// it becomes DomainError "storage_full" (507 with a reason), never an anonymous 500. The caller still
// removes what it had written, so a failed upload leaves nothing behind.
import { DomainError } from "@tarsd/sdk";

const FULL = new Set(["ENOSPC", "EDQUOT"]);

export async function storageErrors<T>(write: () => T | Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== undefined && FULL.has(code)) {
      throw new DomainError(
        "storage_full",
        code === "EDQUOT"
          ? "the storage quota is exhausted: nothing was stored"
          : "the disk is full: nothing was stored",
      );
    }
    throw err;
  }
}
