/**
 * Parsers for command-line values. Each throws {@link UsageError} with one line naming the
 * option, the text given and what was expected.
 */

import { PAGE_SIZE, parseHex, parseSize } from "../core/index.js";
import { UsageError } from "./io.js";

/** A VA range from `--range VA:LEN`, widened to whole pages. */
export interface VaRange {
  /** Page-aligned start (VA rounded down). */
  start: number;
  /** Page-aligned end, exclusive (VA + LEN rounded up). */
  end: number;
}

/** Largest user VA on x86-64 with 5-level paging (2^56); ranges must end at or below it. */
const USER_VA_LIMIT = 2 ** 56;

/**
 * Parses `VA:LEN`: VA in hex (`0x` optional), LEN a size (`4096`, `0x1000`, `64M`, `1GiB`).
 * @param text the option value.
 * @returns the range widened to whole 4 KiB pages.
 * @throws UsageError for bad syntax, a zero length, or a range beyond the user address space.
 */
export function parseVaRange(text: string): VaRange {
  const m = /^([^:]+):([^:]+)$/.exec(text.trim());
  if (!m)
    throw new UsageError(
      `--range ${JSON.stringify(text)} is invalid: expected VA:LEN, e.g. 0x7f0000000000:64M`,
    );
  let va: number;
  let len: number;
  try {
    va = parseHex("VA", m[1]);
    len = parseSize(m[2]);
  } catch (e) {
    throw new UsageError(`--range ${JSON.stringify(text)} is invalid: ${(e as Error).message}`);
  }
  if (len <= 0)
    throw new UsageError(`--range ${JSON.stringify(text)} is invalid: length must be at least 1 byte`);
  if (va + len > USER_VA_LIMIT) {
    throw new UsageError(
      `--range ${JSON.stringify(text)} is invalid: it ends beyond the user address space (2^56)`,
    );
  }
  const start = va - (va % PAGE_SIZE);
  const endRaw = va + len;
  const end = endRaw % PAGE_SIZE === 0 ? endRaw : endRaw + PAGE_SIZE - (endRaw % PAGE_SIZE);
  return { start, end };
}

/**
 * Parses a process id.
 * @param text the option value.
 * @returns the pid (1 .. 2^22, PID_MAX_LIMIT).
 * @throws UsageError when it is not a positive decimal integer within PID_MAX_LIMIT.
 */
export function parsePid(text: string): number {
  if (!/^[0-9]{1,8}$/.test(text.trim())) {
    throw new UsageError(
      `--pid ${JSON.stringify(text)} is invalid: expected a process id (a positive integer)`,
    );
  }
  const pid = Number.parseInt(text, 10);
  if (pid < 1 || pid > 4194304) {
    throw new UsageError(`--pid ${text} is invalid: expected 1..4194304 (PID_MAX_LIMIT)`);
  }
  return pid;
}

/**
 * Parses a seed: a decimal integer in 0 .. 2^32-1.
 * @param text the option value.
 * @returns the seed.
 * @throws UsageError otherwise.
 */
export function parseSeed(text: string): number {
  if (!/^[0-9]{1,10}$/.test(text.trim()) || Number(text) > 0xffffffff) {
    throw new UsageError(`--seed ${JSON.stringify(text)} is invalid: expected an integer in 0..4294967295`);
  }
  return Number(text);
}

/**
 * Parses a byte size option (`4096`, `0x1000`, `64M`, `1GiB`).
 * @param text the option value.
 * @returns the size in bytes (>= 1).
 * @throws UsageError for bad syntax or zero.
 */
export function parseSizeOption(text: string): number {
  let v: number;
  try {
    v = parseSize(text);
  } catch (e) {
    throw new UsageError(`--size ${JSON.stringify(text)} is invalid: ${(e as Error).message}`);
  }
  if (v < 1) throw new UsageError(`--size ${JSON.stringify(text)} is invalid: expected at least 1 byte`);
  return v;
}
