/**
 * In-memory streams for running the CLI in-process in tests: `main(argv, io)` writes into strings
 * the test reads back.
 */
import type { CliIo } from "../src/cli/io.js";
import { main } from "../src/cli/program.js";

/** Non-TTY stdout and stderr collected in strings, with the given environment and working directory. */
export function memoryIo(
  env: Record<string, string | undefined> = {},
  cwd: string = process.cwd(),
): { io: CliIo; out: () => string; err: () => string } {
  let out = "";
  let err = "";
  const io: CliIo = {
    stdout: { write: (s: string) => (out += s), isTTY: false },
    stderr: { write: (s: string) => (err += s), isTTY: false },
    env,
    cwd,
  };
  return { io, out: () => out, err: () => err };
}

/** Runs `phyr argv` in-process on {@link memoryIo}; returns the exit code and what was printed. */
export async function runMain(
  argv: string[],
  env: Record<string, string | undefined> = {},
  cwd?: string,
): Promise<{ code: number; out: string; err: string }> {
  const s = memoryIo(env, cwd);
  const code = await main(argv, s.io);
  return { code, out: s.out(), err: s.err() };
}
