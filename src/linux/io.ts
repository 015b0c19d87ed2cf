/**
 * Where the readers look and how they read: every reader takes `{ procRoot, sysRoot }` (ARCHITECTURE.md,
 * Conventions) so tests run on fixture trees and on the live machine alike. Text files are read whole
 * but bounded in size; binary files (pagemap, kpageflags) are read with positioned `readSync`.
 */
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { ParseError } from "../core/index.js";

/** Roots of the two pseudo file systems. */
export interface ReaderOptions {
  /** Root of procfs; default "/proc". */
  procRoot?: string;
  /** Root of sysfs; default "/sys". */
  sysRoot?: string;
}

/** Largest text file a reader accepts (smaps of a process with ~100k VMAs is about 100 MiB). */
export const MAX_TEXT_BYTES = 256 * 1024 * 1024;

/** `procRoot` joined with `parts`. */
export function procPath(opts: ReaderOptions | undefined, ...parts: string[]): string {
  return join(opts?.procRoot ?? "/proc", ...parts);
}

/** `sysRoot` joined with `parts`. */
export function sysPath(opts: ReaderOptions | undefined, ...parts: string[]): string {
  return join(opts?.sysRoot ?? "/sys", ...parts);
}

/** Process id check: a positive integer or the string "self". @throws RangeError */
export function pidPart(pid: number | "self"): string {
  if (pid === "self") return pid;
  if (!Number.isInteger(pid) || pid <= 0 || pid > 0x3fffffff) {
    throw new RangeError(`pid ${String(pid)} is invalid: expected a positive integer or "self"`);
  }
  return String(pid);
}

/**
 * Reads a text file, refusing anything larger than `maxBytes`. Procfs files report size 0, so the
 * limit is enforced while reading.
 * @throws ParseError (line 0) when the file exceeds the limit; Node's errno errors when unreadable.
 */
export function readText(path: string, maxBytes = MAX_TEXT_BYTES): string {
  const fd = openSync(path, "r");
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    const buf = Buffer.allocUnsafe(1 << 16);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      total += n;
      if (total > maxBytes)
        throw new ParseError(path, 0, `file is larger than the limit of ${maxBytes} bytes`);
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
    return Buffer.concat(chunks, total).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** Reads a small sysfs attribute and trims it; undefined when the file is missing or unreadable. */
export function readAttr(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** Node errno error code (ENOENT, EACCES, EPERM, ...) of an exception, or undefined. */
export function errnoCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Splits text into lines without the trailing empty line a final newline produces. */
export function splitLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}
