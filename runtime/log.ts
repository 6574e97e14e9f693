// Structured logs: one JSON object per line on stdout, which docker and journald collect as is.
export function log(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...fields })}\n`);
}
