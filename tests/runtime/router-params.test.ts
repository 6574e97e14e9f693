// The runtime takes the params Bun's router decoded instead of decoding the URL again, but only
// when they carry no U+FFFD (runtime/http/route-table.ts, cleanlyDecoded). That rests on how Bun
// decodes: checked here against Bun itself, over the cases that matter and random bytes.
import { afterAll, describe, expect, test } from "bun:test";
import { cleanlyDecoded } from "@tarsd/sdk";

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  routes: { "/files/:name": (request) => Response.json(request.params) },
  fetch: () => new Response("no route", { status: 404 }),
});
afterAll(() => server.stop(true));

/** What Bun's router gives for the raw (still percent-encoded) segment. */
async function bunParam(segment: string): Promise<string> {
  const url = `http://127.0.0.1:${server.port}/files/${segment}`;
  expect(new URL(url).pathname).toBe(`/files/${segment}`);
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return ((await response.json()) as { name: string }).name;
}

function strictDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** The property: a param without U+FFFD is what strict decoding gives; a segment strict decoding refuses has one. */
async function check(segment: string): Promise<void> {
  const lenient = await bunParam(segment);
  const strict = strictDecode(segment);
  const trusted = cleanlyDecoded({ name: lenient })?.name;
  if (strict === undefined) expect({ segment, trusted }).toEqual({ segment, trusted: undefined });
  else if (trusted !== undefined) expect({ segment, trusted }).toEqual({ segment, trusted: strict });
}

describe("Bun's router params", () => {
  test("bad percent-encodings and bad UTF-8 give U+FFFD; good ones decode as decodeURIComponent does", async () => {
    const cases = [
      "plain.txt",
      "a%20b",
      "a+b",
      "%25zz", // a literal percent sign
      "a%2Fb",
      "x%00y",
      "%C3%A9t%C3%A9",
      "%F0%9F%98%80",
      "%EF%BF%BD", // U+FFFD itself, well encoded: not trusted, decoded from the URL instead
      "%zz",
      "%",
      "a%2",
      "%E0%A4%A",
      "%ff",
      "%C0%80", // overlong
      "%ED%A0%80", // a surrogate
      "%F4%90%80%80", // above U+10FFFF
      "%C3",
    ];
    for (const segment of cases) await check(segment);
    expect(cleanlyDecoded({ name: await bunParam("%EF%BF%BD") })).toBeUndefined();
    expect(cleanlyDecoded({ name: await bunParam("%C3%A9t%C3%A9") })).toEqual({ name: "été" });
  });

  test("random percent-encoded bytes (seeded)", async () => {
    let seed = 0x9e3779b9;
    const random = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
    let trusted = 0;
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      const length = 1 + Math.floor(random() * 6);
      let segment = "";
      for (let j = 0; j < length; j++) {
        const r = random();
        // Mostly whole %XX bytes (UTF-8 lead and continuation bytes alike), some plain
        // characters, some cut-off escapes.
        if (r < 0.7) segment += `%${Math.floor(random() * 256).toString(16).padStart(2, "0").toUpperCase()}`;
        else if (r < 0.9) segment += "abcXYZ019-_~"[Math.floor(random() * 12)];
        else segment += ["%", "%4", "%G1"][Math.floor(random() * 3)];
      }
      if (/^(%2E)+$/i.test(segment)) continue; // a dot segment: URL parsing removes it before any router
      await check(segment);
      const lenient = await bunParam(segment);
      if (cleanlyDecoded({ name: lenient }) !== undefined) trusted++;
      if (strictDecode(segment) === undefined) refused++;
    }
    // Both sides of the property were exercised.
    expect(trusted).toBeGreaterThan(40);
    expect(refused).toBeGreaterThan(40);
  });
});
