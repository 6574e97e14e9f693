// Read-only Docker API for Prometheus' swarm service discovery (deploy/stack.yml, service docker-api).
// Whoever holds the Docker socket is root on the node; Prometheus only needs to list nodes, services,
// tasks and networks. So only this small process, on the manager and reachable only on the stack's
// internal network, mounts the socket, and it forwards nothing but GET and HEAD of those lists (and
// the version probes the Docker client makes first). Everything else is 403.
//   bun /app/deploy/docker-api-proxy.ts      (env: DOCKER_SOCKET, PORT)
const socket = process.env.DOCKER_SOCKET || "/var/run/docker.sock";
const port = Number(process.env.PORT || "2375");

/** `/v1.41/tasks`, `/_ping`, `/version`: what Prometheus' dockerswarm_sd_configs call. No IDs, no logs, no exec. */
const ALLOWED = /^(?:\/v\d+\.\d+)?\/(?:_ping|version|nodes|services|tasks|networks)$/;

export function allowed(method: string, path: string): boolean {
  return (method === "GET" || method === "HEAD") && ALLOWED.test(path);
}

async function forward(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (!allowed(request.method, url.pathname)) {
    return Response.json({
      message: `${request.method} ${url.pathname} is not allowed by the read-only Docker API proxy`,
    }, { status: 403 });
  }
  try {
    const upstream = await fetch(
      `http://docker${url.pathname}${url.search}`,
      { method: request.method, unix: socket } as RequestInit,
    );
    return new Response(upstream.body, {
      status: upstream.status,
      headers: { "content-type": upstream.headers.get("content-type") ?? "application/json" },
    });
  } catch (err) {
    return Response.json({ message: `docker socket ${socket}: ${String(err)}` }, { status: 502 });
  }
}

if (import.meta.main) {
  Bun.serve({ port, hostname: "0.0.0.0", fetch: forward });
  console.log(JSON.stringify({ msg: "docker-api-proxy listening", port, socket }));
  // Swarm stops the task with SIGTERM; nothing is in flight that matters (Prometheus retries).
  process.on("SIGTERM", () => process.exit(0));
}
