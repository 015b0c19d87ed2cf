/**
 * /proc/PID/pagemap: one little-endian 64-bit word per virtual page (fs/proc/task_mmu.c
 * pagemap_read; Documentation/admin-guide/mm/pagemap.rst): bit 63 present, 62 swapped, 61
 * file-page or shared-anon, 57 write-protected by uffd, 56 exclusively mapped, 55 soft-dirty,
 * bits 0-54 the frame number (0 without CAP_SYS_ADMIN; pagemap_open sets show_pfn only then).
 * Words are decoded as two 32-bit halves through a Uint32Array view (no BigInt, no per-page
 * allocation). The file is opened once and read in batches of 64K entries (512 KiB) into one
 * reused buffer, as tools/mm/page-types.c does (PAGEMAP_BATCH = 64 << 10).
 */

import { closeSync, openSync, readSync } from "node:fs";
import { endianness } from "node:os";
import { checkAddr, hex, PAGE_SIZE, ParseError } from "../core/index.js";
import { MAX_PFN, PageRuns, RunFlag } from "../machine/page-runs.js";
import { pidPart, procPath, type ReaderOptions } from "./io.js";

/** Entries per read (tools/mm/page-types.c PAGEMAP_BATCH). */
export const PAGEMAP_BATCH = 64 * 1024;

/** Runs a read reserves room for up front at most (26 B each, about 104 MiB of address space, touched only as runs are written). */
const PRESIZE_RUNS = 1 << 22;

/** A decoded pagemap word (convenience form; hot paths work on halves). */
export interface PagemapEntry {
  present: boolean;
  swapped: boolean;
  /** File-backed or shared anonymous page. */
  file: boolean;
  exclusive: boolean;
  softDirty: boolean;
  /** Frame number (bits 0-54) when present; for swapped pages the swap type/offset field. */
  pfn: number;
}

/**
 * Decodes one pagemap word given as halves. O(1).
 * @param lo bits 0-31 (unsigned)
 * @param hi bits 32-63 (unsigned)
 */
export function decodePagemapWord(lo: number, hi: number): PagemapEntry {
  return {
    present: (hi & 0x80000000) !== 0,
    swapped: (hi & 0x40000000) !== 0,
    file: (hi & 0x20000000) !== 0,
    exclusive: (hi & 0x01000000) !== 0,
    softDirty: (hi & 0x00800000) !== 0,
    pfn: (hi & 0x7fffff) * 0x100000000 + (lo >>> 0),
  };
}

/** {@link RunFlag} bits of a present page from the high half of its word. O(1). */
export function pagemapRunFlags(hi: number): number {
  return (
    RunFlag.PRESENT |
    ((hi >>> 28) & RunFlag.FILE) |
    ((hi >>> 22) & RunFlag.EXCLUSIVE) |
    ((hi >>> 20) & RunFlag.SOFT_DIRTY)
  );
}

/**
 * Adds `n` pagemap words (as u32 halves in `words`, little-endian order) for the pages starting at
 * virtual page `vpn` to `runs`, extending the last run while the virtual page and frame both
 * continue and the flags are equal (page-types -l). Present pages with frame 0 (hidden frames)
 * continue a run whose frame is 0 when only the virtual page continues. O(n), no allocation
 * except run-array growth, done once before the loop (capacity <= 2 x (runs + n)).
 *
 * Engine notes: inside a run the next word is usually the previous word with the low half plus
 * one (plus zero for hidden frames) and the same high half, so a tight inner loop compares two
 * u32 values per page and writes the run length once per run. Anything else (a carry into the
 * high half, a bit that changes no run flag, a new run) takes the general path, which compares the
 * full frame number and flags; the fast loop only ever accepts pages the general path would accept.
 * @throws ParseError (path, line 0) for a present frame at or above 2^40
 */
export function addPagemapWords(
  runs: PageRuns,
  words: Uint32Array,
  n: number,
  vpn: number,
  path = "pagemap",
): void {
  // Room for one run per word up front: no growth branch in the loop (a branch that runs rarely
  // has no type feedback when the loop is optimised, and V8 then deoptimises on every growth).
  runs.reserve(n);
  const vaArr = runs.va;
  const pfnArr = runs.pfn;
  const nArr = runs.npages;
  const flagArr = runs.flags;
  const kindArr = runs.kind;
  let count = runs.count;
  // Next virtual page and frame that would continue the last run; -2 never matches.
  let nextVpn = count > 0 ? vaArr[count - 1] / PAGE_SIZE + nArr[count - 1] : -2;
  let nextPfn = count > 0 ? (pfnArr[count - 1] === 0 ? 0 : pfnArr[count - 1] + nArr[count - 1]) : -2;
  let curFlags = count > 0 ? flagArr[count - 1] : -1;
  let present = 0;
  let swapped = 0;
  let hidden = 0;
  // Signed view of the same words: every comparison below stays in int32 (the present bit makes
  // the high half negative), which V8 keeps unboxed.
  const w = new Int32Array(words.buffer, words.byteOffset, 2 * n);
  let i = 0;
  while (i < n) {
    const hi = w[2 * i + 1];
    if (hi >= 0) {
      if ((hi & 0x40000000) !== 0) swapped++;
      i++;
      continue;
    }
    const lo = w[2 * i];
    const pfn = (hi & 0x7fffff) * 0x100000000 + (lo >>> 0);
    const flags = RunFlag.PRESENT | ((hi >>> 28) & 2) | ((hi >>> 22) & 4) | ((hi >>> 20) & 8);
    const v = vpn + i;
    if (pfn >= MAX_PFN) {
      runs.count = count;
      throw new ParseError(path, 0, `entry for ${hex(v * PAGE_SIZE)} has frame ${hex(pfn)} at or above 2^40`);
    }
    // Fast path: same high half, low half stepping by one (zero for hidden frames).
    const step = pfn === 0 ? 0 : 1;
    let j = i + 1;
    let expectLo = (lo + step) | 0;
    while (j < n && w[2 * j + 1] === hi && w[2 * j] === expectLo) {
      j++;
      expectLo = (expectLo + step) | 0;
    }
    const k = j - i;
    if (v === nextVpn && pfn === nextPfn && flags === curFlags) nArr[count - 1] += k;
    else {
      vaArr[count] = v * PAGE_SIZE;
      pfnArr[count] = pfn;
      nArr[count] = k;
      flagArr[count] = flags;
      kindArr[count] = 0;
      count++;
      curFlags = flags;
    }
    present += k;
    if (step === 0) hidden += k;
    nextVpn = v + k;
    nextPfn = pfn + step * k;
    i = j;
  }
  runs.count = count;
  runs.presentPages += present;
  runs.swappedPages += swapped;
  runs.hiddenPages += hidden;
  runs.unmappedPages += n - present - swapped;
}

let scratchBuf = new ArrayBuffer(0);

/** The module's reused read buffer (grown on demand; readers are synchronous, so one suffices). */
function scratch(bytes: number): { bytes: Uint8Array; words: Uint32Array } {
  if (scratchBuf.byteLength < bytes) scratchBuf = new ArrayBuffer(bytes);
  return { bytes: new Uint8Array(scratchBuf, 0, bytes), words: new Uint32Array(scratchBuf, 0, bytes / 4) };
}

/** Options of {@link readPagemapRuns}. */
export interface PagemapOptions extends ReaderOptions {
  /** Called after each batch with bytes of virtual range done and in total. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /** Entries per read; default {@link PAGEMAP_BATCH} (tests use small batches to cross boundaries). */
  batchEntries?: number;
  /**
   * Stop reading once this many pages have been found present or swapped (the batch that reaches
   * it is read whole); the pages after it count as unmapped. For a VMA whose smaps `Rss` + `Swap`
   * says how many pages it holds, this ends the read of a huge, mostly empty mapping at its last
   * resident page instead of its end. Default: read the whole range.
   */
  stopAfterPages?: number;
}

/**
 * Reads `<procRoot>/<pid>/pagemap` for [vaStart, vaEnd) (rounded out to pages) and forms runs.
 * The file is opened once and read in batches into one reused buffer. O(pages) time, O(runs) memory.
 * @param pid process id or "self"
 * @param vaStart first virtual address
 * @param vaEnd end virtual address (exclusive), above vaStart
 * @returns runs with present/swapped/unmapped/hidden page counts; `readEnd` is below `vaEnd` when
 *   `stopAfterPages` ended the read early
 * @throws RangeError for a bad pid, range or option; ParseError when the file ends early or holds frames
 *   at or above 2^40; Node errno errors when it cannot be opened
 */
export function readPagemapRuns(
  pid: number | "self",
  vaStart: number,
  vaEnd: number,
  opts: PagemapOptions = {},
): PageRuns {
  checkAddr("pagemap range start", vaStart);
  checkAddr("pagemap range end", vaEnd - 1);
  if (vaEnd <= vaStart)
    throw new RangeError(`pagemap range ${hex(vaStart)}-${hex(vaEnd)} is invalid: end is not above start`);
  const batch = opts.batchEntries ?? PAGEMAP_BATCH;
  if (!Number.isInteger(batch) || batch < 1 || batch > 1 << 24)
    throw new RangeError(`batchEntries ${batch} is invalid: expected 1..2^24`);
  const stopAfter = opts.stopAfterPages ?? Number.POSITIVE_INFINITY;
  if (!(stopAfter >= 0) || (Number.isFinite(stopAfter) && !Number.isInteger(stopAfter)))
    throw new RangeError(`stopAfterPages ${stopAfter} is invalid: expected an integer >= 0`);
  if (endianness() !== "LE")
    throw new Error("pagemap decoding needs a little-endian host (words are read as u32 halves)");
  const path = procPath(opts, pidPart(pid), "pagemap");
  const firstVpn = Math.floor(vaStart / PAGE_SIZE);
  const endVpn = Math.ceil(vaEnd / PAGE_SIZE);
  // Sized for every run the range can hold (one per page read, up to PRESIZE_RUNS): a typed
  // array's memory is mapped lazily, so capacity never written costs nothing, while growing by
  // doubling would copy the runs into fresh memory about twice over (and each fresh page is a
  // page fault: the largest single cost of reading a fragmented process).
  const mostRuns = Math.min(endVpn - firstVpn, stopAfter + batch, PRESIZE_RUNS);
  const runs = new PageRuns(firstVpn * PAGE_SIZE, endVpn * PAGE_SIZE, Math.max(1, mostRuns));
  const { bytes, words } = scratch(Math.min(batch, endVpn - firstVpn) * 8);
  const fd = openSync(path, "r");
  try {
    for (let vpn = firstVpn; vpn < endVpn; ) {
      const n = Math.min(batch, endVpn - vpn);
      let got = 0;
      while (got < n * 8) {
        const r = readSync(fd, bytes, got, n * 8 - got, vpn * 8 + got);
        if (r === 0) break;
        got += r;
      }
      if (got < n * 8) {
        throw new ParseError(
          path,
          0,
          `file ends at byte ${hex(vpn * 8 + got)}, before the entry for ${hex((vpn + Math.floor(got / 8)) * PAGE_SIZE)} (truncated or odd length)`,
        );
      }
      addPagemapWords(runs, words, n, vpn, path);
      vpn += n;
      if (runs.presentPages + runs.swappedPages >= stopAfter && vpn < endVpn) {
        runs.unmappedPages += endVpn - vpn;
        runs.readEnd = vpn * PAGE_SIZE;
        vpn = endVpn;
      }
      opts.onProgress?.((vpn - firstVpn) * PAGE_SIZE, (endVpn - firstVpn) * PAGE_SIZE);
    }
  } finally {
    closeSync(fd);
  }
  return runs;
}

/**
 * Forms runs from pagemap bytes already in memory (a captured extract). O(pages).
 * @param bytes pagemap words for consecutive pages starting at `vaStart`; length must be a multiple of 8
 * @param vaStart page-aligned virtual address of the first word
 * @param path name used in errors
 * @throws ParseError for an odd length or bad frames; RangeError for a bad vaStart
 */
export function pagemapRunsFromBytes(bytes: Uint8Array, vaStart: number, path = "pagemap"): PageRuns {
  checkAddr("pagemap start", vaStart);
  if (vaStart % PAGE_SIZE !== 0)
    throw new RangeError(`pagemap start ${hex(vaStart)} is invalid: not page aligned`);
  if (bytes.length % 8 !== 0) throw new ParseError(path, 0, `length ${bytes.length} is not a multiple of 8`);
  const n = bytes.length / 8;
  checkAddr("pagemap end", vaStart + n * PAGE_SIZE);
  const runs = new PageRuns(vaStart, vaStart + n * PAGE_SIZE);
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const words = new Uint32Array(copy.buffer, 0, n * 2);
  if (endianness() !== "LE") throw new Error("pagemap decoding needs a little-endian host");
  addPagemapWords(runs, words, n, vaStart / PAGE_SIZE, path);
  return runs;
}
