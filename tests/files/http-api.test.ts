// The file service over real HTTP on 127.0.0.1: the historic curl commands, REST, limits, bad input, auth.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { curl } from "../../harness/curl.ts";
import { type RuntimeProcess, startRuntime, tempDir } from "../../harness/runtime-process.ts";

const sha = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");
const LIMIT = 256 * 1024;

let rt: RuntimeProcess;
let work: string;

beforeAll(async () => {
  rt = await startRuntime({ FUNCTIONS: "upload,download", MAX_UPLOAD_BYTES: String(LIMIT) });
  work = tempDir("tarsd-client-");
});
afterAll(async () => {
  await rt?.stop();
});

function storedNames(): string[] {
  return readdirSync(join(rt.dataDir, "store", "names")).sort();
}

describe("the historic API, with real curl", () => {
  test("curl -X POST -F 'file=@<f>' /upload, then -F 'name=<f>' /download > <f> gives the same bytes", async () => {
    const original = randomBytes(70_000);
    writeFileSync(join(work, "report.bin"), original);
    const up = await curl(["-X", "POST", "-F", "file=@report.bin", `${rt.url}/upload`], work);
    expect(up.exitCode).toBe(0);
    const body = JSON.parse(new TextDecoder().decode(up.stdout));
    expect(body.stored[0]).toMatchObject({ name: "report.bin", size: original.length, sha256: sha(original) });

    const downloadDir = tempDir("tarsd-download-");
    const down = await curl(["-X", "POST", "-F", "name=report.bin", `${rt.url}/download`], downloadDir);
    expect(down.exitCode).toBe(0);
    writeFileSync(join(downloadDir, "report.bin"), down.stdout); // the shell's `> report.bin`
    expect(sha(readFileSync(join(downloadDir, "report.bin")))).toBe(sha(original));
  });

  test("several files in one upload, and a urlencoded download form", async () => {
    writeFileSync(join(work, "one.txt"), "one");
    writeFileSync(join(work, "two.txt"), "two");
    const up = await curl(["-F", "file=@one.txt", "-F", "file=@two.txt", `${rt.url}/upload`], work);
    expect(JSON.parse(new TextDecoder().decode(up.stdout)).stored.map((f: { name: string }) => f.name)).toEqual([
      "one.txt",
      "two.txt",
    ]);
    const down = await curl(["-d", "name=two.txt", `${rt.url}/download`]);
    expect(new TextDecoder().decode(down.stdout)).toBe("two");
  });

  test("a multipart upload with a bad second file stores nothing", async () => {
    writeFileSync(join(work, "good.txt"), "good");
    const before = storedNames();
    const up = await curl([
      "-w",
      "%{http_code}",
      "-F",
      "file=@good.txt",
      "-F",
      "file=@good.txt;filename=.hidden",
      `${rt.url}/upload`,
    ], work);
    expect(new TextDecoder().decode(up.stdout)).toEndWith("400");
    expect(storedNames()).toEqual(before);
  });
});

describe("REST", () => {
  const content = "0123456789abcdefghij";

  test("PUT creates (201) then replaces (200); GET and HEAD describe it", async () => {
    const created = await fetch(`${rt.url}/files/rest.txt`, { method: "PUT", body: "first" });
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe("/files/rest.txt");
    const replaced = await fetch(`${rt.url}/files/rest.txt`, { method: "PUT", body: content });
    expect(replaced.status).toBe(200);
    expect(await replaced.json()).toMatchObject({ name: "rest.txt", size: content.length, sha256: sha(content) });

    const got = await fetch(`${rt.url}/files/rest.txt`);
    expect(got.status).toBe(200);
    expect(got.headers.get("etag")).toBe(`"${sha(content)}"`);
    expect(got.headers.get("content-length")).toBe(String(content.length));
    expect(got.headers.get("content-disposition")).toStartWith('attachment; filename="rest.txt"');
    expect(got.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await got.text()).toBe(content);

    const head = await fetch(`${rt.url}/files/rest.txt`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(content.length));
    expect(await head.text()).toBe("");
  });

  test("Range gives 206 with Content-Range; past the end gives 416; If-None-Match gives 304", async () => {
    await fetch(`${rt.url}/files/range.txt`, { method: "PUT", body: content });
    const part = await fetch(`${rt.url}/files/range.txt`, { headers: { range: "bytes=5-9" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 5-9/${content.length}`);
    expect(await part.text()).toBe("56789");
    const suffix = await fetch(`${rt.url}/files/range.txt`, { headers: { range: "bytes=-3" } });
    expect(await suffix.text()).toBe("hij");
    const beyond = await fetch(`${rt.url}/files/range.txt`, { headers: { range: "bytes=100-" } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get("content-range")).toBe(`bytes */${content.length}`);
    expect((await beyond.json()).error).toContain("range");
    const cached = await fetch(`${rt.url}/files/range.txt`, { headers: { "if-none-match": `"${sha(content)}"` } });
    expect(cached.status).toBe(304);
  });

  test("GET /files lists name, size, sha256, modified; DELETE removes (204) then 404", async () => {
    await fetch(`${rt.url}/files/listed.txt`, { method: "PUT", body: "listed" });
    const list = (await (await fetch(`${rt.url}/files`)).json()) as {
      files: { name: string; size: number; sha256: string; modified: string }[];
    };
    const entry = list.files.find((f) => f.name === "listed.txt");
    expect(entry).toMatchObject({ size: 6, sha256: sha("listed") });
    expect(Number.isNaN(Date.parse(entry!.modified))).toBe(false);
    expect((await fetch(`${rt.url}/files/listed.txt`, { method: "DELETE" })).status).toBe(204);
    expect((await fetch(`${rt.url}/files/listed.txt`, { method: "DELETE" })).status).toBe(404);
    expect((await fetch(`${rt.url}/files/listed.txt`)).status).toBe(404);
  });

  test("an empty PUT body stores an empty file", async () => {
    const put = await fetch(`${rt.url}/files/empty.txt`, { method: "PUT" });
    expect(put.status).toBe(201);
    expect(await put.json()).toMatchObject({ size: 0, sha256: sha("") });
    const got = await fetch(`${rt.url}/files/empty.txt`);
    expect(got.headers.get("content-length")).toBe("0");
    expect(await got.text()).toBe("");
  });

  test("unicode and spaces in names survive the round trip", async () => {
    const name = "relatório final ü.txt";
    const put = await fetch(`${rt.url}/files/${encodeURIComponent(name)}`, { method: "PUT", body: "ok" });
    expect(put.status).toBe(201);
    const got = await fetch(`${rt.url}/files/${encodeURIComponent(name)}`);
    expect(got.headers.get("content-disposition")).toContain(`filename*=UTF-8''${encodeURIComponent(name)}`);
    expect(await got.text()).toBe("ok");
  });
});

describe("bad input: a JSON reason, and nothing changes", () => {
  test("bad names are 400", async () => {
    for (const encoded of ["%2E%2Ehidden", ".env", "a%2Fb", "a%5Cb", "a%00b", "a%0Ab", "x".repeat(256), "%E0%A4%A"]) {
      const res = await fetch(`${rt.url}/files/${encoded}`, { method: "PUT", body: "x" });
      expect(res.status).toBe(400);
      expect(typeof (await res.json()).error).toBe("string");
      const read = await fetch(`${rt.url}/files/${encoded}`);
      expect(read.status).toBe(400);
      expect(typeof (await read.json()).error).toBe("string");
    }
    const multipart = new FormData();
    multipart.append("file", new Blob(["x"]), "a\\b");
    expect((await fetch(`${rt.url}/upload`, { method: "POST", body: multipart })).status).toBe(400);
  });

  test("missing fields are 400", async () => {
    const noFile = new FormData();
    noFile.append("other", "value");
    const res = await fetch(`${rt.url}/upload`, { method: "POST", body: noFile });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toContain("'file'");
    const noName = await fetch(`${rt.url}/download`, { method: "POST", body: new FormData() });
    expect(noName.status).toBe(400);
    const notAForm = await fetch(`${rt.url}/upload`, {
      method: "POST",
      body: "plain",
      headers: { "content-type": "text/plain" },
    });
    expect(notAForm.status).toBe(400);
  });

  test("over MAX_UPLOAD_BYTES is 413 with nothing on disk, for PUT, multipart and chunked bodies", async () => {
    await fetch(`${rt.url}/files/limit.bin`, { method: "PUT", body: "original" });
    const big = randomBytes(LIMIT + 1);
    const put = await fetch(`${rt.url}/files/limit.bin`, { method: "PUT", body: big });
    expect(put.status).toBe(413);
    expect((await put.json()).error).toContain("limit");
    // Far over it: still our JSON answer (Bun's own cut-off would be a bare 413 without a reason).
    const far = await fetch(`${rt.url}/files/limit.bin`, { method: "PUT", body: randomBytes(LIMIT * 4) });
    expect(far.status).toBe(413);
    expect((await far.json()).error).toContain("over the limit");

    writeFileSync(join(work, "limit.bin"), big);
    const multipart = await curl(
      ["-w", "%{http_code}", "-o", "/dev/null", "-F", "file=@limit.bin", `${rt.url}/upload`],
      work,
    );
    expect(new TextDecoder().decode(multipart.stdout)).toBe("413");

    // Chunked: no Content-Length to check up front, so the limit must hold while streaming.
    const chunked = await curl([
      "-w",
      "%{http_code}",
      "-o",
      "/dev/null",
      "-H",
      "Transfer-Encoding: chunked",
      "-T",
      "limit.bin",
      `${rt.url}/files/limit.bin`,
    ], work);
    expect(new TextDecoder().decode(chunked.stdout)).toBe("413");

    expect(readFileSync(join(rt.dataDir, "store", "names", "limit.bin"), "utf8")).toBe("original");
    expect(readdirSync(join(rt.dataDir, "store", "tmp"))).toEqual([]);
  });

  test("wrong method is 405 with Allow; unknown paths and files are 404", async () => {
    const wrong = await fetch(`${rt.url}/files/x`, { method: "PATCH" });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toContain("GET");
    expect((await wrong.json()).error).toContain("PATCH");
    expect((await fetch(`${rt.url}/upload`)).status).toBe(405);
    const trace = await fetch(`${rt.url}/metrics`, { method: "DELETE" });
    expect(trace.status).toBe(405);
    expect(trace.headers.get("allow")).toBe("GET");
    expect((await fetch(`${rt.url}/nothing-here`)).status).toBe(404);
    const missing = await fetch(`${rt.url}/files/never-stored.txt`);
    expect(missing.status).toBe(404);
    expect((await missing.json()).error).toContain("never-stored.txt");
  });
});

describe("auth", () => {
  test("with AUTH_TOKEN, writes need the bearer token and reads do not", async () => {
    const secured = await startRuntime({ FUNCTIONS: "upload,download", AUTH_TOKEN: "s3cret" });
    try {
      const anonymous = await fetch(`${secured.url}/files/a.txt`, { method: "PUT", body: "a" });
      expect(anonymous.status).toBe(401);
      expect((await anonymous.json()).error).toContain("token");
      const wrong = await fetch(`${secured.url}/files/a.txt`, {
        method: "PUT",
        body: "a",
        headers: { authorization: "Bearer nope" },
      });
      expect(wrong.status).toBe(401);
      expect(existsSync(join(secured.dataDir, "store", "names", "a.txt"))).toBe(false);

      writeFileSync(join(work, "auth.txt"), "auth");
      const up = await curl([
        "-w",
        "%{http_code}",
        "-o",
        "/dev/null",
        "-H",
        "Authorization: Bearer s3cret",
        "-F",
        "file=@auth.txt",
        `${secured.url}/upload`,
      ], work);
      expect(new TextDecoder().decode(up.stdout)).toBe("201");
      expect(await (await fetch(`${secured.url}/files/auth.txt`)).text()).toBe("auth");
      const down = await curl(["-F", "name=auth.txt", `${secured.url}/download`]);
      expect(new TextDecoder().decode(down.stdout)).toBe("auth");
      expect((await fetch(`${secured.url}/files/auth.txt`, { method: "DELETE" })).status).toBe(401);
    } finally {
      await secured.stop();
    }
  });

  test("AUTH_TOKEN_FILE (a swarm secret) works like AUTH_TOKEN", async () => {
    const secretFile = join(tempDir("tarsd-secret-"), "tarsd_auth_token");
    writeFileSync(secretFile, "from-a-secret\n");
    const secured = await startRuntime({ FUNCTIONS: "upload", AUTH_TOKEN_FILE: secretFile });
    try {
      expect((await fetch(`${secured.url}/files/s.txt`, { method: "PUT", body: "s" })).status).toBe(401);
      const ok = await fetch(`${secured.url}/files/s.txt`, {
        method: "PUT",
        body: "s",
        headers: { authorization: "Bearer from-a-secret" },
      });
      expect(ok.status).toBe(201);
    } finally {
      await secured.stop();
    }
  });

  test("without AUTH_TOKEN, writes are open", async () => {
    expect((await fetch(`${rt.url}/files/open.txt`, { method: "PUT", body: "open" })).status).toBe(201);
  });
});

describe("large bodies", () => {
  test("come out byte for byte: multipart read whole and streamed, PUT with a length and chunked", async () => {
    const big = await startRuntime({ FUNCTIONS: "upload,download" });
    try {
      const MiB = 1024 * 1024;
      // Sizes off the 4 KiB blocks the staging writer writes in, on each side of the size read whole.
      const whole = randomBytes(3 * MiB + 5);
      const streamed = randomBytes(9 * MiB + 3);
      writeFileSync(join(work, "whole.bin"), whole);
      writeFileSync(join(work, "streamed.bin"), streamed);
      const stored = async (args: string[]) => {
        const out = await curl(args, work);
        expect(out.exitCode).toBe(0);
        const body = JSON.parse(new TextDecoder().decode(out.stdout));
        return body.stored?.[0] ?? body;
      };
      expect(await stored(["-F", "file=@whole.bin", `${big.url}/upload`])).toMatchObject({ sha256: sha(whole) });
      expect(await stored(["-F", "file=@streamed.bin", `${big.url}/upload`])).toMatchObject({ sha256: sha(streamed) });
      expect(await stored(["-T", "streamed.bin", `${big.url}/files/put.bin`])).toMatchObject({ sha256: sha(streamed) });
      const chunked = ["-H", "Transfer-Encoding: chunked", "-T", "whole.bin", `${big.url}/files/chunked.bin`];
      expect(await stored(chunked)).toMatchObject({ sha256: sha(whole) });
      const expected: [string, Uint8Array][] = [
        ["whole.bin", whole],
        ["streamed.bin", streamed],
        ["put.bin", streamed],
        ["chunked.bin", whole],
      ];
      for (const [name, bytes] of expected) {
        const got = new Uint8Array(await (await fetch(`${big.url}/files/${name}`)).arrayBuffer());
        expect({ name, sha: sha(got) }).toEqual({ name, sha: sha(bytes) });
      }
    } finally {
      await big.stop();
    }
  });
});
