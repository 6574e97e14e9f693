// Container health check (Dockerfile HEALTHCHECK and deploy/stack.yml): healthy = GET /readyz answers 200.
// Exit 0 healthy, 1 not (draining answers 503, a dead listener throws). No curl in the Bun image.
const port = process.env.PORT || "5001";
const url = process.env.HEALTHCHECK_URL || `http://127.0.0.1:${port}/readyz`;
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(2500) });
  await res.arrayBuffer();
  if (res.status !== 200) {
    console.error(`healthcheck: ${url} answered ${res.status}`);
    process.exit(1);
  }
  process.exit(0);
} catch (err) {
  console.error(`healthcheck: ${url}: ${String(err)}`);
  process.exit(1);
}
