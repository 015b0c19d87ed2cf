/**
 * `npm run bench [-- --quick] [--only NAME] [--json]`: runs every bench/*.bench.ts suite in this
 * process and prints rows with their ratios (all measured in this one run).
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type BenchRow, type BenchSuite, fmtNs } from "./harness.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const json = args.includes("--json");
const onlyIdx = args.indexOf("--only");
const only = onlyIdx >= 0 ? args[onlyIdx + 1] : undefined;

const here = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.js"))
  .sort();

const all: { suite: string; rows: BenchRow[] }[] = [];
let failed = 0;
for (const file of files) {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { suite: BenchSuite };
  if (only && !mod.suite.name.includes(only)) continue;
  if (!json) process.stdout.write(`\n== ${mod.suite.name}${quick ? " (quick)" : ""}\n`);
  const rows = await mod.suite.run({ quick });
  all.push({ suite: mod.suite.name, rows });
  if (json) continue;
  for (const r of rows) {
    const v =
      r.unit === "ns"
        ? fmtNs(r.value)
        : `${Number.isInteger(r.value) ? r.value : r.value.toFixed(2)} ${r.unit}`;
    let line = `  ${r.name.padEnd(58)} ${v.padStart(14)}`;
    if (r.ratio) {
      const mark = r.ratio.ok === undefined ? "" : r.ratio.ok ? "  ok" : "  BELOW TARGET";
      if (r.ratio.ok === false) failed++;
      line += `  ${r.ratio.value.toFixed(r.ratio.value >= 100 ? 0 : 2)}x vs ${r.ratio.against}${r.ratio.want ? ` (want ${r.ratio.want})` : ""}${mark}`;
    }
    process.stdout.write(`${line}\n`);
  }
}
if (json) process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
else process.stdout.write(`\n${failed === 0 ? "all targets met" : `${failed} target(s) not met`}\n`);
