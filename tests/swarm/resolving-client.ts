// A client on APP 1's overlay network, run inside a container by the swarm test while a function is
// redeployed. It asks swarm's DNS for the service name and calls one of the addresses it gets:
//   - `every-request`: before every request, like a caller that does not cache DNS, so a task that is
//     still named but no longer listening shows up as a failed request;
//   - `per-connection`: once, then again only when the server closes the connection (`Connection:
//     close`), like an HTTP client's kept-alive pool: it keeps calling a task that swarm has already
//     taken out of DNS, so only a replica that drains (tells it to close, then finishes) loses nothing.
//   bun resolving-client.ts <service> <port> <path> <workers> <stop file> <result file> [<resolve>]
// <path> `upload-download` makes each worker repeat the historic API's round: POST /upload of new
// bytes, POST /download of that name (the same bytes back, from whichever task DNS gives), GET /files;
// any other path is fetched with GET. Each request is sent once: no retries.
// The query goes to the resolver in /etc/resolv.conf (Docker's, 127.0.0.11) over UDP, by hand:
// node:dns' resolve4 keeps answers for their TTL (swarm gives 600 s), and getent costs a process per
// request.
import { createSocket } from "node:dgram";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const NAMESERVER = /^nameserver\s+(\S+)/m.exec(readFileSync("/etc/resolv.conf", "utf8"))?.[1] ?? "127.0.0.11";

function query(id: number, name: string): Buffer {
  const labels = name.split(".").map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label)]));
  const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD, one question
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]); // type A, class IN
}

function skipName(msg: Buffer, at: number): number {
  for (let length = msg.readUInt8(at); length !== 0; length = msg.readUInt8(at)) {
    if ((length & 0xc0) === 0xc0) return at + 2; // compression pointer
    at += length + 1;
  }
  return at + 1;
}

function addressesIn(msg: Buffer): string[] {
  const answers = msg.readUInt16BE(6);
  let at = skipName(msg, 12) + 4;
  const out: string[] = [];
  for (let i = 0; i < answers; i++) {
    at = skipName(msg, at);
    const type = msg.readUInt16BE(at);
    const length = msg.readUInt16BE(at + 8);
    if (type === 1 && length === 4) out.push([...msg.subarray(at + 10, at + 14)].join("."));
    at += 10 + length;
  }
  return out;
}

/** One A query, no cache. */
async function resolve4(name: string): Promise<string[]> {
  const socket = createSocket("udp4");
  const id = Math.floor(Math.random() * 0xffff);
  try {
    return await new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no DNS answer for ${name} within 2 s`)), 2000);
      socket.on("message", (msg: Buffer) => {
        if (msg.readUInt16BE(0) !== id) return;
        clearTimeout(timer);
        const rcode = msg.readUInt8(3) & 0x0f;
        if (rcode !== 0) reject(new Error(`DNS rcode ${rcode} for ${name}`));
        else resolve(addressesIn(msg));
      });
      socket.send(query(id, name), 53, NAMESERVER);
    });
  } finally {
    socket.close();
  }
}

const [service = "", port, path, workers, stopFile = "", resultFile = "", resolveMode = "every-request"] = process
  .argv.slice(2);
if (!resultFile || !["every-request", "per-connection"].includes(resolveMode)) {
  console.error(
    "usage: bun resolving-client.ts <service> <port> <path> <workers> <stop file> <result file> [every-request|per-connection]",
  );
  process.exit(2);
}

let ok = 0;
/** answers that closed the connection (`Connection: close`, a draining replica's) */
let closedByServer = 0;
const failures: { ip: string; error: string; at: string }[] = [];
const addresses = new Set<string>();

/** In `per-connection` mode, the address each worker keeps until its server closes the connection. */
const keptAddress = new Map<number, string>();

async function pickAddress(): Promise<string> {
  const ips = await resolve4(service);
  for (const a of ips) addresses.add(a);
  const ip = ips[Math.floor(Math.random() * ips.length)];
  if (ip === undefined) throw new Error(`${service} resolves to no address`);
  return ip;
}

/** One request to a task the service name resolves to; what is not the expected answer is a failure. */
async function call(
  worker: number,
  describe: string,
  send: (base: string) => Promise<Response>,
  check: (res: Response) => Promise<string | undefined>,
) {
  let ip = keptAddress.get(worker) ?? "(not resolved)";
  try {
    if (resolveMode === "every-request" || !keptAddress.has(worker)) ip = await pickAddress();
    keptAddress.set(worker, ip);
    const res = await send(`http://${ip}:${port}`);
    if (res.headers.get("connection")?.toLowerCase() === "close") {
      closedByServer++;
      keptAddress.delete(worker);
    }
    const wrong = await check(res);
    if (wrong === undefined) ok++;
    else failures.push({ ip, error: `${describe}: ${wrong}`, at: new Date().toISOString() });
  } catch (err) {
    keptAddress.delete(worker); // a pool drops a connection that failed; the failure is still counted
    failures.push({ ip, error: `${describe}: ${String(err)}`, at: new Date().toISOString() });
  }
}

const timeout = () => AbortSignal.timeout(10_000);
const status = (want: number) => async (res: Response) => {
  await res.arrayBuffer();
  return res.status === want ? undefined : `status ${res.status}`;
};

async function uploadDownloadRound(worker: number, round: number) {
  const name = `redeploy-${worker}-${round}-${Date.now()}.bin`;
  const bytes = new Uint8Array(4096 + ((worker * 7919 + round * 104729) % 65536)).map((_, i) =>
    (i * 31 + round) & 0xff
  );
  await call(worker, `upload ${name}`, (base) => {
    const form = new FormData();
    form.append("file", new File([bytes], name));
    return fetch(`${base}/upload`, { method: "POST", body: form, signal: timeout() });
  }, status(201));
  await call(worker, `download ${name}`, (base) => {
    const form = new FormData();
    form.append("name", name);
    return fetch(`${base}/download`, { method: "POST", body: form, signal: timeout() });
  }, async (res) => {
    const got = new Uint8Array(await res.arrayBuffer());
    if (res.status !== 200) return `status ${res.status}`;
    return Buffer.compare(Buffer.from(got), Buffer.from(bytes)) === 0 ? undefined : "content differs";
  });
  await call(worker, "list", (base) => fetch(`${base}/files`, { signal: timeout() }), status(200));
}

async function worker(index: number) {
  for (let round = 1; !existsSync(stopFile); round++) {
    if (path === "upload-download") await uploadDownloadRound(index, round);
    else await call(index, `GET ${path}`, (base) => fetch(`${base}${path}`, { signal: timeout() }), status(200));
  }
}

await Promise.all(Array.from({ length: Number(workers) }, (_, i) => worker(i)));
writeFileSync(
  resultFile,
  JSON.stringify({
    ok,
    closedByServer,
    failed: failures.length,
    failures: failures.slice(0, 50),
    addresses: [...addresses],
  }),
);
