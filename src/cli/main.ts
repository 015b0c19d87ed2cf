#!/usr/bin/env node
/**
 * Entry of the `phyr` command (package bin, `npm start`). Runs {@link main} on process.argv when
 * this file is the program being run, and sets the exit code; importing it runs nothing.
 */

import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { main } from "./program.js";

export { main } from "./program.js";

function isEntry(): boolean {
  const argv1 = process.argv[1];
  if (!argv1) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/**
 * A reader that stops early (`phyr report | head`) closes the pipe: the next write fails with
 * EPIPE. That is not an error of phyr's: stop quietly instead of printing a stack trace.
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

if (isEntry()) {
  quietOnClosedPipe(process.stdout);
  quietOnClosedPipe(process.stderr);
  process.exitCode = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
  });
}
