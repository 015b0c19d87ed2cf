/**
 * Every `@example` in src/ runs as written, and its documented results are checked. An example
 * is the code after the tag up to the next tag or the end of the comment (a ```ts fence is
 * optional). A line `expr; // value`, or an expression line followed by comment lines that hold a
 * value, becomes `assert.deepStrictEqual(expr, value)`; comments that are prose stay comments.
 * The example sees every name of `phyr/node` and every export of its own module, as a reader of
 * that doc would.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { ROOT, tsFiles } from "./kit/files.js";

interface Example {
  file: string;
  line: number;
  code: string[];
}

/** The @example blocks of one source file, comment markers and fences removed. */
function examplesOf(file: string): Example[] {
  const lines = readFileSync(file, "utf8").split("\n");
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*\*\s*@example\b/.test(lines[i])) continue;
    const code: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j];
      if (/^\s*\*\//.test(l) || /^\s*\*\s*@\w+/.test(l)) break;
      const text = l.replace(/^\s*\* ?/, "");
      if (/^```/.test(text.trim())) continue;
      code.push(text);
    }
    out.push({ file, line: i + 1, code });
    i = j;
  }
  return out;
}

/** True when `text` is a JavaScript expression (a documented value). */
function isValue(text: string): boolean {
  if (text.trim() === "") return false;
  try {
    new Function(`return (${text});`);
    return /^[[{"'\d-]|^(true|false|null|undefined)\b/.test(text.trim());
  } catch {
    return false;
  }
}

/** Turns documented results into assertions. */
function withAssertions(code: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < code.length; i++) {
    const line = code[i];
    const isDecl = /^\s*(const|let|var|import|for|if|while)\b/.test(line);
    const inline = /^(.*?);\s*\/\/\s*(.+)$/.exec(line);
    if (!isDecl && inline && isValue(inline[2])) {
      out.push(`assert.deepStrictEqual(${inline[1]}, ${inline[2]}, ${JSON.stringify(line.trim())});`);
      continue;
    }
    const stmt = /^(.*\S);\s*$/.exec(line);
    if (!isDecl && stmt && i + 1 < code.length && /^\s*\/\//.test(code[i + 1])) {
      let j = i + 1;
      const parts: string[] = [];
      while (j < code.length && /^\s*\/\//.test(code[j])) parts.push(code[j++].replace(/^\s*\/\/\s?/, ""));
      const value = parts.join(" ");
      if (isValue(value)) {
        out.push(`assert.deepStrictEqual(${stmt[1]}, ${value}, ${JSON.stringify(line.trim())});`);
        i = j - 1;
        continue;
      }
    }
    out.push(line);
  }
  return out.join("\n");
}

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
  ...args: string[]
) => (...values: unknown[]) => Promise<void>;

const examples = tsFiles(join(ROOT, "src"), { tests: false }).flatMap(examplesOf);

describe("@example blocks", () => {
  it("the main entry points carry examples", () => {
    const where = new Set(examples.map((e) => relative(ROOT, e.file)));
    for (const f of [
      "src/phyr/list.ts",
      "src/phyr/build.ts",
      "src/mm/gup.ts",
      "src/dma/map.ts",
      "src/trace/parse.ts",
    ])
      expect(where, f).toContain(f);
  });

  it("the rewriting turns documented values into assertions and leaves prose alone", () => {
    expect(withAssertions(["f(1); // 2", "const x = g(); // a note", "h();", "// [1,", "// 2]"])).toBe(
      [
        'assert.deepStrictEqual(f(1), 2, "f(1); // 2");',
        "const x = g(); // a note",
        'assert.deepStrictEqual(h(), [1, 2], "h();");',
      ].join("\n"),
    );
  });

  for (const ex of examples) {
    it(`${relative(ROOT, ex.file)}:${ex.line} runs as documented`, async () => {
      const api = { ...(await import("../src/node.js")), ...(await import(pathToFileURL(ex.file).href)) };
      const names = Object.keys(api).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n));
      const body = withAssertions(ex.code);
      const run = new AsyncFunction("assert", ...names, body);
      await run(assert, ...names.map((n) => (api as Record<string, unknown>)[n]));
    });
  }
});
