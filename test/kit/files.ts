/** Reading the repository's own sources, for the tests that scan code (layers, members, examples). */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";

/** The repository's root folder (this file is test/kit/files.ts). */
export const ROOT = resolve(import.meta.dirname, "..", "..");

/**
 * Every .ts file below `dir` (not .d.ts; fixtures, node_modules and dot-folders skipped), with or
 * without the test files. O(files).
 */
export function tsFiles(dir: string, opts: { tests?: boolean } = {}): string[] {
  const tests = opts.tests ?? true;
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === "fixtures" || name === "node_modules" || name.startsWith(".")) continue;
    if (statSync(p).isDirectory()) out.push(...tsFiles(p, opts));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts") && (tests || !name.endsWith(".test.ts")))
      out.push(p);
  }
  return out;
}

/**
 * Every .ts file (as {@link tsFiles}, tests included) below the given folders of the repository,
 * read: its path relative to the root and its text. O(total size).
 */
export function sources(dirs: readonly string[]): { path: string; text: string }[] {
  return dirs
    .flatMap((d) => tsFiles(join(ROOT, d)))
    .map((p) => ({ path: relative(ROOT, p), text: readFileSync(p, "utf8") }));
}

/**
 * The text with comments and string / template literals blanked, so prose and strings naming code
 * are not read as code; block comments keep their newlines, so line numbers stay right. O(length).
 */
export function codeOnly(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "))
    .replace(/(^|[^:\\])\/\/.*$/gm, "$1")
    .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/g, '""');
}
