/** Reading the repository's own sources, for the tests that scan code (layers, members, examples). */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

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
 * The text with comments and string / template literals blanked, so prose and strings naming code
 * are not read as code; block comments keep their newlines, so line numbers stay right. O(length).
 */
export function codeOnly(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "))
    .replace(/(^|[^:\\])\/\/.*$/gm, "$1")
    .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/g, '""');
}
