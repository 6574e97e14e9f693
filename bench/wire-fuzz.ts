// The long run of the wire parser's differential fuzz (the short one is tests/remote-write/wire-fuzz.test.ts):
//   bun bench/wire-fuzz.ts                 FUZZ_SECONDS (300) of mutated bodies, a new seed every 10,000
// Each body goes through the receiver's decoder and the reference made from the .proto files
// (harness/wire-fuzz.ts); both must refuse it or give the same series. Disagreements are written to
// .artifacts/wire-fuzz/ (base64 body, version, both answers) and make the exit status 1.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../harness/binaries.ts";
import { compareDecoders, mutate, random, seedBodies } from "../harness/wire-fuzz.ts";

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 300);
const FIRST_SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const seeds = seedBodies();
const out = join(REPO_ROOT, ".artifacts", "wire-fuzz");
const deadline = performance.now() + SECONDS * 1000;
let bodies = 0;
let accepted = 0;
let disagreements = 0;
let seed = FIRST_SEED;
while (performance.now() < deadline) {
  const rnd = random(seed);
  for (let i = 0; i < 10_000 && performance.now() < deadline; i++) {
    const version = rnd() < 0.5 ? 1 : 2;
    const pool = version === 1 ? seeds.v1 : seeds.v2;
    const body = mutate(pool[Math.floor(rnd() * pool.length)]!, pool, rnd);
    const verdict = compareDecoders(body, version);
    bodies++;
    if (!verdict.agree) {
      disagreements++;
      mkdirSync(out, { recursive: true });
      writeFileSync(
        join(out, `seed-${seed}-${i}.json`),
        JSON.stringify({ version, body: Buffer.from(body).toString("base64"), detail: verdict.detail }, null, 2),
      );
    } else if (verdict.accepted) accepted++;
  }
  seed++;
}
console.log(
  `wire fuzz: ${bodies} bodies in ${SECONDS} s (seeds ${FIRST_SEED}..${seed - 1}), ${accepted} accepted by both, ` +
    `${disagreements} disagreements${disagreements > 0 ? ` (see ${out})` : ""}`,
);
process.exit(disagreements > 0 ? 1 : 0);
