/**
 * `npm run bench [-- --quick] [--only NAME] [--json]`: runs every bench/*.bench.ts suite in this
 * process and prints rows with their ratios (all measured in this one run), each with how stable
 * it is: `[N rounds lo-hi]` for a timing ratio from paired rounds (the ratio is their median),
 * `[exact count]` / `[exact size]` for a ratio of counts or sizes. Exits 1 when a target was not
 * met and 2 when `--only` matches no suite.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type BenchRow, type BenchSuite, benchExitCode, fmtRow, targetsMissed } from "./harness.js";

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
const names: string[] = [];
for (const file of files) {
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { suite: BenchSuite };
  names.push(mod.suite.name);
  if (only && !mod.suite.name.includes(only)) continue;
  if (!json) process.stdout.write(`\n== ${mod.suite.name}${quick ? " (quick)" : ""}\n`);
  const rows = await mod.suite.run({ quick });
  all.push({ suite: mod.suite.name, rows });
  if (json) continue;
  for (const r of rows) process.stdout.write(`${fmtRow(r)}\n`);
}
const missed = targetsMissed(all);
const code = benchExitCode({ suitesRun: all.length, only: only !== undefined, missed });
if (code === 2) {
  process.stderr.write(
    `phyr: error: --only ${JSON.stringify(only)} matches no suite: expected part of one of ${names.join(", ")}\n`,
  );
} else if (json) process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
else process.stdout.write(`\n${missed === 0 ? "all targets met" : `${missed} target(s) not met`}\n`);
// Exit non-zero when a target was not met (1) or --only matched nothing (2).
process.exitCode = code;
