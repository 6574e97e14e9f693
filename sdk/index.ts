// The SDK a function is written against, and the host mounts: one module per job, one entry point.
// Functions import it as the package "@tarsd/sdk", which deploy/bundle-function keeps external like
// any npm package, so one copy runs per process and the host recognises its errors by class.
export * from "./define-function.ts";
export * from "./errors.ts";
export * from "./auth.ts";
export * from "./body.ts";
export * from "./route-table.ts";
export * from "./response-headers.ts";
export * from "./multipart.ts";
export * from "./form-framing.ts";
export * from "./openapi-parts.ts";
export * from "./env.ts";
