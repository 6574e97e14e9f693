// The web page in a real browser: Debian's Chromium driven by playwright-core against a started
// runtime. Screenshots go to .artifacts/ (web.png, web-phone.png, status.png, status-alerts.png,
// status-alerts-phone.png, docs.png).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { BrowserContext, Page } from "playwright-core";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";
import { type Browser, launchBrowser as launch, statusPageAlerts } from "../../harness/browser.ts";
import { type RuntimeProcess, startRuntime, tempDir } from "../../harness/runtime-process.ts";

const MiB = 1024 * 1024;
const ARTIFACTS = join(REPO_ROOT, ".artifacts");
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Opens the page and waits until it has looked at /functions and listed the files. */
async function openFiles(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]");
  return page;
}

async function uploadState(page: Page, name: string) {
  const item = page.locator(`li.upload[data-name="${name}"]`).first();
  await item.locator(":scope:not([data-state=uploading])").waitFor();
  return {
    state: await item.getAttribute("data-state"),
    progress: await item.locator("progress").evaluate((p: HTMLProgressElement) => p.value),
    detail: await item.locator(".upload-detail").textContent(),
  };
}

describe("web page (no auth, MAX_UPLOAD_BYTES = 1 MiB)", () => {
  let rt: RuntimeProcess;
  let browser: Browser;
  let page: Page;
  const alpha = randomBytes(700 * 1024);
  const beta = Buffer.from("beta: a small text file\n".repeat(100));

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    rt = await startRuntime({ MAX_UPLOAD_BYTES: String(MiB), FUNCTIONS: "upload,download" });
    browser = await launch();
    page = await openFiles(browser.context, rt.url);
  });
  afterAll(async () => {
    await browser?.close();
    await rt?.stop();
  });

  test("uploads two files through the file input: both bars reach 100% and both rows appear", async () => {
    await page.getByLabel(/Drop files here/).setInputFiles([
      { name: "alpha.bin", mimeType: "application/octet-stream", buffer: alpha },
      { name: "beta.txt", mimeType: "text/plain", buffer: beta },
    ]);
    for (const name of ["alpha.bin", "beta.txt"]) {
      const s = await uploadState(page, name);
      expect(s).toEqual({
        state: "done",
        progress: 100,
        detail: expect.stringMatching(/^100% · .+\/s · stored · sha256 [0-9a-f]{12}…$/),
      });
    }
    await page.locator('tr[data-name="beta.txt"]').waitFor();
    await page.locator('tr[data-name="alpha.bin"]').waitFor();
    const row = page.locator('tr[data-name="alpha.bin"]');
    expect(await row.locator("td.sha").textContent()).toBe(sha256(alpha));
    expect(await row.locator("td").nth(1).getAttribute("title")).toBe(`${alpha.length} bytes`);
    expect(await page.locator("#message").textContent()).toBe("");
    // The server agrees.
    const listed = (await (await fetch(`${rt.url}/files`)).json()) as { files: { name: string; sha256: string }[] };
    expect(listed.files.map((f) => [f.name, f.sha256]).sort()).toEqual([["alpha.bin", sha256(alpha)], [
      "beta.txt",
      sha256(beta),
    ]]);
  });

  test("downloads a file by its link, byte for byte", async () => {
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Download alpha.bin" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe("alpha.bin");
    const path = await download.path();
    expect(sha256(readFileSync(path))).toBe(sha256(alpha));
    expect(readFileSync(path).equals(alpha)).toBe(true);
  });

  test("deletes a file: its row goes, the other stays", async () => {
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: "Delete beta.txt" }).click();
    await page.locator('tr[data-name="beta.txt"]').waitFor({ state: "detached" });
    expect(await page.locator("#files tbody tr").count()).toBe(1);
    expect(await page.locator("#files-status").textContent()).toMatch(/^1 file, /);
    expect((await fetch(`${rt.url}/files/beta.txt`)).status).toBe(404);
  });

  test("a file over the limit shows a 'too large' message and is not stored", async () => {
    await page.getByLabel(/Drop files here/).setInputFiles([{
      name: "huge.bin",
      mimeType: "application/octet-stream",
      buffer: randomBytes(MiB + 1),
    }]);
    const s = await uploadState(page, "huge.bin");
    expect(s.state).toBe("error");
    // The route's own limit refuses it from its Content-Length, before a byte is stored.
    const expected = `huge.bin: too large: request body of ${MiB + 1} bytes is over the limit of ${MiB} bytes`;
    expect(s.detail).toBe(expected);
    expect(await page.locator("#message").textContent()).toBe(expected);
    expect(await page.locator('tr[data-name="huge.bin"]').count()).toBe(0);
    expect((await fetch(`${rt.url}/files/huge.bin`)).status).toBe(404);
  });

  test("a far larger file is refused up front, from its Content-Length, with the same kind of message", async () => {
    await page.getByLabel(/Drop files here/).setInputFiles([{
      name: "larger.bin",
      mimeType: "application/octet-stream",
      buffer: randomBytes(2 * MiB),
    }]);
    const s = await uploadState(page, "larger.bin");
    expect(s.state).toBe("error");
    expect(s.detail).toMatch(/^larger\.bin: too large: request body of 2097152 bytes is over the limit of \d+ bytes$/);
  });

  test("far past the limit, the refusal still carries the server's reason", async () => {
    await page.getByLabel(/Drop files here/).setInputFiles([{
      name: "huger.bin",
      mimeType: "application/octet-stream",
      buffer: randomBytes(3 * MiB),
    }]);
    const s = await uploadState(page, "huger.bin");
    expect(s.state).toBe("error");
    expect(s.detail).toMatch(/^huger\.bin: too large: request body of 3145728 bytes is over the limit of \d+ bytes$/);
  });

  test("a bad name shows the server's reason", async () => {
    await page.getByLabel(/Drop files here/).setInputFiles([{
      name: ".hidden",
      mimeType: "text/plain",
      buffer: Buffer.from("x"),
    }]);
    const s = await uploadState(page, ".hidden");
    expect(s.state).toBe("error");
    expect(s.detail).toBe(".hidden: refused: file name must not start with '.' (this also refuses '..')");
    await page.screenshot({ path: join(ARTIFACTS, "web.png"), fullPage: true });
  });

  test("an empty file is stored too", async () => {
    await page.getByLabel(/Drop files here/).setInputFiles([{
      name: "empty.txt",
      mimeType: "text/plain",
      buffer: Buffer.alloc(0),
    }]);
    expect((await uploadState(page, "empty.txt")).state).toBe("done");
    await page.locator('tr[data-name="empty.txt"]').waitFor();
    expect(await page.locator('tr[data-name="empty.txt"] td.sha').textContent()).toBe(sha256(Buffer.alloc(0)));
    expect(await page.locator('tr[data-name="empty.txt"] td').nth(1).textContent()).toBe("0 B");
  });

  test("is usable on a phone-sized screen: nothing overflows sideways", async () => {
    const phone = await browser.context.newPage();
    await phone.setViewportSize({ width: 375, height: 740 });
    await phone.goto(rt.url);
    await phone.waitForSelector("body[data-ready=true]");
    await phone.locator('tr[data-name="alpha.bin"]').waitFor();
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    // Cells are labelled when the table turns into cards.
    expect(
      await phone.locator('tr[data-name="alpha.bin"] td.sha').evaluate((td) =>
        getComputedStyle(td, "::before").content
      ),
    ).toBe('"SHA-256"');
    await phone.screenshot({ path: join(ARTIFACTS, "web-phone.png"), fullPage: true });
    await phone.close();
  });

  test("keyboard: Tab from the token field reaches the file chooser", async () => {
    await page.getByLabel(/Access token/).focus();
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("file-input");
  });

  test("status view: functions with their sha256, request counts, 4xx and a rate from two polls", async () => {
    const functions = (await (await fetch(`${rt.url}/functions`)).json()) as { name: string; sha256: string }[];
    const status = await browser.context.newPage();
    await status.goto(`${rt.url}/status.html?interval=300`);
    await status.waitForFunction(() => Number(document.body.dataset.polls ?? 0) >= 2);
    for (const fn of functions) {
      const row = status.locator(`tr[data-function="${fn.name}"]`);
      expect(await row.locator("td.sha").textContent()).toBe(fn.sha256);
      expect(await row.locator("td.rate").textContent()).toMatch(/^\d+\.\d\d$/);
    }
    const upload = status.locator('tr[data-function="upload"]');
    // alpha, beta, the delete, huge.bin, larger.bin, huger.bin and .hidden (4xx), empty.txt.
    expect(Number(await upload.locator("td.requests").textContent())).toBeGreaterThanOrEqual(8);
    expect(Number(await upload.locator("td.client-errors").textContent())).toBeGreaterThanOrEqual(4);
    expect(await upload.locator("td.server-errors").textContent()).toBe("0");
    // This replica has no ALERTMANAGER_URL: the alerts section says so, and shows no table.
    expect(await statusPageAlerts(status)).toEqual({
      state: "unconfigured",
      text: "Alerts are not configured on this replica: it has no Alertmanager to ask (ALERTMANAGER_URL is not set).",
      rows: [],
    });
    expect(await status.locator("#alerts").isHidden()).toBe(true);
    await status.screenshot({ path: join(ARTIFACTS, "status.png"), fullPage: true });
    await status.close();
  });

  test("/docs renders Swagger UI from this server alone, one block per operation", async () => {
    const docs = await browser.context.newPage();
    const elsewhere: string[] = [];
    docs.on("request", (r) => {
      if (!r.url().startsWith(rt.url) && !r.url().startsWith("data:")) elsewhere.push(r.url());
    });
    await docs.goto(`${rt.url}/docs`);
    const spec = (await (await fetch(`${rt.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const operations = Object.values(spec.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    await docs.locator(".opblock").nth(operations - 1).waitFor();
    expect(await docs.locator(".opblock").count()).toBe(operations);
    expect(await docs.locator(".opblock-summary-path", { hasText: "/upload" }).count()).toBeGreaterThan(0);
    expect(elsewhere).toEqual([]);
    await docs.screenshot({ path: join(ARTIFACTS, "docs.png") });
    await docs.close();
  });
});

/**
 * A stand-in for Alertmanager's GET /api/v2/alerts, answering what the test sets: its alerts, an error
 * status, or nothing at all (a hang). The real one is tests/monitoring/alerting.e2e.test.ts's.
 */
function fakeAlertmanager() {
  let answer: { alerts: unknown[] } | { status: number } | "hang" = { alerts: [] };
  const queries: string[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const url = new URL(request.url);
      if (url.pathname !== "/api/v2/alerts") return new Response("not found", { status: 404 });
      queries.push(url.search);
      if (answer === "hang") return await new Promise<Response>(() => {});
      if ("status" in answer) return Response.json({ code: answer.status, message: "boom" }, { status: answer.status });
      return Response.json(answer.alerts);
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    queries,
    set(next: typeof answer) {
      answer = next;
    },
    stop: () => server.stop(true),
  };
}

/** An alert as Alertmanager's API v2 lists it (gettableAlert). */
function gettableAlert(labels: Record<string, string>, annotations: Record<string, string>, startsAt: string) {
  return {
    labels,
    annotations,
    startsAt,
    endsAt: new Date(Date.parse(startsAt) + 4 * 3600_000).toISOString(),
    updatedAt: startsAt,
    fingerprint: Bun.hash(JSON.stringify(labels)).toString(16),
    generatorURL: "http://prometheus:9090/graph",
    receivers: [{ name: "operator" }],
    status: { state: "active", silencedBy: [], inhibitedBy: [] },
  };
}

describe("status view: firing alerts, from a stand-in Alertmanager", () => {
  let rt: RuntimeProcess;
  let browser: Browser;
  let am: ReturnType<typeof fakeAlertmanager>;
  const diskStarted = new Date(Date.now() - 3 * 3600_000).toISOString();
  const nodeStarted = new Date(Date.now() - 5 * 60_000).toISOString();
  const diskAlmostFull = gettableAlert(
    {
      alertname: "DiskAlmostFull",
      severity: "warning",
      instance: "192.168.50.2:9100",
      mountpoint: "/",
      node: "master",
    },
    {
      summary: "Disk / on 192.168.50.2:9100 is almost full",
      description: "Less than 10% of / (/dev/sda1) is free.",
    },
    diskStarted,
  );
  const nodeDown = gettableAlert(
    { alertname: "NodeDown", severity: "critical", instance: "192.168.50.3:9100", job: "node", node: "slave" },
    {
      summary: "VM 192.168.50.3:9100 is down",
      description: "node-exporter on 192.168.50.3:9100 has not answered for 2 minutes.",
    },
    nodeStarted,
  );

  beforeAll(async () => {
    am = fakeAlertmanager();
    rt = await startRuntime({ FUNCTIONS: "download", ALERTMANAGER_URL: `${am.url}/` });
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await rt?.stop();
    await am?.stop();
  });

  test(
    "firing alerts, critical first, each with severity, name, summary and since; none firing; Alertmanager failing",
    async () => {
      am.set({ alerts: [diskAlmostFull, nodeDown] });
      const status = await browser.context.newPage();
      await status.goto(`${rt.url}/status.html?interval=300`);
      await status.locator('#alerts-section[data-state="firing"]').waitFor();
      expect(await statusPageAlerts(status)).toEqual({
        state: "firing",
        text: "2 alerts firing.",
        rows: [
          {
            name: "NodeDown",
            severity: "critical",
            summary: "VM 192.168.50.3:9100 is down",
            description: "node-exporter on 192.168.50.3:9100 has not answered for 2 minutes.",
            since: nodeStarted,
          },
          {
            name: "DiskAlmostFull",
            severity: "warning",
            summary: "Disk / on 192.168.50.2:9100 is almost full",
            description: "Less than 10% of / (/dev/sda1) is free.",
            since: diskStarted,
          },
        ],
      });
      expect(await status.locator('tr[data-alert="NodeDown"] td.since').textContent()).toMatch(/\(5 min\)$/);
      expect(await status.locator('tr[data-alert="DiskAlmostFull"] td.since').textContent()).toMatch(/\(3 h\)$/);
      // The runtime asked for active alerts only, silenced and inhibited ones left out (the URL's trailing
      // slash dropped).
      expect(am.queries.at(-1)).toBe("?active=true&silenced=false&inhibited=false");
      // The functions table is there beside it.
      await status.locator('tr[data-function="download"]').waitFor();
      await status.screenshot({ path: join(ARTIFACTS, "status-alerts.png"), fullPage: true });

      // On a phone the alerts are cards, labelled, and nothing overflows sideways.
      const phone = await browser.context.newPage();
      await phone.setViewportSize({ width: 375, height: 740 });
      await phone.goto(`${rt.url}/status.html?interval=300`);
      await phone.locator('#alerts-section[data-state="firing"]').waitFor();
      expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
      expect(
        await phone.locator('tr[data-alert="NodeDown"] td.summary').evaluate((td) =>
          getComputedStyle(td, "::before").content
        ),
      ).toBe('"Summary"');
      await phone.screenshot({ path: join(ARTIFACTS, "status-alerts-phone.png"), fullPage: true });
      await phone.close();

      am.set({ alerts: [] });
      await status.locator('#alerts-section[data-state="none"]').waitFor();
      expect(await statusPageAlerts(status)).toEqual({ state: "none", text: "None firing.", rows: [] });
      expect(await status.locator("#alerts").isHidden()).toBe(true);

      am.set({ status: 500 });
      await status.locator('#alerts-section[data-state="error"]').waitFor();
      expect(await statusPageAlerts(status)).toEqual({
        state: "error",
        text: "Could not read the alerts: Alertmanager answered HTTP 500",
        rows: [],
      });
      // Only the alerts section says so: the functions are still read.
      expect(await status.locator("#error").textContent()).toBe("");

      am.set("hang");
      await status.locator('#alerts-section[data-state="error"]').waitFor();
      await status.waitForFunction(() => document.getElementById("alerts-error")?.textContent?.includes("within"));
      expect((await statusPageAlerts(status)).text).toBe(
        "Could not read the alerts: Alertmanager did not answer within 2000 ms",
      );

      am.set({ alerts: [nodeDown] });
      await status.locator('#alerts-section[data-state="firing"]').waitFor();
      expect((await statusPageAlerts(status)).rows.map((r) => r.name)).toEqual(["NodeDown"]);
      expect((await statusPageAlerts(status)).text).toBe("1 alert firing.");
      await status.close();
    },
    60_000,
  );
});

describe("web page with AUTH_TOKEN set", () => {
  let rt: RuntimeProcess;
  let browser: Browser;

  beforeAll(async () => {
    rt = await startRuntime({ AUTH_TOKEN: "s3cret-token", FUNCTIONS: "upload,download" });
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await rt?.stop();
  });

  test("without the token the upload is unauthorized; with it typed into the token field it works", async () => {
    const page = await openFiles(browser.context, rt.url);
    const content = Buffer.from("secret report\n");
    await page.getByLabel(/Drop files here/).setInputFiles([{
      name: "report.txt",
      mimeType: "text/plain",
      buffer: content,
    }]);
    const refused = await uploadState(page, "report.txt");
    expect(refused.state).toBe("error");
    expect(refused.detail).toBe(
      "report.txt: unauthorized: this server requires an access token; enter it in the Access token field (missing bearer token)",
    );
    expect(await page.locator("#message").textContent()).toBe(refused.detail);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("token");
    expect(await page.locator('tr[data-name="report.txt"]').count()).toBe(0);

    await page.getByLabel(/Access token/).fill("s3cret-token");
    await page.getByLabel(/Drop files here/).setInputFiles([{
      name: "report.txt",
      mimeType: "text/plain",
      buffer: content,
    }]);
    await page.locator('li.upload[data-name="report.txt"][data-state="done"]').waitFor();
    await page.locator('tr[data-name="report.txt"]').waitFor();
    expect(await page.locator('tr[data-name="report.txt"] td.sha').textContent()).toBe(sha256(content));

    // The token also authorizes deletes, and survives a reload of the tab.
    await page.reload();
    await page.waitForSelector("body[data-ready=true]");
    expect(await page.getByLabel(/Access token/).inputValue()).toBe("s3cret-token");
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: "Delete report.txt" }).click();
    await page.locator('tr[data-name="report.txt"]').waitFor({ state: "detached" });
    expect((await fetch(`${rt.url}/files/report.txt`)).status).toBe(404);
  });
});

describe("web page: a large file goes through tus and survives a reload", () => {
  let rt: RuntimeProcess;
  let browser: Browser;

  beforeAll(async () => {
    rt = await startRuntime({ FUNCTIONS: "upload,download" });
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await rt?.stop();
  });

  test("the first 16 MiB chunk is stored, the page reloads mid-upload, the same file resumes from there", async () => {
    // A file on disk, so choosing it again gives the same fingerprint (name, type, size, mtime).
    const content = randomBytes(24 * MiB);
    const path = join(tempDir("tarsd-big-"), "big.bin");
    writeFileSync(path, content);
    const page = await openFiles(browser.context, rt.url);
    // Let the first PATCH (offset 0, one 16 MiB chunk) through; hold the second until the reload drops it.
    let held!: () => void;
    const secondChunk = new Promise<void>((resolve) => (held = resolve));
    await page.route("**/uploads/*", async (route) => {
      const request = route.request();
      if (request.method() === "PATCH" && request.headers()["upload-offset"] !== "0") return held();
      await route.continue();
    });
    await page.getByLabel(/Drop files here/).setInputFiles(path);
    await secondChunk;
    const stored = await page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith("tus::")));
    expect(stored.length).toBe(1);
    expect((await fetch(`${rt.url}/files/big.bin`)).status).toBe(404);

    await page.reload(); // The held chunk is dropped with the page: not a byte of it reached the server.
    await page.unrouteAll({ behavior: "ignoreErrors" });
    await page.waitForSelector("body[data-ready=true]");
    await page.getByLabel(/Drop files here/).setInputFiles(path);
    const item = page.locator('li.upload[data-name="big.bin"]').first();
    const s = await uploadState(page, "big.bin");
    expect(s.state).toBe("done");
    expect(s.progress).toBe(100);
    expect(s.detail).toContain("stored (resumed)");
    expect(await item.getAttribute("data-resumed-at")).toBe(String(16 * MiB));
    await page.locator('tr[data-name="big.bin"]').waitFor();
    expect(await page.locator('tr[data-name="big.bin"] td.sha').textContent()).toBe(sha256(content));
    // One creation for the two pages; the fingerprint is dropped once the file is stored.
    expect(rt.output().match(/"method":"POST","path":"\/uploads"/g)?.length).toBe(1);
    expect(await page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith("tus::")))).toEqual([]);
    await page.close();
  }, 60_000);
});
