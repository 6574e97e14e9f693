// The hand-written wire parsers against a decoder made from the .proto files alone (harness/wire-fuzz.ts),
// on bodies mutated from real ones: a captured Prometheus 2.42 request (1.0), Prometheus-built native
// histogram requests (1.0 and 2.0) and 2.0 requests built here. Bounded and seeded: the same run
// every time (FUZZ_SEED to explore others, bench/wire-fuzz.ts for a long run). Then mutated bodies
// through the whole function (its contract, the handler, the embedded file sink): never a 5xx.
import { expect, test } from "bun:test";
import { Registry } from "prom-client";
import { compareDecoders, fuzzRounds, mutate, random, seedBodies } from "../../harness/wire-fuzz.ts";
import { compress } from "../../harness/remote-write-requests.ts";
import { CONTENT_TYPE_V1, CONTENT_TYPE_V2 } from "../../harness/remote-write-schema.ts";
import { tempDir } from "../../harness/runtime-process.ts";
import { remoteWriteFunction } from "../../functions/remote-write.ts";
import { DEFAULT_REMOTE_WRITE_SETTINGS } from "../../lib/remote-write/settings.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
/** Rounds: a few seconds on a busy 2-core machine (see ROUND_DEADLINE_MS); bench/wire-fuzz.ts runs for minutes. */
const ROUNDS = Number(process.env.FUZZ_ROUNDS ?? 4000);
/**
 * A guard for CI, not a budget: far more than ROUNDS take. Hitting it fails the test (the rounds it
 * promises were not run), with how far it got, instead of passing on whatever was done by then.
 */
const ROUND_DEADLINE_MS = Number(process.env.FUZZ_DEADLINE_MS ?? 60_000);

test(`${ROUNDS} mutated bodies: the receiver and the reference agree on every one (seed ${SEED})`, () => {
  const seeds = seedBodies();
  // The unmutated bodies first: both accept them, identically.
  for (const version of [1, 2] as const) {
    for (const body of seeds[version === 1 ? "v1" : "v2"]) {
      expect(compareDecoders(body, version)).toEqual({ agree: true, accepted: true });
    }
  }
  const run = fuzzRounds({ seed: SEED, rounds: ROUNDS, deadlineMs: ROUND_DEADLINE_MS, seeds });
  console.log(
    `wire fuzz: ${run.rounds} of ${run.planned} bodies in ${(run.elapsedMs / 1000).toFixed(1)} s, ` +
      `${run.accepted} accepted by both, ${run.disagreements.length} disagreements`,
  );
  if (run.deadlineHit) {
    throw new Error(
      `wire fuzz: the ${ROUND_DEADLINE_MS / 1000} s deadline stopped it after ${run.rounds} of ${ROUNDS} rounds: ` +
        "the rounds this test promises were not run (a slow or overloaded machine, or a slower decoder)",
    );
  }
  expect({ rounds: run.rounds, planned: run.planned }).toEqual({ rounds: ROUNDS, planned: ROUNDS });
  expect(run.disagreements.slice(0, 3)).toEqual([]);
  expect(run.accepted).toBeGreaterThan(ROUNDS / 20); // the mutations do not only make garbage
}, 120_000);

test("fuzzRounds counts the rounds it ran: a deadline stops it short and says so, it never reports the plan", () => {
  const seeds = seedBodies();
  expect(fuzzRounds({ seed: SEED, rounds: 50, deadlineMs: 60_000, seeds })).toMatchObject({
    planned: 50,
    rounds: 50,
    deadlineHit: false,
  });
  // A deadline already passed: nothing ran, and the run says so.
  expect(fuzzRounds({ seed: SEED, rounds: 50, deadlineMs: 0, seeds })).toMatchObject({
    planned: 50,
    rounds: 0,
    accepted: 0,
    deadlineHit: true,
  });
  // A deadline inside the run: fewer rounds than planned, each one counted.
  const short = fuzzRounds({ seed: SEED, rounds: 1_000_000, deadlineMs: 200, seeds });
  expect(short.deadlineHit).toBe(true);
  expect(short.rounds).toBeGreaterThan(0);
  expect(short.rounds).toBeLessThan(1_000_000);
  expect(short.accepted).toBeLessThanOrEqual(short.rounds);
});

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
