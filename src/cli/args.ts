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
  /** The text given (`VA:LEN`). */
  requested: string;
  /** True when VA or VA + LEN was not page-aligned, so the range grew to whole pages. */
  widened: boolean;
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
  return { start, end, requested: text.trim(), widened: start !== va || end !== endRaw };
}

/**
 * Parses a `--pid` value: a process id, or a process name (every process whose name is exactly
 * that, like `pgrep -x`; resolved against the machine later).
 * @param text the option value.
 * @returns the pid, or the name.
 * @throws UsageError for an out-of-range number or an empty name.
 */
export function parsePidOrName(text: string): number | string {
  const t = text.trim();
  if (/^[0-9]+$/.test(t)) return parsePid(t);
  if (t.length === 0 || t.length > 64) {
    throw new UsageError(
      `--pid ${JSON.stringify(text)} is invalid: expected a process id or a process name (1..64 characters)`,
    );
  }
  return t;
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
 * Parses a byte size option (`4096`, `0x1000`, `64M`, `1GiB`, or as printed: `256 MiB`).
 * @param text the option value.
 * @param option the option's name for the message (default `--size`).
 * @returns the size in bytes (>= 1).
 * @throws UsageError for bad syntax or zero.
 */
export function parseSizeOption(text: string, option = "--size"): number {
  let v: number;
  try {
    // Accept sizes as the CLI prints them ("256 MiB", "1 TiB"): drop the space before the unit.
    v = parseSize(text.trim().replace(/^(\S+)\s+([kmgt]i?b?)$/i, "$1$2"));
  } catch (e) {
    throw new UsageError(`${option} ${JSON.stringify(text)} is invalid: ${(e as Error).message}`);
  }
  if (v < 1) throw new UsageError(`${option} ${JSON.stringify(text)} is invalid: expected at least 1 byte`);
  return v;
}

/**
 * Parses `--top N`: how many processes the summary lists.
 * @param text the option value.
 * @returns N (1 .. 100000).
 * @throws UsageError otherwise.
 */
export function parseTop(text: string): number {
  const n = Number(text.trim());
  if (!/^[0-9]{1,6}$/.test(text.trim()) || n < 1 || n > 100000) {
    throw new UsageError(`--top ${JSON.stringify(text)} is invalid: expected an integer in 1..100000`);
  }
  return n;
}

/** Orders of the summary's process table. */
export const SORT_KEYS = ["pages", "runs", "name"] as const;

/**
 * Parses `--sort pages|runs|name`.
 * @param text the option value.
 * @returns the key.
 * @throws UsageError for another word.
 */
export function parseSort(text: string): (typeof SORT_KEYS)[number] {
  const t = text.trim();
  const k = SORT_KEYS.find((x) => x === t);
  if (!k)
    throw new UsageError(
      `--sort ${JSON.stringify(text)} is invalid: expected one of ${SORT_KEYS.join(", ")}`,
    );
  return k;
}
