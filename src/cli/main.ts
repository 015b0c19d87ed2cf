#!/usr/bin/env node
/**
 * Entry of the `phyr` command (package bin, `npm start`). Runs {@link main} on process.argv when
 * this file is the program being run, and sets the exit code; importing it runs nothing.
 */

import { realpathSync, writeSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { EXIT_FAILURE, wholeWriteStream } from "./io.js";
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
 * EPIPE. That is not an error of phyr's: stop quietly instead of printing a stack trace. Any
 * other write error of a pipe or terminal is one line on stderr and exit 1.
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream, name: string): void {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    try {
      writeSync(2, `phyr: error: cannot write to ${name}: ${e.message}\n`);
    } catch {
      // stderr itself is gone: the exit code still says it
    }
    process.exit(EXIT_FAILURE);
  });
}

if (isEntry()) {
  quietOnClosedPipe(process.stdout, "standard output");
  quietOnClosedPipe(process.stderr, "standard error");
  process.exitCode = await main(process.argv.slice(2), {
    // Files and devices are written whole or fail with exit 1 (`--json > full-disk/x.json`).
    stdout: wholeWriteStream(1, process.stdout, "standard output"),
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
  });
}
