// The embedded default when no INFLUX_URL is set: line protocol appended to
// $DATA_DIR/metrics/<bucket>.lp and fsynced before the write resolves, so a 204 means the
// samples are on disk, exactly as with InfluxDB. Writes are serialised per file so concurrent
// requests never interleave lines.
import { mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import { safeName } from "../settings.ts";
import { type Sink, SinkError } from "./sink.ts";

export function fileSinkPath(dataDir: string, bucket: string): string {
  return join(dataDir, "metrics", `${safeName(bucket)}.lp`);
}

export function fileSink(dataDir: string, bucket: string): Sink {
  const path = fileSinkPath(dataDir, bucket);
  let queue: Promise<unknown> = Promise.resolve();

  async function append(body: Uint8Array): Promise<void> {
    await mkdir(join(dataDir, "metrics"), { recursive: true });
    const handle = await open(path, "a");
    try {
      await handle.writeFile(body);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  return {
    describe: `file ${path}`,
    write(body) {
      if (body.length === 0) return Promise.resolve();
      const done = queue.then(() => append(body)).catch((err: Error) => {
        throw new SinkError("io", `writing ${path} failed: ${err.message}`);
      });
      queue = done.catch(() => undefined);
      return done;
    },
  };
}
