/**
 * `phyr bench`: runs the bench runner (dist/bench/main.js) in a child Node process with the given
 * flags, streaming its output through the CLI's streams.
 */

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CliFailure, type CliIo } from "./io.js";

/**
 * Runs the benchmarks.
 * @param io streams and environment.
 * @param args flags for bench/main.ts (`--quick`, `--only NAME`, `--json`).
 * @returns the runner's exit code.
 * @throws CliFailure when the runner is not built.
 */
export async function runBench(io: CliIo, args: readonly string[]): Promise<number> {
  // dist/src/cli/cmd-bench.js -> dist/bench/main.js
  const runner = fileURLToPath(new URL("../../bench/main.js", import.meta.url));
  if (!existsSync(runner))
    throw new CliFailure(`the bench runner ${runner} is not built: run npm run build first`);
  const child = spawn(process.execPath, ["--expose-gc", "--max-old-space-size=8192", runner, ...args], {
    env: { ...io.env } as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (d: Buffer) => io.stdout.write(d.toString()));
  child.stderr.on("data", (d: Buffer) => io.stderr.write(d.toString()));
  return await new Promise<number>((resolve, reject) => {
    child.on("error", (e) => reject(new CliFailure(`cannot run the bench runner: ${e.message}`)));
    child.on("close", (code) => resolve(code ?? 1));
  });
}
