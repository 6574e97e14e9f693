// The OpenAPI 3.1 document for /openapi.json, built from what this replica actually mounts: every
// route of every loaded function (method, path, summary, auth and its optional `openapi` fragment),
// plus the runtime's own endpoints under the tag "runtime". Nothing here knows any function.
import { basename } from "node:path";
import { errorOf, jsonOf, openReason, type RouteInfo, routeNeedsAuth, SDK_SCHEMAS } from "@tarsd/sdk";

export interface DocumentedFunction {
  name: string;
  file: string;
  sha256: string;
  module: { routes: RouteInfo[]; schemas?: Record<string, unknown> };
}

type Operation = Record<string, unknown> & { responses?: Record<string, unknown>; parameters?: Parameter[] };
interface Parameter {
  name: string;
  in: string;
  [key: string]: unknown;
}

export const RUNTIME_TAG = "runtime";

/** `/files/:name` -> `/files/{name}`. */
export function toOpenApiPath(path: string): string {
  return path
    .split("/")
    .map((segment) => (segment.startsWith(":") ? `{${segment.slice(1)}}` : segment))
    .join("/");
}

export function buildOpenApi(functions: DocumentedFunction[], info: { title?: string; version?: string } = {}) {
  const paths: Record<string, Record<string, Operation>> = {};
  const add = (path: string, method: string, operation: Operation) => {
    const item = (paths[toOpenApiPath(path)] ??= {});
    const key = method.toLowerCase();
    if (item[key]) throw new Error(`two routes declare ${method} ${path}`);
    item[key] = operation;
  };

  for (const fn of functions) {
    for (const route of fn.module.routes) add(route.path, route.method, functionOperation(fn, route));
  }
  for (const [path, operation] of Object.entries(runtimeOperations())) add(path, "GET", operation);

  return {
    openapi: "3.1.0",
    info: {
      title: info.title ?? "TF-TARSD",
      version: info.version ?? "0.1.0",
      description: "Functions loaded by this replica: " +
        (functions.map((fn) => `${fn.name} (sha256 ${fn.sha256.slice(0, 12)})`).join(", ") || "none") +
        ". Errors are JSON `{error, status}`.",
    },
    tags: [
      ...functions.map((fn) => ({ name: fn.name, description: `${basename(fn.file)}, sha256 ${fn.sha256}` })),
      { name: RUNTIME_TAG, description: "Health, readiness, metrics and introspection of the runtime itself" },
    ],
    paths,
    components: {
      schemas: componentSchemas(functions),
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          description: "The function's own token (e.g. REMOTE_WRITE_TOKEN), else AUTH_TOKEN, when the replica sets one",
        },
      },
    },
  };
}

/** The SDK's schemas and every function's; two definitions of one name must be the same schema. */
function componentSchemas(functions: DocumentedFunction[]): Record<string, unknown> {
  const schemas: Record<string, unknown> = { ...SDK_SCHEMAS };
  for (const fn of functions) {
    for (const [name, schema] of Object.entries(fn.module.schemas ?? {})) {
      if (name in schemas && JSON.stringify(schemas[name]) !== JSON.stringify(schema)) {
        throw new Error(`function ${fn.name} declares schema ${name}, which another defines differently`);
      }
      schemas[name] = schema;
    }
  }
  return schemas;
}

function functionOperation(fn: DocumentedFunction, route: RouteInfo): Operation {
  const fragment = (route.openapi ?? {}) as Operation;
  const secured = routeNeedsAuth(route);
  const declared = fragment.parameters ?? [];
  const pathParams: Parameter[] = route.path
    .split("/")
    .filter((segment) => segment.startsWith(":"))
    .map((segment) => segment.slice(1))
    .filter((name) => !declared.some((p) => p.in === "path" && p.name === name))
    .map((name) => ({ name, in: "path", required: true, schema: { type: "string" } }));
  const parameters = [...pathParams, ...declared];
  const open = openReason(route);
  const description = [fragment.description, open && `Open to anyone, no token: ${open}.`].filter(Boolean).join("\n\n");
  const operation: Operation = {
    operationId: operationId(fn.name, route),
    summary: route.summary,
    tags: [fn.name],
    ...fragment,
    ...(description ? { description } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    responses: {
      ...(secured ? { "401": errorOf("Bearer token missing or wrong (only when the replica sets AUTH_TOKEN)") } : {}),
      ...(fragment.responses ?? {}),
      default: errorOf("Any other error"),
    },
  };
  // Secured: the bearer token, optional in the document since auth is off unless a token is set. Open
  // (a read, or a write that opted out with `auth: { none }`): no security requirement at all.
  operation.security = secured ? [{}, { bearerAuth: [] }] : [];
  return operation;
}

function operationId(fn: string, route: RouteInfo): string {
  const words = route.path.split("/").filter(Boolean).map((s) => (s.startsWith(":") ? `by_${s.slice(1)}` : s));
  return [fn, route.method.toLowerCase(), ...words].join("_").replace(/[^A-Za-z0-9_]/g, "_");
}

function runtimeOperations(): Record<string, Operation> {
  const op = (
    id: string,
    summary: string,
    ok: Record<string, unknown>,
    extra: Record<string, unknown> = {},
  ): Operation => ({
    operationId: `runtime_${id}`,
    summary,
    tags: [RUNTIME_TAG],
    responses: { "200": ok, ...extra },
  });
  const status = (value: string) =>
    jsonOf(value, { type: "object", required: ["status"], properties: { status: { type: "string" } } });
  return {
    "/healthz": op("healthz", "Liveness: 200 while the process runs.", status("alive")),
    "/readyz": op(
      "readyz",
      "Readiness: 503 once draining for shutdown, or while a function cannot serve (its storage does not answer).",
      status("ready"),
      { "503": status("draining, or unavailable with each function's reason") },
    ),
    "/metrics": op("metrics", "Prometheus metrics (text exposition format).", {
      description: "Metrics",
      content: { "text/plain": { schema: { type: "string" } } },
    }),
    "/functions": op(
      "functions",
      "The functions this replica runs, with the file each was loaded from, its sha256 and its routes.",
      jsonOf("Loaded functions", {
        type: "array",
        items: {
          type: "object",
          required: ["name", "file", "sha256", "routes"],
          properties: {
            name: { type: "string" },
            file: { type: "string", description: "<name>.js: the deployed bundle; <name>.ts: the source" },
            sha256: { type: "string", pattern: "^[0-9a-f]{64}$" },
            routes: {
              type: "array",
              items: {
                type: "object",
                required: ["method", "path", "summary"],
                properties: { method: { type: "string" }, path: { type: "string" }, summary: { type: "string" } },
              },
            },
          },
        },
      }),
    ),
    "/alerts": op(
      "alerts",
      "The stack's firing alerts, from its Alertmanager (ALERTMANAGER_URL): active ones, neither silenced nor " +
        "inhibited, critical first, then oldest first. Without ALERTMANAGER_URL: `configured` false, no alerts.",
      jsonOf("Firing alerts", {
        type: "object",
        required: ["configured", "alerts"],
        properties: {
          configured: { type: "boolean", description: "false: this replica has no ALERTMANAGER_URL" },
          alerts: {
            type: "array",
            items: {
              type: "object",
              required: ["name", "severity", "state", "startsAt", "summary", "description", "labels"],
              properties: {
                name: { type: "string", description: "The alert rule (label alertname)" },
                severity: { type: ["string", "null"], description: "Label severity: critical, warning, ..." },
                state: { type: "string", description: "Alertmanager's: active, or unprocessed when just received" },
                startsAt: { type: "string", description: "When it started firing (RFC 3339)" },
                summary: { type: ["string", "null"] },
                description: { type: ["string", "null"] },
                labels: { type: "object", additionalProperties: { type: "string" } },
              },
            },
          },
        },
      }),
      { "502": errorOf("Alertmanager did not answer in time, is unreachable, or answered an error") },
    ),
    "/openapi.json": op("openapi", "This document.", jsonOf("OpenAPI 3.1 document", { type: "object" })),
  };
}
