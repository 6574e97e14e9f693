// The file service over real HTTP on 127.0.0.1, served in the test's process from settings built here
// (tests/files/serve-files.ts): the historic curl commands (real curl), REST, limits, bad input, auth.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Buffer } from "node:buffer";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MULTIPART_OVERHEAD_BYTES } from "@tarsd/sdk";
import { curl } from "../../harness/curl.ts";
import { tempDir } from "../../harness/runtime-process.ts";
import { type FileHost, serveFiles, stopAll } from "./serve-files.ts";

const sha = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const LIMIT = 256 * 1024;
const TUS = { "tus-resumable": "1.0.0" };
const OCTETS = { ...TUS, "content-type": "application/offset+octet-stream" };
const metadata = (name: string) => `filename ${Buffer.from(name, "utf8").toString("base64")}`;

let rt: FileHost;
let work: string;

beforeAll(async () => {
  rt = await serveFiles({ maxUploadBytes: LIMIT });
  work = tempDir("tarsd-client-");
});
afterAll(async () => {
  await stopAll([rt]);
  rmSync(work, { recursive: true, force: true });
});

function storedNames(host = rt): string[] {
  return readdirSync(join(host.dataDir, "store", "names")).sort();
}

/** curl's body and, after it, the status (`-w '\n%{http_code}'`). */
async function curlAnswer(args: string[]): Promise<{ status: number; body: string }> {
  const out = await curl(["-w", "\n%{http_code}", ...args], work);
  expect(out.exitCode).toBe(0);
  const answer = text(out.stdout);
  const cut = answer.lastIndexOf("\n");
  return { status: Number(answer.slice(cut + 1)), body: answer.slice(0, cut) };
}

describe("the historic API, with real curl", () => {
  test("curl -X POST -F 'file=@<f>' /upload, then -F 'name=<f>' /download > <f> gives the same bytes", async () => {
    const original = randomBytes(70_000);
    writeFileSync(join(work, "report.bin"), original);
    const up = await curl(["-X", "POST", "-F", "file=@report.bin", `${rt.url}/upload`], work);
    expect(up.exitCode).toBe(0);
    const body = JSON.parse(text(up.stdout));
    expect(body.stored).toEqual([{
      name: "report.bin",
      size: original.length,
      sha256: sha(original),
      modified: expect.any(String),
    }]);

    const downloadDir = tempDir("tarsd-download-");
    const down = await curl(["-X", "POST", "-F", "name=report.bin", `${rt.url}/download`], downloadDir);
    expect(down.exitCode).toBe(0);
    writeFileSync(join(downloadDir, "report.bin"), down.stdout); // the shell's `> report.bin`
    expect(sha(readFileSync(join(downloadDir, "report.bin")))).toBe(sha(original));
    rmSync(downloadDir, { recursive: true, force: true });
  });

  test("several files in one upload, and a urlencoded download form", async () => {
    writeFileSync(join(work, "one.txt"), "one");
    writeFileSync(join(work, "two.txt"), "two");
    const up = await curl(["-F", "file=@one.txt", "-F", "file=@two.txt", `${rt.url}/upload`], work);
    expect(JSON.parse(text(up.stdout)).stored.map((f: { name: string }) => f.name)).toEqual(["one.txt", "two.txt"]);
    const down = await curl(["-d", "name=two.txt", `${rt.url}/download`]);
    expect(text(down.stdout)).toBe("two");
  });

  test("a multipart upload with a bad second file stores nothing", async () => {
    writeFileSync(join(work, "good.txt"), "good");
    const before = storedNames();
    const up = await curlAnswer(["-F", "file=@good.txt", "-F", "file=@good.txt;filename=.hidden", `${rt.url}/upload`]);
    expect(up).toEqual({
      status: 400,
      body: JSON.stringify({ error: "file name must not start with '.' (this also refuses '..')", status: 400 }),
    });
    expect(storedNames()).toEqual(before);
    expect(readdirSync(join(rt.dataDir, "store", "tmp"))).toEqual([]);
  });
});

describe("REST", () => {
  const content = "0123456789abcdefghij";

  test("PUT creates (201) then replaces (200); GET and HEAD describe it", async () => {
    const created = await fetch(`${rt.url}/files/rest.txt`, { method: "PUT", body: "first" });
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe("/files/rest.txt");
    expect(created.headers.get("etag")).toBe(`"${sha("first")}"`);
    const replaced = await fetch(`${rt.url}/files/rest.txt`, { method: "PUT", body: content });
    expect(replaced.status).toBe(200);
    expect(await replaced.json()).toEqual({
      name: "rest.txt",
      size: content.length,
      sha256: sha(content),
      modified: expect.any(String),
    });

    const got = await fetch(`${rt.url}/files/rest.txt`);
    expect(got.status).toBe(200);
    expect(got.headers.get("etag")).toBe(`"${sha(content)}"`);
    expect(got.headers.get("content-length")).toBe(String(content.length));
    expect(got.headers.get("content-disposition")).toBe(
      "attachment; filename=\"rest.txt\"; filename*=UTF-8''rest.txt",
    );
    expect(got.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await got.text()).toBe(content);

    const head = await fetch(`${rt.url}/files/rest.txt`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(content.length));
    expect(head.headers.get("etag")).toBe(`"${sha(content)}"`);
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
    expect(list.files.map((f) => f.name)).toEqual(storedNames());
    const entry = list.files.find((f) => f.name === "listed.txt");
    expect(entry).toEqual({ name: "listed.txt", size: 6, sha256: sha("listed"), modified: expect.any(String) });
    expect(Number.isNaN(Date.parse(entry!.modified))).toBe(false);
    expect((await fetch(`${rt.url}/files/listed.txt`, { method: "DELETE" })).status).toBe(204);
    const again = await fetch(`${rt.url}/files/listed.txt`, { method: "DELETE" });
    expect(again.status).toBe(404);
    expect(await again.json()).toEqual({ error: 'no file named "listed.txt"', status: 404 });
    expect((await fetch(`${rt.url}/files/listed.txt`)).status).toBe(404);
    expect(storedNames()).not.toContain("listed.txt");
  });

  test("an empty PUT body stores an empty file", async () => {
    const put = await fetch(`${rt.url}/files/empty.txt`, { method: "PUT" });
    expect(put.status).toBe(201);
    expect(await put.json()).toMatchObject({ name: "empty.txt", size: 0, sha256: sha("") });
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
    const before = storedNames();
    for (const encoded of ["%2E%2Ehidden", ".env", "a%2Fb", "a%5Cb", "a%00b", "a%0Ab", "x".repeat(256), "%E0%A4%A"]) {
      const res = await fetch(`${rt.url}/files/${encoded}`, { method: "PUT", body: "x" });
      expect(res.status).toBe(400);
      expect(typeof (await res.json()).error).toBe("string");
      const read = await fetch(`${rt.url}/files/${encoded}`);
      expect(read.status).toBe(400);
      expect(typeof (await read.json()).error).toBe("string");
      const remove = await fetch(`${rt.url}/files/${encoded}`, { method: "DELETE" });
      expect(remove.status).toBe(400);
    }
    const exact = await fetch(`${rt.url}/files/a%5Cb`, { method: "PUT", body: "x" });
    expect(await exact.json()).toEqual({ error: "file name must not contain '/' or '\\'", status: 400 });
    const multipart = new FormData();
    multipart.append("file", new Blob(["x"]), "a\\b");
    const form = await fetch(`${rt.url}/upload`, { method: "POST", body: multipart });
    expect(form.status).toBe(400);
    expect(await form.json()).toEqual({ error: "file name must not contain '/' or '\\'", status: 400 });
    expect(storedNames()).toEqual(before);
    expect(readdirSync(join(rt.dataDir, "store", "tmp"))).toEqual([]);
  });

  test("missing fields are 400", async () => {
    const noFile = new FormData();
    noFile.append("other", "value");
    const res = await fetch(`${rt.url}/upload`, { method: "POST", body: noFile });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "form field 'file' is missing", status: 400 });
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
    expect(await put.json()).toEqual({
      error: `request body of ${LIMIT + 1} bytes is over the limit of ${LIMIT} bytes`,
      status: 413,
    });
    // Far over it: still our JSON answer (Bun's own cut-off would be a bare 413 without a reason).
    const far = await fetch(`${rt.url}/files/limit.bin`, { method: "PUT", body: randomBytes(LIMIT * 4) });
    expect(far.status).toBe(413);
    expect(await far.json()).toEqual({
      error: `request body of ${LIMIT * 4} bytes is over the limit of ${LIMIT} bytes`,
      status: 413,
    });

    // In a form, the body may be larger by its framing, the file may not.
    writeFileSync(join(work, "limit.bin"), big);
    const multipart = await curlAnswer(["-F", "file=@limit.bin", `${rt.url}/upload`]);
    expect(multipart).toEqual({
      status: 413,
      body: JSON.stringify({ error: `file is over the limit of ${LIMIT} bytes`, status: 413 }),
    });

    // Chunked: no Content-Length to check up front, so the limit must hold while streaming.
    const chunked = await curlAnswer([
      "-H",
      "Transfer-Encoding: chunked",
      "-T",
      "limit.bin",
      `${rt.url}/files/limit.bin`,
    ]);
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body)).toEqual({
      error: expect.stringMatching(new RegExp(`^request body of \\d+ bytes is over the limit of ${LIMIT} bytes$`)),
      status: 413,
    });

    expect(readFileSync(join(rt.dataDir, "store", "names", "limit.bin"), "utf8")).toBe("original");
    expect(readdirSync(join(rt.dataDir, "store", "tmp"))).toEqual([]);
  });

  test("a form's file of exactly MAX_UPLOAD_BYTES is stored; a form over the limit and its framing is 413 up front", async () => {
    const exact = randomBytes(LIMIT);
    writeFileSync(join(work, "exact.bin"), exact);
    const stored = await curlAnswer(["-F", "file=@exact.bin", `${rt.url}/upload`]);
    expect(stored.status).toBe(201);
    expect(JSON.parse(stored.body).stored).toEqual([
      { name: "exact.bin", size: LIMIT, sha256: sha(exact), modified: expect.any(String) },
    ]);

    const boundary = "tarsd-limit-boundary";
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="framed.bin"\r\n\r\n`),
      randomBytes(LIMIT + MULTIPART_OVERHEAD_BYTES),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const res = await fetch(`${rt.url}/upload`, {
      method: "POST",
      headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
      body,
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({
      error: `request body of ${body.byteLength} bytes is over the limit of ${LIMIT} bytes`,
      status: 413,
    });
    expect(storedNames()).not.toContain("framed.bin");
  });

  test("a form whose second file is over MAX_UPLOAD_BYTES stores neither", async () => {
    const form = new FormData();
    form.append("file", new File(["small"], "first-of-two.txt"));
    form.append("file", new File([randomBytes(LIMIT + 1)], "second-of-two.bin"));
    const res = await fetch(`${rt.url}/upload`, { method: "POST", body: form });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: `file is over the limit of ${LIMIT} bytes`, status: 413 });
    expect(storedNames()).not.toContain("first-of-two.txt");
    expect(storedNames()).not.toContain("second-of-two.bin");
    expect(readdirSync(join(rt.dataDir, "store", "tmp"))).toEqual([]);
  });

  test("tus: Tus-Max-Size is MAX_UPLOAD_BYTES; a longer upload is 413 at creation, a longer PATCH body too", async () => {
    const options = await fetch(`${rt.url}/uploads`, { method: "OPTIONS" });
    expect(options.headers.get("tus-max-size")).toBe(String(LIMIT));
    const tooLong = await fetch(`${rt.url}/uploads`, {
      method: "POST",
      headers: { ...TUS, "upload-length": String(LIMIT + 1), "upload-metadata": metadata("long.bin") },
    });
    expect(tooLong.status).toBe(413);
    expect(tooLong.headers.get("tus-resumable")).toBe("1.0.0");
    expect(await tooLong.json()).toEqual({
      error: `an upload of ${LIMIT + 1} bytes is over the limit of ${LIMIT} bytes`,
      status: 413,
    });
    expect(readdirSync(join(rt.dataDir, "store", "uploads"))).toEqual([]);

    const created = await fetch(`${rt.url}/uploads`, {
      method: "POST",
      headers: { ...TUS, "upload-length": String(LIMIT), "upload-metadata": metadata("max.bin") },
    });
    expect(created.status).toBe(201);
    const location = created.headers.get("location")!;
    const patch = await fetch(`${rt.url}${location}`, {
      method: "PATCH",
      headers: { ...OCTETS, "upload-offset": "0" },
      body: randomBytes(LIMIT + 1),
    });
    expect(patch.status).toBe(413);
    expect(await patch.json()).toEqual({
      error: `request body of ${LIMIT + 1} bytes is over the limit of ${LIMIT} bytes`,
      status: 413,
    });
    const head = await fetch(`${rt.url}${location}`, { method: "HEAD", headers: TUS });
    expect(head.headers.get("upload-offset")).toBe("0");
    expect(await fetch(`${rt.url}${location}`, { method: "DELETE", headers: TUS }).then((r) => r.status)).toBe(204);
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
    expect(await missing.json()).toEqual({ error: 'no file named "never-stored.txt"', status: 404 });
  });
});

describe("auth: with a token, every write route needs it and reads do not", () => {
  const TOKEN = "s3cret";
  let secured: FileHost;
  beforeAll(async () => {
    secured = await serveFiles({ token: TOKEN });
  });
  afterAll(async () => {
    await stopAll([secured]);
  });

  const missing = { error: "missing bearer token", status: 401 };
  const invalid = { error: "invalid bearer token", status: 401 };
  const CREDENTIALS = [
    { headers: {} as Record<string, string>, answer: missing },
    { headers: { authorization: "Bearer nope" }, answer: invalid },
    { headers: { authorization: `Bearer ${TOKEN}x` }, answer: invalid },
    { headers: { authorization: "Basic czNjcmV0" }, answer: missing },
  ];
  const withToken = { authorization: `Bearer ${TOKEN}` };

  /** Sends `request` with each wrong credential: 401, its reason, the challenge, and `unchanged()` holds. */
  async function refusedWithoutToken(
    request: (headers: Record<string, string>) => Promise<Response>,
    unchanged: () => void | Promise<void>,
    extraHeaders: Record<string, string> = {},
  ) {
    for (const { headers, answer } of CREDENTIALS) {
      const res = await request(headers);
      expect({ sent: headers, status: res.status }).toEqual({ sent: headers, status: 401 });
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="tf-tarsd"');
      for (const [name, value] of Object.entries(extraHeaders)) expect(res.headers.get(name)).toBe(value);
      expect(await res.json()).toEqual(answer);
      await unchanged();
    }
  }

  const uploadsLeft = () => readdirSync(join(secured.dataDir, "store", "uploads"));
  const tmpLeft = () => readdirSync(join(secured.dataDir, "store", "tmp"));

  test("POST /upload (the historic form, with curl too)", async () => {
    const form = () => {
      const body = new FormData();
      body.append("file", new File(["form bytes"], "by-form.txt"));
      return body;
    };
    await refusedWithoutToken(
      (headers) => fetch(`${secured.url}/upload`, { method: "POST", body: form(), headers }),
      () => {
        expect(storedNames(secured)).toEqual([]);
        expect(tmpLeft()).toEqual([]);
      },
    );
    const ok = await fetch(`${secured.url}/upload`, { method: "POST", body: form(), headers: withToken });
    expect(ok.status).toBe(201);
    expect(storedNames(secured)).toEqual(["by-form.txt"]);

    writeFileSync(join(work, "auth.txt"), "auth");
    const anonymous = await curlAnswer(["-o", "/dev/null", "-F", "file=@auth.txt", `${secured.url}/upload`]);
    expect(anonymous.status).toBe(401);
    const up = await curlAnswer(
      ["-o", "/dev/null", "-H", `Authorization: Bearer ${TOKEN}`, "-F", "file=@auth.txt", `${secured.url}/upload`],
    );
    expect(up.status).toBe(201);
    const down = await curl(["-F", "name=auth.txt", `${secured.url}/download`]);
    expect(text(down.stdout)).toBe("auth");
  });

  test("PUT /files/:name", async () => {
    await refusedWithoutToken(
      (headers) => fetch(`${secured.url}/files/by-put.txt`, { method: "PUT", body: "put bytes", headers }),
      () => {
        expect(existsSync(join(secured.dataDir, "store", "names", "by-put.txt"))).toBe(false);
        expect(tmpLeft()).toEqual([]);
      },
    );
    const ok = await fetch(`${secured.url}/files/by-put.txt`, { method: "PUT", body: "put bytes", headers: withToken });
    expect(ok.status).toBe(201);
  });

  test("DELETE /files/:name", async () => {
    await fetch(`${secured.url}/files/doomed.txt`, { method: "PUT", body: "doomed", headers: withToken });
    await refusedWithoutToken(
      (headers) => fetch(`${secured.url}/files/doomed.txt`, { method: "DELETE", headers }),
      async () => expect(await (await fetch(`${secured.url}/files/doomed.txt`)).text()).toBe("doomed"),
    );
    const ok = await fetch(`${secured.url}/files/doomed.txt`, { method: "DELETE", headers: withToken });
    expect(ok.status).toBe(204);
    expect((await fetch(`${secured.url}/files/doomed.txt`)).status).toBe(404);
  });

  test("tus POST, PATCH and DELETE /uploads (their 401s carry Tus-Resumable)", async () => {
    const create = (name: string, headers: Record<string, string>) =>
      fetch(`${secured.url}/uploads`, {
        method: "POST",
        headers: { ...TUS, "upload-length": "10", "upload-metadata": metadata(name), ...headers },
      });
    await refusedWithoutToken((headers) => create("by-tus.bin", headers), () => expect(uploadsLeft()).toEqual([]), TUS);
    const created = await create("by-tus.bin", withToken);
    expect(created.status).toBe(201);
    const location = created.headers.get("location")!;
    const offset = async () => {
      const head = await fetch(`${secured.url}${location}`, { method: "HEAD", headers: TUS }); // a read: no token
      expect(head.status).toBe(200);
      return head.headers.get("upload-offset");
    };

    const patch = (headers: Record<string, string>) =>
      fetch(`${secured.url}${location}`, {
        method: "PATCH",
        headers: { ...OCTETS, "upload-offset": "0", ...headers },
        body: "01234",
      });
    await refusedWithoutToken(patch, async () => expect(await offset()).toBe("0"), TUS);
    expect((await patch(withToken)).status).toBe(204);
    expect(await offset()).toBe("5");

    const terminate = (headers: Record<string, string>) =>
      fetch(`${secured.url}${location}`, { method: "DELETE", headers: { ...TUS, ...headers } });
    await refusedWithoutToken(terminate, async () => expect(await offset()).toBe("5"), TUS);
    expect((await terminate(withToken)).status).toBe(204);
    expect((await fetch(`${secured.url}${location}`, { method: "HEAD", headers: TUS })).status).toBe(404);
    expect(uploadsLeft()).toEqual([]);

    // A whole upload with the token: the file is stored, and readable without one.
    const whole = await create("whole-tus.bin", withToken);
    const done = await fetch(`${secured.url}${whole.headers.get("location")}`, {
      method: "PATCH",
      headers: { ...OCTETS, "upload-offset": "0", ...withToken },
      body: "0123456789",
    });
    expect(done.status).toBe(204);
    expect(done.headers.get("upload-offset")).toBe("10");
    expect(await (await fetch(`${secured.url}/files/whole-tus.bin`)).text()).toBe("0123456789");
  });

  test("reads need no token: GET and HEAD /files/:name, GET /files, POST /download, tus OPTIONS", async () => {
    await fetch(`${secured.url}/files/readable.txt`, { method: "PUT", body: "readable", headers: withToken });
    expect(await (await fetch(`${secured.url}/files/readable.txt`)).text()).toBe("readable");
    const head = await fetch(`${secured.url}/files/readable.txt`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe("8");
    const list = (await (await fetch(`${secured.url}/files`)).json()) as { files: { name: string }[] };
    expect(list.files.map((f) => f.name)).toEqual(storedNames(secured));
    const form = new FormData();
    form.append("name", "readable.txt");
    const download = await fetch(`${secured.url}/download`, { method: "POST", body: form });
    expect(await download.text()).toBe("readable");
    const options = await fetch(`${secured.url}/uploads`, { method: "OPTIONS" });
    expect(options.status).toBe(204);
    expect(options.headers.get("tus-resumable")).toBe("1.0.0");
    expect(options.headers.get("tus-version")).toBe("1.0.0");
    expect(options.headers.get("tus-extension")).toBe("creation,termination");
  });

  test("without a token, writes are open", async () => {
    expect((await fetch(`${rt.url}/files/open.txt`, { method: "PUT", body: "open" })).status).toBe(201);
  });
});

describe("large bodies", () => {
  test("come out byte for byte: multipart read whole and streamed, PUT with a length and chunked", async () => {
    const big = await serveFiles(); // MAX_UPLOAD_BYTES at its default
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
        const body = JSON.parse(text(out.stdout));
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
      await stopAll([big]);
    }
  });
});
