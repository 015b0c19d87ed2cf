/**
 * Builders are the only writers: a `_`-prefixed member belongs to the module (file) that declares
 * it. A static scan of every .ts file in src/ (tests included): each `x._name` access must name a
 * member declared in the same file. Writers other modules need go through a module-internal door
 * (phyr/list.ts listWriter, dma/device.ts mappingsOf) that no layer index exports.
 *
 * Limits of the scan: comments and string literals are stripped first; a name declared in two
 * files counts as declared in each (a cross-file use of a shared name is not caught).
 */
import { describe, expect, it } from "vitest";
import { codeOnly, sources } from "./kit/files.js";

/** `_`-prefixed members a file declares: fields, methods, accessors (`_x(`, `_x =`, `_x:`, `get _x`). */
function declared(src: string): Set<string> {
  const out = new Set<string>();
  const re =
    /^\s*(?:(?:private|protected|public|readonly|static|override|declare|async|get|set)\s+)*(_[A-Za-z]\w*)\s*[(=:?!<]/gm;
  for (let m = re.exec(src); m; m = re.exec(src)) out.add(m[1]);
  return out;
}

/** `_`-prefixed member accesses in a file (`x._name`, `x?._name`). */
function used(src: string): Set<string> {
  const out = new Set<string>();
  const re = /\??\.(_[A-Za-z]\w*)\b/g;
  for (let m = re.exec(src); m; m = re.exec(src)) out.add(m[1]);
  return out;
}

/** `file: ._name` for every access to a `_` member the file does not declare. */
function offenders(files: { path: string; text: string }[]): string[] {
  const bad: string[] = [];
  for (const f of files) {
    const src = codeOnly(f.text);
    const own = declared(src);
    for (const name of used(src)) if (!own.has(name)) bad.push(`${f.path}: .${name}`);
  }
  return bad;
}

describe("underscore members stay in their module", () => {
  it.each([
    // [what, files, offenders]
    [
      "a use in the declaring file",
      [{ path: "a.ts", text: "class A {\n  private _n = 0;\n  f() { return this._n; }\n}" }],
      [],
    ],
    [
      "a use from another file",
      [
        { path: "a.ts", text: "export class A {\n  _push(x: number): void {}\n}" },
        { path: "b.ts", text: "export function f(a: A) { a._push(1); }" },
      ],
      ["b.ts: ._push"],
    ],
    ["an optional-chain use from another file", [{ path: "b.ts", text: "q?._set(1);" }], ["b.ts: ._set"]],
    [
      "a name only in a comment or string",
      [{ path: "b.ts", text: '// see a._push\nconst s = "a._tail";' }],
      [],
    ],
    [
      "a getter declared in the file",
      [{ path: "a.ts", text: "class A {\n  get _x(): number { return 1; }\n  g() { return this._x; }\n}" }],
      [],
    ],
  ])("the scan reports %s correctly", (_what, files, want) => {
    expect(offenders(files as { path: string; text: string }[])).toEqual(want);
  });

  it("no module of src/ uses a _ member declared in another module", () => {
    const files = sources(["src"]);
    expect(files.length).toBeGreaterThan(100);
    expect(offenders(files)).toEqual([]);
  });
});
