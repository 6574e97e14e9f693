// GET /alerts: the alerts firing now, for the status page. Alerts are the host's monitoring concern,
// not a function's: the runtime asks the stack's Alertmanager (ALERTMANAGER_URL) for its active alerts,
// silenced and inhibited ones left out, within a short timeout, and passes on a trimmed list.
//   ALERTMANAGER_URL unset       200 {configured: false, alerts: []}
//   Alertmanager answered        200 {configured: true, alerts: [...]}, critical first, then oldest first
//   it did not, or not a list    502 {error, status}: the reason (unreachable, timed out, its status)
import { errorResponse, json } from "@tarsd/sdk";

/** How long Alertmanager has to answer: the page polls every few seconds, and must not hang. */
export const ALERTMANAGER_TIMEOUT_MS = 2000;

/** What Alertmanager's API asks for: active alerts only, neither silenced nor inhibited. */
export const ALERTMANAGER_QUERY = "/api/v2/alerts?active=true&silenced=false&inhibited=false";

export interface FiringAlert {
  /** The alert rule's name (`alertname`). */
  name: string;
  severity: string | null;
  /** Alertmanager's state: `active`, or `unprocessed` for an alert it has only just received. */
  state: string;
  /** When it started firing (RFC 3339). */
  startsAt: string;
  summary: string | null;
  description: string | null;
  /** Every label of the alert (alertname, severity, instance, node, service, ...). */
  labels: Record<string, string>;
}

export interface AlertsAnswer {
  configured: boolean;
  alerts: FiringAlert[];
}

const SEVERITY_ORDER = ["critical", "warning", "info"];
const rank = (severity: string | null) => {
  const i = SEVERITY_ORDER.indexOf(severity ?? "");
  return i === -1 ? SEVERITY_ORDER.length : i;
};

/** The GET /alerts handler over `alertmanagerUrl` (a base URL without its trailing slash, or unset). */
export function alertsHandler(
  alertmanagerUrl: string | undefined,
  timeoutMs = ALERTMANAGER_TIMEOUT_MS,
): () => Promise<Response> {
  const noStore = { "cache-control": "no-store" };
  if (alertmanagerUrl === undefined) {
    return () => Promise.resolve(json({ configured: false, alerts: [] } satisfies AlertsAnswer, 200, noStore));
  }
  const url = `${alertmanagerUrl}${ALERTMANAGER_QUERY}`;
  return async () => {
    let body: unknown;
    try {
      // The timeout covers the body too: a peer that answers its headers and then stalls is cut off.
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } });
      if (!res.ok) {
        await res.body?.cancel();
        return errorResponse(502, `Alertmanager answered HTTP ${res.status}`, noStore);
      }
      body = await res.json();
    } catch (err) {
      return errorResponse(502, unreachable(err, timeoutMs), noStore);
    }
    const alerts = trimmed(body);
    if (alerts === undefined) {
      return errorResponse(502, "Alertmanager answered something other than a list of alerts", noStore);
    }
    return json({ configured: true, alerts } satisfies AlertsAnswer, 200, noStore);
  };
}

function unreachable(err: unknown, timeoutMs: number): string {
  const name = (err as Error)?.name;
  if (name === "TimeoutError" || name === "AbortError") return `Alertmanager did not answer within ${timeoutMs} ms`;
  if (err instanceof SyntaxError) return "Alertmanager answered something other than JSON";
  const code = (err as { code?: string })?.code;
  return `Alertmanager is unreachable${code ? ` (${code})` : ""}: ${(err as Error)?.message ?? String(err)}`;
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
const stringsOf = (x: unknown): Record<string, string> =>
  isRecord(x)
    ? Object.fromEntries(Object.entries(x).filter((e): e is [string, string] => typeof e[1] === "string"))
    : {};

/** Alertmanager's gettableAlerts, trimmed and sorted; undefined when it is not a list of alerts. */
function trimmed(body: unknown): FiringAlert[] | undefined {
  if (!Array.isArray(body) || !body.every(isRecord)) return undefined;
  const alerts = body.map((alert): FiringAlert => {
    const labels = stringsOf(alert.labels);
    const annotations = stringsOf(alert.annotations);
    const status = isRecord(alert.status) ? alert.status : {};
    return {
      name: labels.alertname ?? "",
      severity: labels.severity ?? null,
      state: typeof status.state === "string" ? status.state : "active",
      startsAt: typeof alert.startsAt === "string" ? alert.startsAt : "",
      summary: annotations.summary ?? null,
      description: annotations.description ?? null,
      labels,
    };
  });
  return alerts.sort((a, b) =>
    rank(a.severity) - rank(b.severity) || time(a.startsAt) - time(b.startsAt) || compare(a.name, b.name) ||
    compare(JSON.stringify(a.labels), JSON.stringify(b.labels))
  );
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const time = (rfc3339: string) => Date.parse(rfc3339) || 0;
