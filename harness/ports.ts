// Ports of test servers. A child binds port 0 and the kernel picks its port: nothing is picked here
// and released for another process to take. The child reports the port it got: in a log line, or
// else in /proc (the listening sockets it holds).
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createServer } from "node:net";

/** `pid` and its descendants (a launcher such as node_modules/.bin/deno runs the server as its child). */
function processTree(pid: number): number[] {
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const task of readdirOr(`/proc/${tree[i]}/task`)) {
      const children = readOr(`/proc/${tree[i]}/task/${task}/children`);
      tree.push(...children.split(/\s+/).filter(Boolean).map(Number));
    }
  }
  return tree;
}

const readdirOr = (dir: string) => {
  try {
    return readdirSync(dir);
  } catch {
    return []; // the process is gone
  }
};
const readOr = (file: string) => {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
};

/** The TCP ports process `pid` or one of its descendants listens on (sockets in LISTEN state, IPv4 and IPv6). */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  const tree = processTree(pid);
  for (const member of tree) {
    for (const fd of readdirOr(`/proc/${member}/fd`)) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${member}/fd/${fd}`));
        if (match) inodes.add(match[1]!);
      } catch {
        // closed meanwhile
      }
    }
  }
  const ports = new Set<number>();
  for (const table of ["tcp", "tcp6"]) {
    for (const line of readOr(`/proc/${pid}/net/${table}`).split("\n").slice(1)) {
      const [, local, , state, , , , , , inode] = line.trim().split(/\s+/);
      if (state === "0A" && inode && inodes.has(inode)) ports.add(parseInt(local!.split(":")[1]!, 16));
    }
  }
  return [...ports].sort((a, b) => a - b);
}

/**
 * A port where nothing listens, for tests of an unreachable peer and for servers that cannot bind
 * port 0 (nginx refuses `listen 127.0.0.1:0`): bind port 0, read the port, release it.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers with `status` (default 200) or the deadline passes. */
export async function waitForHttp(url: string, { status = 200, timeoutMs = 20_000 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === status) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = String(err);
    }
    await Bun.sleep(100);
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (last: ${last})`);
}
