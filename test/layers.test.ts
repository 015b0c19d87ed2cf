/**
 * The layer graph, enforced: each folder of src/ is a layer with a rank, and a module may import
 * only from its own layer or from layers ranked below it (ARCHITECTURE.md draws the graph). A
 * static scan of every non-test import in src/; type-only imports count too, since they
 * tie the layers as much as value imports do.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, tsFiles } from "./kit/files.js";

/** Bottom to top. A layer may import any layer listed before it. */
const LAYERS = [
  "core",
  "phyr",
  "formats",
  "mem",
  "mm",
  "pci",
  "p2p",
  "iommu",
  "dma",
  "subsys",
  "scenarios",
  "machine",
  "linux",
  "analyze",
  "trace",
  "report",
  "cli",
] as const;

/** The layer of a file under src/, or "root" for src/index.ts and src/node.ts (the entry points). */
function layerOf(file: string): string {
  const rel = relative(join(ROOT, "src"), file).split(sep);
  return rel.length === 1 ? "root" : rel[0];
}

/**
 * Every import specifier in a module's text that starts with `prefix` (a regex source): static
 * `from "..."`, side-effect `import "..."` and dynamic `import("...")`. O(length).
 */
function specifiers(text: string, prefix: string): string[] {
  const re = new RegExp(
    String.raw`(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["'](${prefix}[^"']+)["']`,
    "gm",
  );
  return [...text.matchAll(re)].map((m) => m[1]);
}

/** Every relative import specifier in a module's text (static `from "..."` and `import("...")`). */
function imports(text: string): string[] {
  return specifiers(text, String.raw`\.{1,2}\/`);
}

/** The upward imports in src/: `file -> target` lines for each import that breaks the ranking. */
function upwardImports(): string[] {
  const rank = new Map<string, number>(LAYERS.map((l, i) => [l, i]));
  const bad: string[] = [];
  for (const file of tsFiles(join(ROOT, "src"), { tests: false })) {
    const from = layerOf(file);
    if (from === "root") continue;
    const fromRank = rank.get(from);
    if (fromRank === undefined) {
      bad.push(`${relative(ROOT, file)}: folder src/${from} is not a known layer`);
      continue;
    }
    for (const spec of imports(readFileSync(file, "utf8"))) {
      const target = resolve(file, "..", spec);
      if (!target.startsWith(join(ROOT, "src") + sep)) continue;
      const to = layerOf(target);
      if (to === "root") {
        bad.push(`${relative(ROOT, file)} -> ${spec}: a layer imports an entry point`);
        continue;
      }
      const toRank = rank.get(to);
      if (toRank === undefined || toRank > fromRank)
        bad.push(`${relative(ROOT, file)} (${from}) -> ${spec} (${to})`);
    }
  }
  return bad;
}

/** Every `node:` module a module's text imports (static, side-effect and dynamic forms). */
function nodeImports(text: string): string[] {
  return specifiers(text, "node:");
}

/** `file -> node:x` for each module of a layer ranked below linux/ that imports a Node API. */
function nodeImportsBelowLinux(): string[] {
  const below = new Set<string>(LAYERS.slice(0, LAYERS.indexOf("linux")));
  const bad: string[] = [];
  for (const file of tsFiles(join(ROOT, "src"), { tests: false })) {
    if (!below.has(layerOf(file))) continue;
    for (const spec of nodeImports(readFileSync(file, "utf8")))
      bad.push(`${relative(ROOT, file)} -> ${spec}`);
  }
  return bad;
}

describe("layer graph", () => {
  it("no module in src/ imports a layer above its own", () => {
    expect(upwardImports()).toEqual([]);
  });

  it("no module in a layer below linux/ imports a Node API (node:*), so the model runs in a browser", () => {
    expect(nodeImportsBelowLinux()).toEqual([]);
  });

  it("the Node-API scan sees node: imports in each form and nothing else", () => {
    const text = [
      'import { readFileSync } from "node:fs";',
      'import "node:process";',
      'const w = await import("node:worker_threads");',
      'import { a } from "../core/index.js";',
      'const s = "node: in a string";',
    ].join("\n");
    expect(nodeImports(text)).toEqual(["node:fs", "node:process", "node:worker_threads"]);
  });

  it("every folder of src/ is a ranked layer", () => {
    const folders = readdirSync(join(ROOT, "src")).filter((n) =>
      statSync(join(ROOT, "src", n)).isDirectory(),
    );
    expect(folders.filter((f) => !(LAYERS as readonly string[]).includes(f))).toEqual([]);
  });

  it("the scan sees imports in each form the code uses", () => {
    const text = [
      'import { a } from "../core/index.js";',
      'import type { B } from "../phyr/list.js";',
      'export { c } from "./local.js";',
      'const m = await import("../cli/main.js");',
      'import "../report/side-effect.js";',
    ].join("\n");
    expect(imports(text)).toEqual([
      "../core/index.js",
      "../phyr/list.js",
      "./local.js",
      "../cli/main.js",
      "../report/side-effect.js",
    ]);
  });
});
