// Grafana's provisioning as Grafana reads it, served on :3000 (see Dockerfile).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const PROVISIONING = process.env.GF_PATHS_PROVISIONING ?? "/etc/grafana/provisioning";
const user = process.env.GF_SECURITY_ADMIN_USER ?? "admin";
const passwordFile = process.env.GF_SECURITY_ADMIN_PASSWORD__FILE;
const password = passwordFile
  ? readFileSync(passwordFile, "utf8").trim()
  : (process.env.GF_SECURITY_ADMIN_PASSWORD ?? "admin");

// deno-lint-ignore no-explicit-any
type Any = any;
const expand = (text: string) => text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => process.env[a ?? b] ?? "");

/** The YAML (or JSON) files of a directory, parsed; unreadable ones are logged and skipped, as Grafana does. */
function readAll(dir: string, suffix: RegExp, parse: (text: string) => Any): Any[] {
  let entries: string[];
  try {
    entries = readdirSync(dir).filter((f) => suffix.test(f)).sort();
  } catch (err) {
    console.error(`provisioning: cannot list ${dir}: ${err}`);
    return [];
  }
  return entries.flatMap((file) => {
    try {
      return [parse(readFileSync(join(dir, file), "utf8"))];
    } catch (err) {
      console.error(`provisioning: cannot read ${join(dir, file)}: ${err}`);
      return [];
    }
  });
}

const datasources = readAll(join(PROVISIONING, "datasources"), /\.ya?ml$/, (t) => Bun.YAML.parse(expand(t)))
  .flatMap((doc) => doc?.datasources ?? [])
  .map((ds: Any) => ({
    uid: ds.uid,
    name: ds.name,
    type: ds.type,
    url: ds.url,
    isDefault: Boolean(ds.isDefault),
    jsonData: ds.jsonData ?? {},
    // Grafana never returns secrets: it says which ones are set.
    secureJsonFields: Object.fromEntries(
      Object.entries(ds.secureJsonData ?? {}).filter(([, v]) => String(v ?? "") !== "").map(([k]) => [k, true]),
    ),
  }));
const dashboards = readAll(join(PROVISIONING, "dashboards"), /\.ya?ml$/, (t) => Bun.YAML.parse(expand(t)))
  .flatMap((doc) => doc?.providers ?? [])
  .flatMap((provider: Any) =>
    readAll(provider.options?.path ?? "", /\.json$/, JSON.parse).map((d: Any) => ({
      uid: d.uid,
      title: d.title,
      type: "dash-db",
      folderTitle: provider.folder ?? "General",
      panels: (d.panels ?? []).length,
    }))
  );
console.log(`provisioned ${datasources.length} datasources, ${dashboards.length} dashboards`);

const authorized = (req: Request) => req.headers.get("authorization") === `Basic ${btoa(`${user}:${password}`)}`;
Bun.serve({
  port: 3000,
  fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/api/health") return Response.json({ database: "ok", version: "stand-in" });
    if (!authorized(req)) return Response.json({ message: "Unauthorized" }, { status: 401 });
    if (path === "/api/search") return Response.json(dashboards);
    if (path === "/api/datasources") return Response.json(datasources);
    return Response.json({ message: "Not found" }, { status: 404 });
  },
});
