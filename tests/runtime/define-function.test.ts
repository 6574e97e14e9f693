// The contract on its own, without any server: routing, 404/405, auth and JSON errors.
import { describe, expect, test } from "bun:test";
import { compilePath, DEFAULT_MAX_BODY_BYTES, defineFunction, HttpError } from "@tarsd/sdk";

const ROUTES: Parameters<typeof defineFunction>[0]["routes"] = [
  { method: "GET", path: "/things/:id", summary: "read", handler: (_r, { id }) => Response.json({ id }) },
  { method: "PUT", path: "/things/:id", summary: "write", handler: () => new Response(null, { status: 204 }) },
  {
    method: "POST",
    path: "/search",
    summary: "read by POST",
    auth: { none: "a search only reads" },
    handler: () => Response.json([]),
  },
  {
    method: "GET",
    path: "/boom",
    summary: "fails",
    handler: () => {
      throw new HttpError(418, "teapot");
    },
  },
  {
    method: "GET",
    path: "/crash",
    summary: "bug",
    handler: () => {
      throw new Error("bug");
    },
  },
];
const fn = defineFunction({ routes: ROUTES });
const call = (method: string, path: string, headers: Record<string, string> = {}) =>
  fn.fetch(new Request(`http://fn.test${path}`, { method, headers }));

describe("defineFunction", () => {
  test("declares its routes without handlers", () => {
    expect(fn.routes.map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /things/:id",
      "PUT /things/:id",
      "POST /search",
      "GET /boom",
      "GET /crash",
    ]);
    expect(fn.routes.every((r) => !("handler" in r))).toBe(true);
  });

  test("routes by method and path, decoding params", async () => {
    expect(await (await call("GET", "/things/a%20b")).json()).toEqual({ id: "a b" });
    expect((await call("PUT", "/things/1")).status).toBe(204);
  });

  test("404 and 405 (with Allow) as JSON", async () => {
    const missing = await call("GET", "/nope");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: "no route for /nope", status: 404 });
    const wrong = await call("DELETE", "/things/1");
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET, PUT");
  });

  test("thrown HttpErrors keep their status; anything else is a 500 without internals", async () => {
    expect(await (await call("GET", "/boom")).json()).toEqual({ error: "teapot", status: 418 });
    const crash = await call("GET", "/crash");
    expect(crash.status).toBe(500);
    expect(await crash.json()).toEqual({ error: "internal error", status: 500 });
  });

  test("bad percent-encoding in a param is a 400", async () => {
    expect((await call("GET", "/things/%E0%A4%A")).status).toBe(400);
  });

  test("with a token set, writes need it and reads do not (unless a route says otherwise)", async () => {
    const guarded = defineFunction({ token: "t0ken", routes: ROUTES });
    const ask = (method: string, path: string, headers: Record<string, string> = {}) =>
      guarded.fetch(new Request(`http://fn.test${path}`, { method, headers }));
    expect((await ask("PUT", "/things/1")).status).toBe(401);
    expect((await ask("PUT", "/things/1", { authorization: "Bearer wrong" })).status).toBe(401);
    expect((await ask("PUT", "/things/1", { authorization: "Bearer t0ken" })).status).toBe(204);
    expect((await ask("GET", "/things/1")).status).toBe(200);
    expect((await ask("POST", "/search")).status).toBe(200);
    // Without a token nothing needs one.
    expect((await call("PUT", "/things/1")).status).toBe(204);
  });

  test("a function that declares no token takes the host's AUTH_TOKEN (read when it is defined); its own wins", async () => {
    const saved = process.env.AUTH_TOKEN;
    process.env.AUTH_TOKEN = "h0st";
    let hosted, own;
    try {
      hosted = defineFunction({ routes: ROUTES });
      own = defineFunction({ token: "own", routes: ROUTES });
    } finally {
      if (saved === undefined) delete process.env.AUTH_TOKEN;
      else process.env.AUTH_TOKEN = saved;
    }
    const put = (module: typeof fn, authorization?: string) =>
      module.fetch(
        new Request("http://fn.test/things/1", {
          method: "PUT",
          headers: authorization ? { authorization: `Bearer ${authorization}` } : {},
        }),
      );
    expect((await put(hosted)).status).toBe(401);
    expect((await put(hosted, "wrong")).status).toBe(401);
    expect((await put(hosted, "h0st")).status).toBe(204);
    expect((await put(own, "h0st")).status).toBe(401);
    expect((await put(own, "own")).status).toBe(204);
    // The opted-out route and the reads stay open.
    expect((await hosted.fetch(new Request("http://fn.test/search", { method: "POST" }))).status).toBe(200);
    expect((await hosted.fetch(new Request("http://fn.test/things/1"))).status).toBe(200);
  });

  test("a route opts out only explicitly, with a reason: `auth: false` (or an empty reason) is refused", () => {
    const route = { method: "POST" as const, path: "/x", summary: "x", handler: () => new Response() };
    for (const auth of [false, true, { none: "" }, "none"]) {
      // deno-lint-ignore no-explicit-any
      expect(() => defineFunction({ routes: [{ ...route, auth: auth as any }] })).toThrow(
        'POST /x: auth must be "bearer" or { none: "<why anyone may call it>" }',
      );
    }
  });

  test('`auth: "bearer"` protects a read', async () => {
    const guarded = defineFunction({
      token: "t",
      routes: [{ method: "GET", path: "/secret", summary: "s", auth: "bearer", handler: () => new Response("s") }],
    });
    expect((await guarded.fetch(new Request("http://fn.test/secret"))).status).toBe(401);
    const ok = await guarded.fetch(new Request("http://fn.test/secret", { headers: { authorization: "Bearer t" } }));
    expect(ok.status).toBe(200);
  });

  test("observe sees every answer: the handlers' and the contract's own 401, 404 and 405", async () => {
    const seen: number[] = [];
    const observed = defineFunction({
      token: "t0ken",
      observe: (response) => void seen.push(response.status),
      routes: [{ method: "PUT", path: "/x", summary: "write", handler: () => new Response(null, { status: 204 }) }],
    });
    for (
      const [method, path, headers] of [["PUT", "/x", { authorization: "Bearer t0ken" }], ["PUT", "/x", {}], [
        "GET",
        "/x",
        {},
      ], ["GET", "/y", {}]] as const
    ) {
      await observed.fetch(new Request(`http://fn.test${path}`, { method, headers }));
    }
    expect(seen).toEqual([204, 401, 405, 404]);
  });

  test("a route's responseHeaders are on its every answer (the contract's 401 too), unless the answer sets them", async () => {
    const protocol = defineFunction({
      token: "t",
      routes: [
        {
          method: "PATCH",
          path: "/p",
          summary: "patch",
          responseHeaders: { "x-protocol": "1" },
          handler: () => new Response(null, { status: 204, headers: { "x-protocol": "own" } }),
        },
        {
          method: "OPTIONS",
          path: "/p",
          summary: "open",
          responseHeaders: { "x-protocol": "1" },
          handler: () => {
            throw new HttpError(418, "teapot");
          },
        },
      ],
    });
    const send = (method: string, headers: Record<string, string> = {}) =>
      protocol.fetch(new Request("http://fn.test/p", { method, headers }));
    const refused = await send("PATCH");
    expect(refused.status).toBe(401);
    expect(refused.headers.get("x-protocol")).toBe("1");
    expect((await send("PATCH", { authorization: "Bearer t" })).headers.get("x-protocol")).toBe("own");
    const failed = await send("OPTIONS"); // OPTIONS needs no token by default.
    expect(failed.status).toBe(418);
    expect(failed.headers.get("x-protocol")).toBe("1");
  });

  test("compilePath matches whole segments only", () => {
    const match = compilePath("/files/:name");
    expect(match("/files/a")).toEqual({ name: "a" });
    expect(match("/files")).toBeNull();
    expect(match("/files/a/b")).toBeNull();
    expect(match("/other/a")).toBeNull();
  });
});

describe("the body limit, applied by the contract itself (so also under deno serve)", () => {
  const received: number[] = [];
  const limited = defineFunction({
    routes: [{
      method: "POST",
      path: "/echo",
      summary: "reads its body",
      auth: { none: "a test of body limits" },
      maxBodyBytes: 10,
      bodyOverheadBytes: 2,
      async handler(request) {
        received.push(Number(request.headers.get("content-length")));
        const bytes = new Uint8Array(await request.arrayBuffer());
        return Response.json({ bytes: bytes.byteLength });
      },
    }],
  });
  const post = (body: Uint8Array<ArrayBuffer>) =>
    limited.fetch(
      new Request("http://fn.test/echo", {
        method: "POST",
        body,
        headers: { "content-length": String(body.byteLength) },
      }),
    );
  const chunked = (...chunks: number[]) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const n of chunks) controller.enqueue(new Uint8Array(n));
        controller.close();
      },
    });

  test("a declared length up to the limit and its overhead is read; one byte more is 413 before the handler runs", async () => {
    received.length = 0;
    expect(await (await post(new Uint8Array(12))).json()).toEqual({ bytes: 12 });
    const over = await post(new Uint8Array(13));
    expect(over.status).toBe(413);
    expect(await over.json()).toEqual({
      error: "request body of 13 bytes is over the limit of 10 bytes",
      status: 413,
    });
    expect(received).toEqual([12]);
  });

  test("a chunked body is counted as it is read: 413 once it passes the limit, and the meter says how much came", async () => {
    const meter = { bytes: 0 };
    const route = limited.routes[0]!;
    const request = (body: ReadableStream<Uint8Array>) =>
      new Request("http://fn.test/echo", { method: "POST", body, duplex: "half" } as RequestInit);
    const ok = await route.handle(request(chunked(5, 7)), {}, meter);
    expect(await ok.json()).toEqual({ bytes: 12 });
    expect(meter.bytes).toBe(12);
    const over = await route.handle(request(chunked(5, 5, 5)), {}, meter);
    expect(over.status).toBe(413);
    expect((await over.json()).error).toBe("request body of 15 bytes is over the limit of 10 bytes");
  });

  test("a route without a limit of its own takes DEFAULT_MAX_BODY_BYTES", async () => {
    const open = defineFunction({
      routes: [{
        method: "POST",
        path: "/x",
        summary: "x",
        auth: { none: "a test of body limits" },
        handler: async (request) => new Response(String((await request.arrayBuffer()).byteLength)),
      }],
    });
    const at = await open.fetch(
      new Request("http://fn.test/x", { method: "POST", body: new Uint8Array(DEFAULT_MAX_BODY_BYTES) }),
    );
    expect(await at.text()).toBe(String(DEFAULT_MAX_BODY_BYTES));
    const over = await open.fetch(
      new Request("http://fn.test/x", { method: "POST", body: new Uint8Array(DEFAULT_MAX_BODY_BYTES + 1) }),
    );
    expect(over.status).toBe(413);
  });
});
