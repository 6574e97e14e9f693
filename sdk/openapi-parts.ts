// Reusable OpenAPI pieces for the `openapi` fragments that functions declare on their routes. Schemas
// live once, in the document's components (the SDK's Error, and what each function declares); fragments
// point at them with `ref`.

/** `{error, status}`: the body of every error response (see errors.ts). */
export const ERROR_SCHEMA = {
  type: "object",
  required: ["error", "status"],
  properties: {
    error: { type: "string", description: "Human-readable reason" },
    status: { type: "integer", description: "The HTTP status, repeated" },
  },
} as const;

/**
 * The field names a multipart form may carry: busboy refuses a part header with raw control bytes
 * as "Malformed part header" (400), so a form object spells that out for its extra fields too.
 */
export const FORM_FIELD_NAMES = {
  pattern: "^[^\\u0000-\\u001F\\u007F]*$",
  description: "Multipart field names carry no control characters (the parser refuses the part header)",
} as const;

/** The component schemas every document has; a function adds its own (`schemas` of defineFunction). */
export const SDK_SCHEMAS = { Error: ERROR_SCHEMA };

/** A reference to a component schema: the SDK's (`Error`) or one its function declares. */
export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

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
