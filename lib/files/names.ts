// Which file names may be stored. Names map 1:1 to directory entries shared by every replica, so
// anything that could escape the directory, hide a file, or not fit a filesystem entry is refused.
// The rules are written once, here: the store checks them (FileStore, ResumableUploads) and the
// OpenAPI schema (openapi.ts) is built from the same pieces.
import { DomainError } from "@tarsd/sdk";

export const MAX_NAME_BYTES = 255;

/** Characters no name may hold, as the inside of a regular-expression class: separators, controls. */
export const SEPARATOR_CHARS = "/\\\\";
export const CONTROL_CHARS = "\\u0000-\\u001F\\u007F";

const separator = new RegExp(`[${SEPARATOR_CHARS}]`);
const control = new RegExp(`[${CONTROL_CHARS}]`);

/** Returns the name unchanged when acceptable, otherwise throws naming the rule it broke. */
export function validateName(name: string | null | undefined): string {
  if (name === null || name === undefined || name === "") throw new DomainError("invalid_name", "file name is missing");
  if (separator.test(name)) throw new DomainError("invalid_name", "file name must not contain '/' or '\\'");
  if (control.test(name)) throw new DomainError("invalid_name", "file name must not contain control characters");
  if (name.startsWith(".")) {
    throw new DomainError("invalid_name", "file name must not start with '.' (this also refuses '..')");
  }
  if (new TextEncoder().encode(name).length > MAX_NAME_BYTES) {
    throw new DomainError("invalid_name", `file name must be at most ${MAX_NAME_BYTES} bytes in UTF-8`);
  }
  return name;
}
