/** Reading what a spawned helper process prints first, for the live tests. */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";

/**
 * Waits for the first newline on a child's stdout.
 * @param child a child spawned with a piped stdout
 * @param exitMessage the error's message when the child exits first
 * @returns everything read up to and including the chunk holding the newline
 * @throws Error(exitMessage) when the child exits before printing a line
 */
export async function firstLine(child: ChildProcess, exitMessage: string): Promise<string> {
  const stdout = child.stdout;
  if (!stdout) throw new TypeError("child has no piped stdout");
  let out = "";
  while (!out.includes("\n")) {
    const [chunk] = (await Promise.race([
      once(stdout, "data"),
      once(child, "exit").then(() => {
        throw new Error(exitMessage);
      }),
    ])) as [Buffer];
    out += chunk.toString();
  }
  return out;
}
