// The browser side of every replica: the page in web/ (upload, list, download, delete, status),
// /openapi.json built from the loaded functions, /docs (Swagger UI) and /vendor/tus.min.js (the
// page's resumable uploads), both served from node_modules: no CDN, so it works on a cut-off network. Mounted on every replica, whatever functions it runs:
// the page looks at /functions and shows only what this replica serves.
// Only exact file paths are mounted (alwaysStatic), no wildcard, so nothing here can shadow a
// function route, /metrics or the JSON 404/405 answers for unknown paths.
import { Elysia } from "elysia";
import { staticPlugin } from "@elysiajs/static";
import { openapi } from "@elysiajs/openapi";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { buildOpenApi, type DocumentedFunction, toOpenApiPath } from "./openapi.ts";

export const WEB_DIR = join(import.meta.dir, "..", "web");
const SWAGGER_DIR = dirname(Bun.resolveSync("swagger-ui-dist/package.json", import.meta.dir));
const TUS_CLIENT = join(dirname(Bun.resolveSync("tus-js-client/package.json", import.meta.dir)), "dist", "tus.min.js");
export const TUS_CLIENT_PATH = "/vendor/tus.min.js";

export async function webPlugin(functions: DocumentedFunction[]) {
  const document = buildOpenApi(functions);
  const taken = new Set(functions.flatMap((fn) => fn.module.routes.map((r) => toOpenApiPath(r.path))));
  const served = readdirSync(WEB_DIR).filter((file) => !file.endsWith(".d.ts")).map((file) => `/${file}`);
  const vendored = ["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", TUS_CLIENT_PATH];
  for (const path of ["/", ...served, "/openapi.json", "/docs", ...vendored]) {
    if (taken.has(path)) throw new Error(`a function declares ${path}, which the web front end serves`);
  }
  const app = new Elysia({ name: "tarsd-web" })
    .use(
      await staticPlugin({
        assets: WEB_DIR,
        prefix: "/",
        alwaysStatic: true, // Exact routes per file; no /* wildcard.
        indexHTML: true,
        // Revalidate on every load (ETag), so a redeployed page is never stale.
        directive: "no-cache",
        maxAge: null,
        ignorePatterns: [/\.d\.ts$/], // Types for the tests, not for browsers.
        silent: true,
      }),
    )
    .use(
      openapi({
        path: "/docs",
        specPath: "/openapi.json",
        provider: "swagger-ui",
        documentation: document as never,
        exclude: { paths: [/.*/] }, // The document comes from the functions' routes, not Elysia's.
        swagger: { cdn: "/docs/swagger-ui-bundle.js", theme: "/docs/swagger-ui.css", autoDarkMode: false },
      }),
    );
  for (const file of ["swagger-ui-bundle.js", "swagger-ui.css"]) {
    app.get(
      `/docs/${file}`,
      () => new Response(Bun.file(join(SWAGGER_DIR, file)), { headers: { "cache-control": "public, max-age=86400" } }),
    );
  }
  // The page's version is pinned in package.json: a day's caching cannot serve an old one for long.
  app.get(TUS_CLIENT_PATH, () =>
    new Response(Bun.file(TUS_CLIENT), {
      headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=86400" },
    }));
  return app;
}
