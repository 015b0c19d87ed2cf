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

if (isEntry()) {
  process.exitCode = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
  });
}
