// Reusable OpenAPI pieces for the `openapi` fragments that functions declare on their routes.
// The schemas themselves live once, in components (see runtime/openapi.ts); these are references.

/** `{error, status}`: the body of every error response (see errors.ts). */
export const ERROR_SCHEMA = {
  type: "object",
  required: ["error", "status"],
  properties: {
    error: { type: "string", description: "Human-readable reason" },
    status: { type: "integer", description: "The HTTP status, repeated" },
  },
} as const;

/** One stored file as listed by GET /files and returned by uploads. */
export const STORED_FILE_SCHEMA = {
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
export const FILE_NAME_SCHEMA = {
  type: "string",
  minLength: 1,
  maxLength: 255,
  pattern: "^[^./\\\\\\u0000-\\u001F\\u007F][^/\\\\\\u0000-\\u001F\\u007F]*$",
  description: "At most 255 bytes in UTF-8; no '/', '\\' or control characters; must not start with '.'",
} as const;

/**
 * The field names a multipart form may carry: busboy refuses a part header with raw control bytes
 * as "Malformed part header" (400), so a form object spells that out for its extra fields too.
 */
export const FORM_FIELD_NAMES = {
  pattern: "^[^\\u0000-\\u001F\\u007F]*$",
  description: "Multipart field names carry no control characters (the parser refuses the part header)",
} as const;

export const COMPONENT_SCHEMAS = { Error: ERROR_SCHEMA, StoredFile: STORED_FILE_SCHEMA, FileName: FILE_NAME_SCHEMA };

export const ref = (name: keyof typeof COMPONENT_SCHEMAS) => ({ $ref: `#/components/schemas/${name}` });

/** The `{name}` path parameter of /files/:name. */
export const nameParam = { name: "name", in: "path", required: true, schema: ref("FileName") };

/** A JSON error response: `errorOf("No such file")`. */
export const errorOf = (description: string) => ({
  description,
  content: { "application/json": { schema: ref("Error") } },
});

/** A JSON success response with the given schema. */
export const jsonOf = (description: string, schema: Record<string, unknown>, headers?: Record<string, unknown>) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { "application/json": { schema } },
});

/** Binary file content, as served by downloads. */
export const fileBytes = (description: string) => ({
  description,
  content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } },
});
