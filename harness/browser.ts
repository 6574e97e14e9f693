// Debian's Chromium, headless, driven by playwright-core: the browser tests' and the alerting test's
// (tests/web/browser.test.ts, tests/monitoring/alerting.e2e.test.ts). A profile of its own, removed on close.
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { rmSync } from "node:fs";
import { requireBinary } from "./binaries.ts";
import { tempDir } from "./runtime-process.ts";

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = tempDir("tarsd-chromium-");
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: requireBinary("chromium"),
    headless: true,
    acceptDownloads: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** What the status page's "Firing alerts" section shows (web/status.js). */
export interface StatusPageAlerts {
  /** loading, firing, none, unconfigured or error */
  state: string;
  /** Its line of text ("None firing.", ...), or the error it shows. */
  text: string;
  rows: { name: string; severity: string; summary: string; description: string; since: string | null }[];
}

/** Reads the status page's "Firing alerts" section as it is now. */
export async function statusPageAlerts(page: Page): Promise<StatusPageAlerts> {
  return await page.evaluate(() => {
    const section = document.getElementById("alerts-section")!;
    const text = (id: string) => document.getElementById(id)?.textContent ?? "";
    return {
      state: section.dataset.state ?? "",
      text: text("alerts-error") || text("alerts-status"),
      rows: [...document.querySelectorAll<HTMLTableRowElement>("#alerts tbody tr")].map((row) => ({
        name: row.querySelector("td.name")?.textContent ?? "",
        severity: row.querySelector("td.severity")?.textContent ?? "",
        summary: row.querySelector("td.summary .alert-summary")?.textContent ?? "",
        description: row.querySelector("td.summary .alert-description")?.textContent ?? "",
        since: row.querySelector("td.since time")?.getAttribute("datetime") ?? null,
      })),
    };
  });
}
