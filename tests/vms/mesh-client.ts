// Clients of APP 1 through the routing mesh, run inside the VMs' network namespace by the two-VM
// test (`ip netns exec tarsd-vms bun tests/vms/mesh-client.ts ...`). They speak the historic API:
// a multipart POST /upload with field `file`, a form POST /download with field `name`. Prints one
// JSON line of counts.
//   read-after-write --upload A --download B [--names N --versions V]
//       V versions of each of N names, uploaded through A; each one downloaded through B at once:
//       a 404 is a miss, an earlier version's bytes a stale read.
//   load --nodes A,B --until FILE [--concurrency C --max-seconds S]
//       uploads and downloads mixed, C workers per node on kept-alive connections, until FILE exists.
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";

const sha256 = (bytes: Uint8Array) => new Bun.CryptoHasher("sha256").update(bytes).digest("hex");

async function upload(node: string, name: string, bytes: Uint8Array<ArrayBuffer>): Promise<Response> {
  const form = new FormData();
  form.append("file", new Blob([bytes]), name);
  return await fetch(`http://${node}:5001/upload`, { method: "POST", body: form, signal: AbortSignal.timeout(30_000) });
}

async function download(node: string, name: string): Promise<Response> {
  const form = new FormData();
  form.append("name", name);
  return await fetch(`http://${node}:5001/download`, {
    method: "POST",
    body: form,
    signal: AbortSignal.timeout(30_000),
  });
}

async function readAfterWrite(up: string, down: string, names: number, versions: number) {
  const run = crypto.randomUUID().slice(0, 8);
  const counts = { uploads: 0, downloads: 0, ok: 0, misses: 0, stale: 0, errors: 0, problems: [] as string[] };
  for (let v = 0; v < versions; v++) {
    for (let n = 0; n < names; n++) {
      const name = `raw-${run}-${n}.bin`;
      const bytes = crypto.getRandomValues(new Uint8Array(1024 + ((n * 7919 + v * 104729) % 65536)));
      const stored = await upload(up, name, bytes);
      await stored.arrayBuffer();
      if (stored.status !== 200 && stored.status !== 201) {
        counts.errors++;
        counts.problems.push(`upload ${name} v${v}: ${stored.status}`);
        continue;
      }
      counts.uploads++;
      const res = await download(down, name);
      const body = new Uint8Array(await res.arrayBuffer());
      counts.downloads++;
      if (res.status === 404) {
        counts.misses++;
        counts.problems.push(`${name} v${v}: 404 right after its upload`);
      } else if (res.status !== 200) {
        counts.errors++;
        counts.problems.push(`download ${name} v${v}: ${res.status}`);
      } else if (sha256(body) === sha256(bytes)) {
        counts.ok++;
      } else {
        counts.stale++;
        counts.problems.push(`${name} v${v}: other bytes (${body.length} of ${bytes.length}) right after its upload`);
      }
    }
  }
  counts.problems = counts.problems.slice(0, 20);
  return counts;
}

async function load(nodes: string[], until: string, concurrency: number, maxSeconds: number) {
  const deadline = Date.now() + maxSeconds * 1000;
  const counts = { uploads: 0, downloads: 0, failed: 0, problems: [] as string[] };
  const fail = (what: string) => {
    counts.failed++;
    if (counts.problems.length < 20) counts.problems.push(what);
  };
  const worker = async (node: string, id: number) => {
    const own: { name: string; sha: string }[] = [];
    for (let i = 0; !existsSync(until) && Date.now() < deadline; i++) {
      try {
        if (i % 2 === 0 || own.length === 0) {
          const name = `load-${node}-${id}-${i}.bin`;
          const bytes = crypto.getRandomValues(new Uint8Array(16_384));
          const res = await upload(node, name, bytes);
          await res.arrayBuffer();
          if (res.status === 200 || res.status === 201) {
            counts.uploads++;
            own.push({ name, sha: sha256(bytes) });
          } else fail(`upload ${name} via ${node}: ${res.status}`);
        } else {
          const file = own[i % own.length]!;
          const res = await download(node, file.name);
          const body = new Uint8Array(await res.arrayBuffer());
          if (res.status === 200 && sha256(body) === file.sha) counts.downloads++;
          else fail(`download ${file.name} via ${node}: ${res.status}, ${body.length} bytes`);
        }
      } catch (err) {
        fail(`via ${node}: ${err}`);
      }
    }
  };
  await Promise.all(nodes.flatMap((node) => Array.from({ length: concurrency }, (_, id) => worker(node, id))));
  return counts;
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    upload: { type: "string" },
    download: { type: "string" },
    names: { type: "string", default: "20" },
    versions: { type: "string", default: "10" },
    nodes: { type: "string" },
    until: { type: "string" },
    concurrency: { type: "string", default: "2" },
    "max-seconds": { type: "string", default: "900" },
  },
});
const mode = positionals[0];
if (mode === "read-after-write" && values.upload && values.download) {
  const counts = await readAfterWrite(values.upload, values.download, Number(values.names), Number(values.versions));
  console.log(JSON.stringify(counts));
} else if (mode === "load" && values.nodes && values.until) {
  const counts = await load(
    values.nodes.split(","),
    values.until,
    Number(values.concurrency),
    Number(values["max-seconds"]),
  );
  console.log(JSON.stringify(counts));
} else {
  console.error(
    "usage: mesh-client.ts read-after-write --upload A --download B [--names N --versions V]\n" +
      "       mesh-client.ts load --nodes A,B --until FILE [--concurrency C --max-seconds S]",
  );
  process.exit(2);
}
