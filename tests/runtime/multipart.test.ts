// formField reads a small form with the platform's FormData and any other with busboy: both must give
// the same answers (value, absent, or the same 4xx) for the same body.
import { describe, expect, test } from "bun:test";
import { formField, HttpError } from "@tarsd/sdk";

const BOUNDARY = "XyZ";
const MULTIPART = `multipart/form-data; boundary=${BOUNDARY}`;
const part = (disposition: string, data: string, headers = "") =>
  `--${BOUNDARY}\r\nContent-Disposition: form-data; ${disposition}\r\n${headers}\r\n${data}\r\n`;
const end = `--${BOUNDARY}--\r\n`;

type Answer = { value: string | undefined } | { status: number; reason: string };

async function answer(request: Request): Promise<Answer> {
  try {
    return { value: await formField(request, "name") };
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    return { status: err.status, reason: err.reason };
  }
}

/** The body with its Content-Length (read whole), and as a stream of 7-byte chunks without one (busboy). */
function bothWays(contentType: string, body: string): [Request, Request] {
  const bytes = new TextEncoder().encode(body);
  const whole = new Request("http://test/download", {
    method: "POST",
    headers: { "content-type": contentType, "content-length": String(bytes.byteLength) },
    body: bytes,
  });
  let at = 0;
  const streamed = new Request("http://test/download", {
    method: "POST",
    headers: { "content-type": contentType },
    body: new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= bytes.byteLength) return controller.close();
        controller.enqueue(bytes.slice(at, at += 7));
      },
    }),
    // @ts-expect-error -- streaming request bodies need half duplex
    duplex: "half",
  });
  return [whole, streamed];
}

const cases: { what: string; contentType: string; body: string; expected: Answer | { status: number } }[] = [
  {
    what: "a name field",
    contentType: MULTIPART,
    body: part('name="name"', "report.pdf") + end,
    expected: { value: "report.pdf" },
  },
  {
    what: "unicode and spaces",
    contentType: MULTIPART,
    body: part('name="name"', "relatório final ü.txt") + end,
    expected: { value: "relatório final ü.txt" },
  },
  {
    what: "after other fields and a file part named `name`",
    contentType: MULTIPART,
    body: part('name="other"', "x") + part('name="name"; filename="f.bin"', "bytes") + part('name="name"', "b.txt") +
      end,
    expected: { value: "b.txt" },
  },
  {
    what: "urlencoded, + and percent-escapes",
    contentType: "application/x-www-form-urlencoded",
    body: "a=1&name=my+file%C3%BC.txt",
    expected: { value: "my fileü.txt" },
  },
  {
    what: "no name field",
    contentType: MULTIPART,
    body: part('name="other"', "x") + end,
    expected: { value: undefined },
  },
  {
    what: "not a form",
    contentType: "text/plain",
    body: "name=x",
    expected: {
      status: 400,
      reason: 'expected a multipart/form-data or urlencoded form, got content-type "text/plain"',
    },
  },
  {
    what: "multipart without a boundary",
    contentType: "multipart/form-data",
    body: part('name="name"', "x") + end,
    expected: { status: 400 },
  },
  {
    what: "cut off before the last boundary",
    contentType: MULTIPART,
    body: part('name="name"', "x"),
    expected: { status: 400 },
  },
  {
    what: "a field over 64 KiB",
    contentType: MULTIPART,
    body: part('name="name"', "x".repeat(64 * 1024 + 1)) + end,
    expected: { status: 413, reason: 'form field "name" is over 65536 bytes' },
  },
];

describe("formField: the platform's parser (body read whole) and busboy (streamed) agree", () => {
  for (const { what, contentType, body, expected } of cases) {
    test(what, async () => {
      const [whole, streamed] = bothWays(contentType, body);
      const fromWhole = await answer(whole);
      const fromStream = await answer(streamed);
      expect(fromWhole).toMatchObject(expected);
      if ("value" in expected || "reason" in expected) expect(fromStream).toEqual(fromWhole);
      else expect(fromStream).toMatchObject(expected); // the same status; each parser words the reason
    });
  }

  test("a form over the in-memory size is streamed through busboy (its file parts are passed over)", async () => {
    const big = "y".repeat(5 * 1024 * 1024);
    const [whole] = bothWays(
      MULTIPART,
      part('name="file"; filename="big.bin"', big) + part('name="name"', "after.bin") + end,
    );
    expect(await answer(whole)).toEqual({ value: "after.bin" });
  });

  test("a request without a body is a 400 that asks for a form", async () => {
    const empty = new Request("http://test/download", { method: "POST", headers: { "content-type": MULTIPART } });
    expect(await answer(empty)).toEqual({
      status: 400,
      reason: "request has no body; expected a form (multipart/form-data)",
    });
  });
});
