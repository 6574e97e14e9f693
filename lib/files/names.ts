// Which file names may be stored. Names map 1:1 to directory entries shared by every replica, so
// anything that could escape the directory, hide a file, or not fit a filesystem entry is refused.
import { DomainError } from "@tarsd/sdk";

export const MAX_NAME_BYTES = 255;

/** Returns the name unchanged when acceptable, otherwise throws a 400 naming the rule it broke. */
export function validateName(name: string | null | undefined): string {
  if (name === null || name === undefined || name === "") throw new DomainError("invalid_name", "file name is missing");
  if (/[\/\\]/.test(name)) throw new DomainError("invalid_name", "file name must not contain '/' or '\\'");
  // Control characters are exactly what this refuses.
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) {
    throw new DomainError("invalid_name", "file name must not contain control characters");
  }
  if (name.startsWith(".")) {
    throw new DomainError("invalid_name", "file name must not start with '.' (this also refuses '..')");
  }
  if (new TextEncoder().encode(name).length > MAX_NAME_BYTES) {
    throw new DomainError("invalid_name", `file name must be at most ${MAX_NAME_BYTES} bytes in UTF-8`);
  }
  return name;
}
