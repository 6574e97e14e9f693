// The remote-write answers are written once (lib/remote-write/statuses.ts); docs/remote-write.md's table is that
// table, row for row, so the documentation cannot drift from what the function documents and answers.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";
import { REMOTE_WRITE_STATUSES } from "../../lib/remote-write/statuses.ts";

test("docs/remote-write.md's status table is the receiver's status table, row for row", () => {
  const readme = readFileSync(join(REPO_ROOT, "docs", "remote-write.md"), "utf8");
  const start = readme.indexOf("| status | when |\n| --- | --- |\n");
  expect(start).toBeGreaterThan(0);
  const rows = readme.slice(start).split("\n").slice(2);
  const table = rows.slice(0, rows.findIndex((row) => !row.startsWith("|")));
  expect(table).toEqual(Object.entries(REMOTE_WRITE_STATUSES).map(([status, meaning]) => `| ${status} | ${meaning} |`));
});
