// Every relative link in README.md, docs/*.md and deploy/README.md points at a file of the repository, and an #anchor into a
// Markdown file at one of its headings (GitHub's slugs), so moving a section cannot leave a dead link.
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { REPO_ROOT } from "../../harness/binaries.ts";

const PAGES = [
  "README.md",
  "deploy/README.md",
  ...readdirSync(join(REPO_ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`),
];

/** The text outside fenced and indented code blocks, and outside `inline code`. */
function prose(markdown: string): string {
  let fenced = false;
  return markdown.split("\n").map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return "";
    }
    if (fenced || /^( {4}|\t)/.test(line)) return "";
    return line.replace(/`[^`]*`/g, "");
  }).join("\n");
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const slug = heading[1]!.replace(/`/g, "").toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/ /g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

/** Relative link targets of a page: [text](target) and ![alt](target), no scheme, no mailto. */
function links(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

test("the pages are there: README.md, deploy/README.md and docs/*.md", () => {
  expect(PAGES).toEqual(expect.arrayContaining(["README.md", "docs/operate.md", "docs/develop.md"]));
});

test("GitHub's anchors, as this test makes them", () => {
  expect([...anchors("# A b\n## The spool: InfluxDB away\n## `bun run stack`, here\n## A b\n")]).toEqual([
    "a-b",
    "the-spool-influxdb-away",
    "bun-run-stack-here",
    "a-b-1",
  ]);
});

for (const page of PAGES) {
  test(`every relative link in ${page} points at an existing file and heading`, () => {
    const text = readFileSync(join(REPO_ROOT, page), "utf8");
    const dead: string[] = [];
    for (const target of links(text)) {
      const [path = "", anchor] = target.split("#");
      const file = path === "" ? join(REPO_ROOT, page) : join(REPO_ROOT, dirname(page), decodeURI(path));
      if (!existsSync(file)) {
        dead.push(`${target}: no file ${relative(REPO_ROOT, file)}`);
        continue;
      }
      if (anchor !== undefined && file.endsWith(".md") && !anchors(readFileSync(file, "utf8")).has(anchor)) {
        dead.push(`${target}: no heading #${anchor} in ${relative(REPO_ROOT, file)}`);
      }
    }
    expect(dead).toEqual([]);
  });
}
