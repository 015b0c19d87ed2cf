/**
 * Folio-table writes go through mem/: no file outside src/mem/ writes a FolioTable column
 * (`mem.folios.mapcount[id]++`, `f.owner[id] = x`, `f.flags.fill(0)`); it calls a MachineMemory
 * method instead (addMapping, grabFolio, releaseFolio, allocFolio, moveFolio, ...), which keeps the
 * table's invariants in one layer. A static scan of every .ts file in src/, test/ and bench/
 * (tests included), outside src/mem/.
 *
 * The columns are read from a FolioTable itself (every typed-array field), so a new column is
 * covered without editing this file. A receiver is `folios` or a local bound to `<expr>.folios` /
 * `new FolioTable(...)` in the same file. Limits: comments and string literals are stripped first;
 * an alias passed through a function parameter or a destructured column is not followed.
 */
import { join, sep } from "node:path";
import { describe, expect, it } from "vitest";
import { FolioTable } from "../src/mem/folios.js";
import { codeOnly, sources } from "./kit/files.js";

/** FolioTable's columns: its typed-array fields. */
const COLUMNS = Object.entries(new FolioTable())
  .filter(([, v]) => ArrayBuffer.isView(v))
  .map(([k]) => k);

/** Names that hold a FolioTable in this file: `folios` and locals bound to `x.folios` or a new table. */
function receivers(src: string): string[] {
  const out = new Set(["folios"]);
  const re =
    /\b(?:const|let|var)\s+(\w+)\s*(?::\s*FolioTable\s*)?=\s*(?:[\w.?]*\.folios\b(?!\s*[.[(])|new\s+FolioTable\b)/g;
  for (let m = re.exec(src); m; m = re.exec(src)) out.add(m[1]);
  return [...out];
}

/** `path:line: text` for every write to a folio column in the given files. */
function offenders(files: { path: string; text: string }[]): string[] {
  const bad: string[] = [];
  const col = COLUMNS.join("|");
  for (const f of files) {
    const src = codeOnly(f.text);
    const recv = receivers(src).join("|");
    const ref = String.raw`(?<![\w$])(?:${recv})\??\.(?:${col})`;
    const write = new RegExp(
      String.raw`(?:(?:\+\+|--)\s*[\w$.?]*?${ref}\s*\[)|(?:${ref}\s*\[[^\]]+\]\s*(?:[-+*/|&^%]|<<|>>>?|\*\*|\?\?|&&|\|\|)?=(?!=))|(?:${ref}\s*\[[^\]]+\]\s*(?:\+\+|--))|(?:${ref}\s*\.\s*(?:fill|set|copyWithin|sort|reverse)\s*\()`,
      "g",
    );
    for (let m = write.exec(src); m; m = write.exec(src)) {
      const line = src.slice(0, m.index).split("\n").length;
      bad.push(`${f.path}:${line}: ${m[0].trim()}`);
    }
  }
  return bad;
}

describe("folio-table columns are written only in src/mem/", () => {
  it("reads the columns from FolioTable", () => {
    expect(COLUMNS).toEqual(
      expect.arrayContaining(["head", "order", "ref", "pins", "mapcount", "owner", "flags"]),
    );
  });

  it.each([
    // [what, text, offenders]
    ["an increment through mem.folios", "this.mem.folios.mapcount[id]++;", ["a.ts:1: folios.mapcount[id]++"]],
    [
      "an increment through a local alias",
      "const f = mem.folios;\nif (x) f.mapcount[existing]++;",
      ["a.ts:2: f.mapcount[existing]++"],
    ],
    ["a prefix decrement", "--mem.folios.ref[id];", ["a.ts:1: --mem.folios.ref["]],
    ["an assignment", "mem.folios.owner[id] = 3;", ["a.ts:1: folios.owner[id] ="]],
    ["a compound assignment", "const t = m.folios;\nt.flags[i] |= 4;", ["a.ts:2: t.flags[i] |="]],
    ["a fill of a column", "const f = m.folios;\nf.pins.fill(0);", ["a.ts:2: f.pins.fill("]],
    [
      "a read and a comparison",
      "const f = m.folios;\nif (f.ref[id] === 0 || f.pins[id] >= 1) g(f.head[id]);",
      [],
    ],
    ["a write in a comment or string", '// f.mapcount[id]++\nconst s = "mem.folios.ref[id] = 0";', []],
    ["a write after a block comment", "/*\n *\n */\nmem.folios.pins[0] += 1;", ["a.ts:4: folios.pins[0] +="]],
    ["a write to another table's column", "const pt = m.pt;\npt.order[i] = 1;", []],
  ])("the scan reports %s correctly", (_what, text, want) => {
    expect(offenders([{ path: "a.ts", text }])).toEqual(want);
  });

  it("no file outside src/mem/ writes a folio column", () => {
    const mem = join("src", "mem") + sep;
    const files = sources(["src", "test", "bench"]).filter((f) => !f.path.startsWith(mem));
    expect(files.length).toBeGreaterThan(100);
    expect(offenders(files)).toEqual([]);
  });
});
