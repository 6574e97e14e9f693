// The aims the run is judged by: the speed targets (runtime req/s over a peer's, in the same run)
// and the upload RSS bound.
import { NGINX_1_LABEL, ONLY, RSS_BOUND_MIB, RSS_GIB, SEED_LABEL } from "./config.ts";
import { round } from "./format.ts";
import type { Row } from "./measure.ts";
import type { RssResult } from "./rss.ts";

/** The speed targets: runtime req/s over the peer's, in the same run. */
const AIMS = [
  { case: "POST /upload (multipart)", size: "1 MiB", peer: SEED_LABEL, aim: 4 },
  { case: "POST /download (multipart)", size: "1 MiB", peer: SEED_LABEL, aim: 3 },
  { case: "POST /download (multipart)", size: "4 KiB", peer: SEED_LABEL, aim: 3 },
  { case: "GET /files/:name", size: "1 MiB", peer: NGINX_1_LABEL, aim: 0.9 },
  { case: "GET /files/:name", size: "4 KiB", peer: NGINX_1_LABEL, aim: 0.5 },
] as const;

export type Aims = ReturnType<typeof checkTargets>;

/** Each aim with what was measured and PASS (true), FAIL (false) or SKIPPED (null: its half did not run). */
export function checkTargets(rows: Row[], rss: RssResult[]) {
  const speed = AIMS.map((a) => {
    const row = rows.find((r) => r.case === a.case && r.size === a.size && r.server === "runtime");
    const measured = row?.ratio?.[a.peer] ?? 0;
    return { ...a, measured: round(measured, 3), pass: ONLY === "rss" ? null : measured >= a.aim };
  });
  return {
    speed,
    upload_rss_bound: {
      aim: `Δ RSS ≤ ${RSS_BOUND_MIB} MiB for a ${RSS_GIB} GiB upload`,
      measured: rss.map((r) => ({ case: r.case, delta_mib: round(r.deltaMiB, 1) })),
      pass: rss.length === 0 ? null : rss.every((r) => r.ok),
    },
  };
}

/** 0 when every row ran clean and every aim that was measured holds, 1 otherwise. */
export function exitStatus(rows: Row[], rss: RssResult[], aims: Aims): number {
  const rowsOk = rows.every((r) => r.ok);
  return rowsOk && aims.speed.every((a) => a.pass !== false) && (rss.length === 0 || aims.upload_rss_bound.pass)
    ? 0
    : 1;
}
