/**
 * The public API is a curated list (src/index.ts, src/node.ts), and its size is a number the
 * README states: a name added or removed there is a visible change here, in the README and in the
 * API reports (etc/*.api.md, checked by `npm run check`).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./kit/files.js";

const readme = readFileSync(join(ROOT, "README.md"), "utf8");

/** The count the README states for an entry point: "`phyr` exports N runtime names". */
function stated(entry: string): number {
  const m = new RegExp(`\`${entry}\` exports (\\d+) runtime names`).exec(readme);
  if (!m) throw new Error(`README does not state how many names \`${entry}\` exports`);
  return Number(m[1]);
}

describe("public API", () => {
  it("phyr exports the number of runtime names the README states, none starting with _", async () => {
    const names = Object.keys(await import("../src/index.js"));
    expect(names.filter((n) => n.startsWith("_"))).toEqual([]);
    expect(names.length).toBe(stated("phyr"));
  });

  it("phyr/node adds the readers to everything phyr exports, as the README states", async () => {
    const root = new Set(Object.keys(await import("../src/index.js")));
    const names = Object.keys(await import("../src/node.js"));
    expect(names.filter((n) => n.startsWith("_"))).toEqual([]);
    expect([...root].filter((n) => !names.includes(n))).toEqual([]);
    expect(names.length).toBe(stated("phyr/node"));
  });

  it("each API report lists every runtime name of its entry point", async () => {
    for (const [entry, report] of [
      ["../src/index.js", "etc/phyr.api.md"],
      ["../src/node.js", "etc/phyr-node.api.md"],
    ] as const) {
      const text = readFileSync(join(ROOT, report), "utf8");
      const missing = Object.keys(await import(entry)).filter(
        (n) =>
          !new RegExp(`export (?:declare )?(?:abstract )?(?:class|function|const|enum|let) ${n}\\b`).test(
            text,
          ),
      );
      expect(missing, report).toEqual([]);
    }
  });
});
