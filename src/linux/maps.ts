/**
 * /proc/PID/maps and /proc/PID/smaps: the VMAs of a process (fs/proc/task_mmu.c show_map_vma:
 * "%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu " then the path) and, in smaps, each VMA's memory
 * counters (show_smap / __show_smap: "Rss:   N kB", "AnonHugePages:", ..., "THPeligible:",
 * "VmFlags:"). The legacy `[vsyscall]` page sits at 0xffffffffff600000, above the 52-bit range
 * numbers hold and outside the user page tables pagemap walks, so both parsers leave it out.
 */
import { hex, PAGE_SIZE, ParseError } from "../core/index.js";
import type { Vma, VmaStats } from "../machine/source-types.js";
import { pidPart, procPath, type ReaderOptions, readText, splitLines } from "./io.js";

/** The shapes the readers fill, defined with the MachineSource interface (machine/source-types.ts). */
export type { Vma, VmaStats };

/** Largest number of VMAs a parser accepts (vm.max_map_count defaults to 65530). */
export const MAX_VMAS = 4_000_000;

const HEADER =
  /^([0-9a-f]{1,16})-([0-9a-f]{1,16}) ([-r][-w][-x][-sp]) ([0-9a-f]{1,16}) ([0-9a-f]{1,8}:[0-9a-f]{1,8}) (\d{1,20}) ?(.*)$/;

/** Parses one maps/smaps header line; undefined for the [vsyscall] line; throws on bad text. */
function parseHeader(line: string, path: string, lineNo: number): Vma | undefined | null {
  const m = HEADER.exec(line);
  if (!m) return null;
  const start = Number.parseInt(m[1], 16);
  const end = Number.parseInt(m[2], 16);
  const name = m[7].trimStart();
  if (start >= 2 ** 63 && name === "[vsyscall]") return undefined;
  if (start >= 2 ** 52 || end > 2 ** 52)
    throw new ParseError(path, lineNo, `VMA 0x${m[1]}-0x${m[2]} lies above 2^52`);
  if (start >= end)
    throw new ParseError(path, lineNo, `VMA start ${hex(start)} is not below end ${hex(end)}`);
  if (start % PAGE_SIZE !== 0 || end % PAGE_SIZE !== 0)
    throw new ParseError(path, lineNo, `VMA ${hex(start)}-${hex(end)} is not page aligned`);
  const offset = Number.parseInt(m[4], 16);
  const inode = Number(m[6]);
  if (offset >= 2 ** 53 || !Number.isSafeInteger(inode))
    throw new ParseError(path, lineNo, "offset or inode is too large");
  return { start, end, perms: m[3], offset, dev: m[5], inode, path: name };
}

/**
 * Parses /proc/PID/maps text. O(lines).
 * @param text file contents
 * @param path file name used in errors
 * @returns VMAs in address order
 * @throws ParseError naming path and line for malformed lines, unaligned, empty, unordered or
 *   overlapping VMAs, or addresses above 2^52
 */
export function parseMaps(text: string, path = "maps"): Vma[] {
  const lines = splitLines(text);
  if (lines.length > MAX_VMAS) throw new ParseError(path, 0, `more than ${MAX_VMAS} VMAs`);
  const vmas: Vma[] = [];
  for (let i = 0; i < lines.length; i++) {
    const v = parseHeader(lines[i], path, i + 1);
    if (v === null)
      throw new ParseError(path, i + 1, `expected a VMA line, got ${JSON.stringify(lines[i].slice(0, 80))}`);
    if (v) pushOrdered(vmas, v, path, i + 1);
  }
  return vmas;
}

function pushOrdered<T extends Vma>(vmas: T[], v: T, path: string, lineNo: number): void {
  const prev = vmas[vmas.length - 1];
  if (prev && v.start < prev.end)
    throw new ParseError(
      path,
      lineNo,
      `VMA at ${hex(v.start)} overlaps or precedes the one ending at ${hex(prev.end)}`,
    );
  vmas.push(v);
}

const FIELD = /^([A-Za-z_]+):\s+(\d+) kB$/;
/** Largest counter accepted, in kB (2^52 bytes). */
const MAX_KB = 2 ** 42;

/**
 * Parses /proc/PID/smaps text. Unknown counters are ignored (the set grows between kernels). O(lines).
 * @param text file contents
 * @param path file name used in errors
 * @returns VMAs with counters in bytes, in address order
 * @throws ParseError naming path and line for malformed header or counter lines, or a counter
 *   at or above 2^52 bytes
 */
export function parseSmaps(text: string, path = "smaps"): VmaStats[] {
  const lines = splitLines(text);
  const out: VmaStats[] = [];
  let cur: VmaStats | undefined;
  let skipping = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const lineNo = i + 1;
    const fm = FIELD.exec(line);
    if (fm) {
      if (!cur && !skipping) throw new ParseError(path, lineNo, "counter before the first VMA line");
      const kb = fm[2].length > 16 ? Number.POSITIVE_INFINITY : Number(fm[2]);
      if (kb >= MAX_KB)
        throw new ParseError(path, lineNo, `${fm[1]} ${fm[2].slice(0, 24)} kB is at or above 2^52 bytes`);
      if (cur) setCounter(cur, fm[1], kb * 1024);
      continue;
    }
    if (line.startsWith("THPeligible:")) {
      if (cur) cur.thpEligible = line.slice(12).trim() === "1";
      continue;
    }
    if (line.startsWith("VmFlags:")) {
      if (cur)
        cur.vmFlags = line
          .slice(8)
          .trim()
          .split(/\s+/)
          .filter((f) => f.length > 0);
      continue;
    }
    if (/^[A-Za-z_]+:/.test(line)) continue; // other "Key: value" lines (ProtectionKey, ...)
    const v = parseHeader(line, path, lineNo);
    if (v === null)
      throw new ParseError(
        path,
        lineNo,
        `expected a VMA line or a counter, got ${JSON.stringify(line.slice(0, 80))}`,
      );
    if (v === undefined) {
      cur = undefined;
      skipping = true;
      continue;
    }
    if (out.length >= MAX_VMAS) throw new ParseError(path, lineNo, `more than ${MAX_VMAS} VMAs`);
    cur = {
      ...v,
      size: 0,
      rss: 0,
      pss: 0,
      anonymous: 0,
      anonHugePages: 0,
      swap: 0,
      locked: 0,
      hugetlb: 0,
      kernelPageSize: PAGE_SIZE,
      thpEligible: false,
      vmFlags: [],
    };
    skipping = false;
    pushOrdered(out, cur, path, lineNo);
  }
  return out;
}

function setCounter(v: VmaStats, key: string, bytes: number): void {
  switch (key) {
    case "Size":
      v.size = bytes;
      break;
    case "Rss":
      v.rss = bytes;
      break;
    case "Pss":
      v.pss = bytes;
      break;
    case "Anonymous":
      v.anonymous = bytes;
      break;
    case "AnonHugePages":
      v.anonHugePages = bytes;
      break;
    case "Swap":
      v.swap = bytes;
      break;
    case "Locked":
      v.locked = bytes;
      break;
    case "Shared_Hugetlb":
    case "Private_Hugetlb":
      v.hugetlb += bytes;
      break;
    case "KernelPageSize":
      v.kernelPageSize = bytes;
      break;
  }
}

/**
 * Reads and parses `<procRoot>/<pid>/maps`. O(VMAs).
 * @throws RangeError for a bad pid; ParseError for bad text; Node errno errors (ENOENT: no such process)
 */
export function readMaps(pid: number | "self", opts?: ReaderOptions): Vma[] {
  const path = procPath(opts, pidPart(pid), "maps");
  return parseMaps(readText(path), path);
}

/**
 * Reads and parses `<procRoot>/<pid>/smaps`. O(lines).
 * @throws RangeError for a bad pid; ParseError for bad text; Node errno errors
 */
export function readSmaps(pid: number | "self", opts?: ReaderOptions): VmaStats[] {
  const path = procPath(opts, pidPart(pid), "smaps");
  return parseSmaps(readText(path), path);
}
