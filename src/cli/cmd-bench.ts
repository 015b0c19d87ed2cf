/**
 * `phyr bench`: runs the bench runner (dist/bench/main.js) in a child Node process with the given
 * flags, streaming its output through the CLI's streams; with `--json` the runner's rows are
 * collected and printed as one `phyr-bench/1` document.
 */

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CliFailure, type CliIo } from "./io.js";
import { BENCH_SCHEMA, type BenchJson, jsonDocument } from "./json.js";

/** Options of {@link runBench}. */
export interface BenchCommand {
  quick?: boolean;
  only?: string;
  json?: boolean;
  /** The runner script; default dist/bench/main.js beside this build. */
  runner?: string;
}

/**
 * Runs the benchmarks.
 * @param io streams and environment.
 * @param o `--quick`, `--only NAME`, `--json`, and the runner to use.
 * @returns the runner's exit code: 0 all targets met, 1 a target not met, 2 `--only` matched no suite.
 * @throws CliFailure when the runner is not built, cannot start, or (with `--json`) prints
 *   something that is not its JSON rows.
 */
export async function runBench(io: CliIo, o: BenchCommand = {}): Promise<number> {
  // dist/src/cli/cmd-bench.js -> dist/bench/main.js
  const runner = o.runner ?? fileURLToPath(new URL("../../bench/main.js", import.meta.url));
  if (!existsSync(runner))
    throw new CliFailure(`the bench runner ${runner} is not built: run npm run build first`);
  const args: string[] = [];
  if (o.quick) args.push("--quick");
  if (o.only !== undefined) args.push("--only", o.only);
  if (o.json) args.push("--json");
  const child = spawn(process.execPath, ["--expose-gc", "--max-old-space-size=8192", runner, ...args], {
    env: { ...io.env } as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    if (o.json) out += d.toString();
    else io.stdout.write(d.toString());
  });
  child.stderr.on("data", (d: Buffer) => io.stderr.write(d.toString()));
  const code = await new Promise<number>((resolve, reject) => {
    child.on("error", (e) => reject(new CliFailure(`cannot run the bench runner: ${e.message}`)));
    child.on("close", (c) => resolve(c ?? 1));
  });
  // Exit 1 (a target not met) still printed every row: the document is whole.
  if (o.json && (code === 0 || code === 1)) io.stdout.write(jsonDocument(benchJson(out)));
  return code;
}

/**
 * Wraps the runner's `--json` output (an array of `{ suite, rows }`) as a `phyr-bench/1` document.
 * @param text the runner's stdout.
 * @returns the document.
 * @throws CliFailure when the text is not such an array.
 */
export function benchJson(text: string): BenchJson {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CliFailure(`the bench runner's output is invalid: not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(v) || !v.every((s) => typeof s?.suite === "string" && Array.isArray(s?.rows))) {
    throw new CliFailure("the bench runner's output is invalid: expected an array of { suite, rows }");
  }
  return { schema: BENCH_SCHEMA, suites: v as BenchJson["suites"] };
}
