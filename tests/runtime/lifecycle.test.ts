// Start-up, probes and graceful shutdown of the runtime process.
import { describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { connect } from "node:net";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";
import { waitForHttp } from "../../harness/ports.ts";
import { startRuntime } from "../../harness/runtime-process.ts";

const sha = (data: Uint8Array | ArrayBuffer) => createHash("sha256").update(new Uint8Array(data)).digest("hex");

describe("start-up", () => {
  test("an unknown function name stops start-up with a clear message", async () => {
    const proc = Bun.spawn(["bun", join(REPO_ROOT, "runtime", "main.ts")], {
      env: { PATH: process.env.PATH ?? "", FUNCTIONS: "upload,uplaod", PORT: "0" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    expect(code).toBe(1);
    expect(stderr).toContain('unknown function(s) "uplaod"');
    expect(stderr).toContain("available in");
    expect(stderr).toContain("download");
  });

  test("a port in use stops start-up with a clear message (no silent sharing of the port)", async () => {
    const first = await startRuntime({ FUNCTIONS: "download" });
    try {
      const second = Bun.spawn(["bun", join(REPO_ROOT, "runtime", "main.ts")], {
        env: { PATH: process.env.PATH ?? "", FUNCTIONS: "download", PORT: String(first.port), HOST: "127.0.0.1" },
        stdout: "pipe",
        stderr: "pipe",
      });
      const code = await Promise.race([second.exited, Bun.sleep(4000).then(() => "still running")]);
      if (code === "still running") second.kill();
      expect(code).toBe(1);
      expect(await new Response(second.stderr).text()).toContain(`cannot listen on 127.0.0.1:${first.port}`);
      expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    } finally {
      await first.stop();
    }
  });

  test("FUNCTIONS limits what is mounted; /healthz and /readyz answer", async () => {
    const rt = await startRuntime({ FUNCTIONS: "download" });
    try {
      expect((await fetch(`${rt.url}/healthz`)).status).toBe(200);
      expect(await (await fetch(`${rt.url}/readyz`)).json()).toEqual({ status: "ready" });
      expect((await fetch(`${rt.url}/files`)).status).toBe(200);
      // upload is not loaded: PUT /files/x is a method this process does not serve.
      expect((await fetch(`${rt.url}/files/x`, { method: "PUT", body: "x" })).status).toBe(405);
      expect((await fetch(`${rt.url}/upload`, { method: "POST" })).status).toBe(404);
      const fns = (await (await fetch(`${rt.url}/functions`)).json()) as { name: string }[];
      expect(fns.map((f) => f.name)).toEqual(["download"]);
    } finally {
      await rt.stop();
    }
  });

  test("every request is one JSON log line", async () => {
    const rt = await startRuntime({ FUNCTIONS: "upload,download" });
    try {
      await fetch(`${rt.url}/files/logged.txt`, { method: "PUT", body: "12345" });
      await fetch(`${rt.url}/files/missing.txt`);
      await rt.stop();
      const lines = rt.logLines();
      const requests = lines.filter((l) => l.function);
      expect(requests).toHaveLength(2);
      expect(requests[0]).toMatchObject({
        function: "upload",
        method: "PUT",
        path: "/files/logged.txt",
        route: "/files/:name",
        status: 201,
        bytes_in: 5,
      });
      expect(requests[1]).toMatchObject({ function: "download", method: "GET", status: 404 });
      expect(typeof requests[0]?.ms).toBe("number");
    } finally {
      await rt.stop();
    }
  });
});

describe("graceful shutdown", () => {
  test("SIGTERM: readiness goes 503 at once, a large upload in flight completes, exit code 0", async () => {
    const rt = await startRuntime({ FUNCTIONS: "upload,download", DRAIN_DELAY_MS: "1500", SHUTDOWN_GRACE_MS: "8000" });
    const body = randomBytes(64 * 1024 * 1024);
    let sent = 0;
    let signalled = false;
    const upload = fetch(`${rt.url}/files/inflight.bin`, {
      method: "PUT",
      body: new ReadableStream({
        async pull(controller) {
          if (sent >= body.length) return controller.close();
          const chunk = body.subarray(sent, sent + 1024 * 1024);
          sent += chunk.length;
          controller.enqueue(chunk);
          if (sent >= body.length / 4 && !signalled) {
            signalled = true;
            rt.proc.kill("SIGTERM");
            // Still reachable while draining, and no longer ready.
            let readyStatus = 200;
            for (let i = 0; i < 50 && readyStatus === 200; i++) {
              readyStatus = (await fetch(`${rt.url}/readyz`)).status;
              if (readyStatus === 200) await Bun.sleep(10);
            }
            expect(readyStatus).toBe(503);
          }
          await Bun.sleep(20); // A slow client: the upload outlasts the drain delay.
        },
      }),
      // @ts-expect-error -- streaming request bodies need half duplex
      duplex: "half",
    });
    const res = await upload;
    expect(signalled).toBe(true);
    expect(res.status).toBe(201);
    expect((await res.json()).sha256).toBe(sha(body));
    expect(await rt.proc.exited).toBe(0);
    await rt.stop(); // already exited: waits for the last of its output
    expect(rt.output()).toContain('"msg":"stopped"');
    expect(rt.output()).toContain('"forced":false');
  });

  test("while draining, answers say Connection: close and the server closes kept-alive connections", async () => {
    const rt = await startRuntime({ FUNCTIONS: "download", DRAIN_DELAY_MS: "3000", SHUTDOWN_GRACE_MS: "5000" });
    try {
      const before = await fetch(`${rt.url}/files`);
      await before.arrayBuffer();
      expect(before.headers.get("connection")).not.toBe("close");
      rt.proc.kill("SIGTERM");
      await waitForHttp(`${rt.url}/readyz`, { status: 503 }); // draining
      // A raw keep-alive connection: one request, then the server ends the connection by itself.
      const socket = connect(rt.port, "127.0.0.1");
      let answer = "";
      const ended = new Promise<void>((resolve) => socket.on("end", () => resolve()));
      socket.on("data", (chunk) => (answer += chunk.toString()));
      socket.write("GET /files HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
      const closed = await Promise.race([ended.then(() => true), Bun.sleep(1500).then(() => false)]);
      socket.destroy();
      expect(answer).toMatch(/^HTTP\/1\.1 200/);
      expect(answer.toLowerCase()).toContain("connection: close");
      expect(closed).toBe(true);
      expect(await rt.proc.exited).toBe(0);
    } finally {
      await rt.stop();
    }
  });
});
