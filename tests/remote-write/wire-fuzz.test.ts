// The hand-written wire parsers against a decoder made from the .proto files alone (harness/wire-fuzz.ts),
// on bodies mutated from real ones: a captured Prometheus 2.42 request (1.0), Prometheus-built native
// histogram requests (1.0 and 2.0) and 2.0 requests built here. Bounded and seeded: the same run
// every time (FUZZ_SEED to explore others, bench/wire-fuzz.ts for a long run). Then mutated bodies
// through the whole function (its contract, the handler, the embedded file sink): never a 5xx.
import { expect, test } from "bun:test";
import { Registry } from "prom-client";
import { compareDecoders, mutate, random, seedBodies } from "../../harness/wire-fuzz.ts";
import { compress } from "../../harness/remote-write-requests.ts";
import { CONTENT_TYPE_V1, CONTENT_TYPE_V2 } from "../../harness/remote-write-schema.ts";
import { tempDir } from "../../harness/runtime-process.ts";
import { remoteWriteFunction } from "../../functions/remote-write.ts";
import { DEFAULT_REMOTE_WRITE_SETTINGS } from "../../lib/remote-write/settings.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
const ROUNDS = 4000;

test(`${ROUNDS} mutated bodies: the receiver and the reference agree on every one (seed ${SEED})`, () => {
  const seeds = seedBodies();
  const rnd = random(SEED);
  // The unmutated bodies first: both accept them, identically.
  for (const version of [1, 2] as const) {
    for (const body of seeds[version === 1 ? "v1" : "v2"]) {
      expect(compareDecoders(body, version)).toEqual({ agree: true, accepted: true });
    }
  }
  const disagreements: string[] = [];
  let accepted = 0;
  const deadline = performance.now() + 60_000;
  for (let i = 0; i < ROUNDS && performance.now() < deadline; i++) {
    const version = rnd() < 0.5 ? 1 : 2;
    const pool = version === 1 ? seeds.v1 : seeds.v2;
    const body = mutate(pool[Math.floor(rnd() * pool.length)]!, pool, rnd);
    const verdict = compareDecoders(body, version);
    if (!verdict.agree) {
      disagreements.push(`#${i} v${version} ${Buffer.from(body).toString("base64")}: ${verdict.detail}`);
    } else if (verdict.accepted) accepted++;
  }
  console.log(`wire fuzz: ${ROUNDS} bodies, ${accepted} accepted by both, ${disagreements.length} disagreements`);
  expect(disagreements.slice(0, 3)).toEqual([]);
  expect(accepted).toBeGreaterThan(ROUNDS / 20); // the mutations do not only make garbage
}, 120_000);

test(
  "mutated bodies through the function: 204 only for what the reference accepts, else 400/413/415, never 5xx",
  async () => {
    const fn = remoteWriteFunction({ ...DEFAULT_REMOTE_WRITE_SETTINGS, dataDir: tempDir() }, {
      registry: new Registry(),
    });
    const seeds = seedBodies();
    const rnd = random(SEED + 1);
    const statuses: Record<number, number> = {};
    for (let i = 0; i < 300; i++) {
      const version = rnd() < 0.5 ? 1 : 2;
      const pool = version === 1 ? seeds.v1 : seeds.v2;
      const message = mutate(pool[Math.floor(rnd() * pool.length)]!, pool, rnd);
      // Mostly valid snappy around a mutated message; sometimes the snappy block itself is mutated.
      const intact = rnd() < 0.8;
      const body = new Uint8Array(intact ? compress(message) : mutate(compress(message), [], rnd));
      const res = await fn.fetch(
        new Request("http://test/api/v1/write", {
          method: "POST",
          body,
          headers: { "content-type": version === 1 ? CONTENT_TYPE_V1 : CONTENT_TYPE_V2, "content-encoding": "snappy" },
        }),
      );
      await res.arrayBuffer();
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      expect([204, 400, 413, 415]).toContain(res.status);
      if (intact) {
        // What the reference refuses is a 400; a 204 only for what it accepts.
        const verdict = compareDecoders(message, version);
        if (verdict.agree && !verdict.accepted) expect(res.status).toBe(400);
        if (res.status === 204) expect(verdict).toEqual({ agree: true, accepted: true });
      }
    }
    console.log(`wire fuzz through the function: ${JSON.stringify(statuses)}`);
    expect(statuses[400] ?? 0).toBeGreaterThan(0);
  },
  120_000,
);
