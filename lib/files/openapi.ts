// The file service's OpenAPI pieces: the schemas its functions declare as components, and the
// parameters and bodies their routes share. The name rules are names.ts's, spelled as JSON Schema.
import { ref } from "@tarsd/sdk";
import { CONTROL_CHARS, MAX_NAME_BYTES, SEPARATOR_CHARS } from "./names.ts";

/** One stored file as listed by GET /files and returned by uploads. */
const STORED_FILE_SCHEMA = {
  type: "object",
  required: ["name", "size", "sha256", "modified"],
  properties: {
    name: { type: "string" },
    size: { type: "integer", minimum: 0, description: "Bytes" },
    sha256: { type: "string", pattern: "^[0-9a-f]{64}$", description: "Hex SHA-256 of the content (also the ETag)" },
    modified: { type: "string", format: "date-time" },
  },
} as const;

/** The names lib/files/names.ts accepts (JSON Schema cannot count UTF-8 bytes: see maxLength). */
const FILE_NAME_SCHEMA = {
  type: "string",
  minLength: 1,
  maxLength: MAX_NAME_BYTES,
  pattern: `^[^.${SEPARATOR_CHARS}${CONTROL_CHARS}][^${SEPARATOR_CHARS}${CONTROL_CHARS}]*$`,
  description: `At most ${MAX_NAME_BYTES} bytes in UTF-8; no '/', '\\' or control characters; must not start with '.'`,
} as const;

/** The component schemas the file functions declare (`defineFunction({ schemas })`). */
export const FILE_SCHEMAS = { StoredFile: STORED_FILE_SCHEMA, FileName: FILE_NAME_SCHEMA };

/** The `{name}` path parameter of /files/:name. */
export const nameParam = { name: "name", in: "path", required: true, schema: ref("FileName") };

/** Binary file content, as served by downloads. */
export const fileBytes = (description: string) => ({
  description,
  content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } },
});
