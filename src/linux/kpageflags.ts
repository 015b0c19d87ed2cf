/**
 * /proc/kpageflags: one 64-bit flags word per frame (fs/proc/page.c kpageflags_read, bits from
 * include/uapi/linux/kernel-page-flags.h). Used to tell what backs each run: a transparent huge
 * page (KPF_THP), a hugetlbfs page (KPF_HUGE), the zero page (KPF_ZERO_PAGE) or base pages, and
 * where folios begin (KPF_COMPOUND_HEAD). Reading needs CAP_SYS_ADMIN (the file is 0400 root).
 */
import { closeSync, openSync, readSync } from "node:fs";
import {
  checkAddr,
  checkCount,
  growColumn,
  hex,
  PAGE_SIZE,
  ParseError,
  sortIndicesByKey,
} from "../core/index.js";
import { MAX_PFN, PageRuns, RunKind } from "../machine/page-runs.js";
import { procPath, type ReaderOptions, splitLines } from "./io.js";

/** Flag bit numbers (include/uapi/linux/kernel-page-flags.h). */
export const KPF = {
  LOCKED: 0,
  DIRTY: 4,
  LRU: 5,
  SLAB: 7,
  BUDDY: 10,
  MMAP: 11,
  ANON: 12,
  SWAPBACKED: 14,
  COMPOUND_HEAD: 15,
  COMPOUND_TAIL: 16,
  HUGE: 17,
  NOPAGE: 20,
  KSM: 21,
  THP: 22,
  OFFLINE: 23,
  ZERO_PAGE: 24,
  PGTABLE: 26,
} as const;

/** Where kpageflags words come from: the live file or a captured extract. */
export interface KpageflagsSource {
  /**
   * Writes the words of frames [pfn, pfn+count) into `out` as (lo, hi) u32 pairs.
   * @throws ParseError / RangeError when a frame cannot be read
   */
  read(pfn: number, count: number, out: Uint32Array): void;
  /** Releases the file, if any. */
  close(): void;
}

/**
 * Opens `<procRoot>/kpageflags` for positioned reads. O(1).
 * @throws Node errno errors (EACCES/EPERM without CAP_SYS_ADMIN, ENOENT when absent)
 */
export function openKpageflags(opts?: ReaderOptions): KpageflagsSource {
  const path = procPath(opts, "kpageflags");
  const fd = openSync(path, "r");
  return {
    read(pfn, count, out) {
      const bytes = new Uint8Array(out.buffer, out.byteOffset, count * 8);
      let got = 0;
      while (got < count * 8) {
        const r = readSync(fd, bytes, got, count * 8 - got, pfn * 8 + got);
        if (r === 0) break;
        got += r;
      }
      if (got < count * 8)
        throw new ParseError(
          path,
          0,
          `no entry for frame ${hex(pfn + Math.floor(got / 8))} (file ends at byte ${hex(pfn * 8 + got)})`,
        );
    },
    close() {
      closeSync(fd);
    },
  };
}

/**
 * Parses a kpageflags extract: lines `pfn count flags` in hex, `count` frames from `pfn` all with
 * the word `flags`; `#` starts a comment. Frames must ascend without overlap. O(lines).
 * @param text extract contents
 * @param path name used in errors
 * @returns a source answering reads of the frames it lists
 * @throws ParseError naming path and line for malformed, overlapping or out-of-range lines
 */
export function parseKpageflagsExtract(text: string, path = "kpageflags.extract"): KpageflagsSource {
  const starts: number[] = [];
  const counts: number[] = [];
  const los: number[] = [];
  const his: number[] = [];
  const lines = splitLines(text);
  let prevEnd = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([0-9a-f]{1,16}) ([0-9a-f]{1,16}) ([0-9a-f]{1,16})$/.exec(line);
    if (!m)
      throw new ParseError(
        path,
        i + 1,
        `expected "pfn count flags" in hex, got ${JSON.stringify(line.slice(0, 80))}`,
      );
    const pfn = Number.parseInt(m[1], 16);
    const count = Number.parseInt(m[2], 16);
    if (pfn + count > MAX_PFN || count === 0)
      throw new ParseError(path, i + 1, `frames ${hex(pfn)}+${hex(count)} are empty or beyond 2^40`);
    if (pfn < prevEnd)
      throw new ParseError(path, i + 1, `frame ${hex(pfn)} overlaps or precedes the line before`);
    const f = m[3].padStart(16, "0");
    starts.push(pfn);
    counts.push(count);
    los.push(Number.parseInt(f.slice(8), 16));
    his.push(Number.parseInt(f.slice(0, 8), 16));
    prevEnd = pfn + count;
  }
  return {
    read(pfn, count, out) {
      for (let k = 0; k < count; k++) {
        const p = pfn + k;
        let lo = 0;
        let hi = starts.length - 1;
        let found = -1;
        while (lo <= hi) {
          const mid = (lo + hi) >>> 1;
          if (starts[mid] > p) hi = mid - 1;
          else if (starts[mid] + counts[mid] <= p) lo = mid + 1;
          else {
            found = mid;
            break;
          }
        }
        if (found < 0) throw new RangeError(`frame ${hex(p)} is not in the extract ${path}`);
        out[2 * k] = los[found];
        out[2 * k + 1] = his[found];
      }
    },
    close() {},
  };
}

/**
 * Reads the flags of arbitrary frames: sorts them and reads each ascending range of consecutive
 * frames with one call (in batches of 64K). O(n log n).
 * @param pfns frame numbers (any order, duplicates allowed)
 * @param source live file or extract
 * @returns (lo, hi) u32 pairs in the order of `pfns`
 * @throws RangeError for a bad frame number; errors of the source
 */
export function readKpageflags(pfns: ArrayLike<number>, source: KpageflagsSource): Uint32Array {
  const n = pfns.length;
  for (let i = 0; i < n; i++) checkAddr("frame number", pfns[i]);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => pfns[a] - pfns[b]);
  const out = new Uint32Array(2 * n);
  const buf = new Uint32Array(2 * 65536);
  let i = 0;
  while (i < n) {
    const first = pfns[order[i]];
    let j = i;
    while (j + 1 < n && pfns[order[j + 1]] - first <= 65535 && pfns[order[j + 1]] - pfns[order[j]] <= 1) j++;
    const count = pfns[order[j]] - first + 1;
    source.read(first, count, buf);
    for (let k = i; k <= j; k++) {
      const off = pfns[order[k]] - first;
      out[2 * order[k]] = buf[2 * off];
      out[2 * order[k] + 1] = buf[2 * off + 1];
    }
    i = j + 1;
  }
  return out;
}

/** The {@link RunKind} of a frame from the low half of its kpageflags word. O(1). */
export function frameKind(lo: number): number {
  if (lo & (1 << KPF.ZERO_PAGE)) return RunKind.ZERO;
  if (lo & (1 << KPF.HUGE)) return RunKind.HUGETLB;
  if (lo & (1 << KPF.THP)) return RunKind.THP;
  return RunKind.BASE;
}

/** Options of {@link classifyRuns}: how neighbouring runs' frames are gathered into one read. */
export interface ClassifyOptions {
  /**
   * Frames between two runs (sorted by frame) that are read anyway to make one read of both;
   * default {@link KPF_READ_GAP}.
   */
  gapFrames?: number;
  /** Most frames one read covers; default {@link KPF_READ_FRAMES}. */
  maxReadFrames?: number;
}

/**
 * Frames read across a gap to save a read: the cost of one `pread` of /proc/kpageflags (about a
 * microsecond of syscall entry, file lookup and copy set-up) equals the kernel's per-frame cost
 * (stable_page_flags, tens of nanoseconds) of a few dozen frames. Chosen by measurement on the
 * analyze bench (8 GiB of 4 KiB pages in about a million runs); the README gives the figures.
 */
export const KPF_READ_GAP = 64;

/** Frames per read at most (512 KiB of flags words, page-types' KPAGEFLAGS_BATCH is 64K too). */
export const KPF_READ_FRAMES = 65536;

/**
 * Splits runs by what backs them: a run breaks where the frame kind changes and at every compound
 * head of a THP or hugetlb folio, so each huge folio becomes its own run (page-types keeps the
 * compound bits of hugetlb pages and hides those of THPs; here both break, so folio sizes are
 * visible). Runs with hidden frames stay UNKNOWN.
 *
 * The flags are read in frame order, not run order: runs are sorted by first frame (a radix sort)
 * and neighbours whose frames lie within `gapFrames` of each other share one positioned read of up
 * to `maxReadFrames` frames, so a fragmented process costs a few reads per megabyte of flags
 * instead of one read per run. Each run's pieces are then emitted in virtual-address order.
 * O(runs + pages read) time; O(runs + pieces) extra memory, never a word per page.
 * @param runs runs from {@link readPagemapRuns}; consumed: when no run splits (the usual case)
 *   their `kind` column is filled in and they are returned, so they are not copied
 * @param source live file or extract
 * @param opts read gathering (tests use small values to cross read boundaries)
 * @returns the runs with `kind` set and the same page counts: `runs` itself when no run split,
 *   else a new list
 * @throws RangeError for options out of range; errors of the source
 */
export function classifyRuns(runs: PageRuns, source: KpageflagsSource, opts: ClassifyOptions = {}): PageRuns {
  checkCount("run count", runs.count);
  const gap = opts.gapFrames ?? KPF_READ_GAP;
  const maxRead = opts.maxReadFrames ?? KPF_READ_FRAMES;
  if (!Number.isInteger(gap) || gap < 0)
    throw new RangeError(`gapFrames ${gap} is invalid: expected an integer >= 0`);
  if (!Number.isInteger(maxRead) || maxRead < 1 || maxRead > 1 << 24)
    throw new RangeError(`maxReadFrames ${maxRead} is invalid: expected 1..2^24`);
  const n = runs.count;
  const pfnArr = runs.pfn;
  const lenArr = runs.npages;
  // Per run: its kind when it is one piece (the common case), else PIECES and its pieces' slice.
  const PIECES = 0xff;
  const runKind = new Uint8Array(n);
  const pieceFirst = new Uint32Array(n);
  const pieceCount = new Uint32Array(n);
  let pOff = new Float64Array(64);
  let pLen = new Float64Array(64);
  let pKind = new Uint8Array(64);
  let pieces = 0;
  const addPiece = (off: number, len: number, kind: number): void => {
    if (pieces === pOff.length) {
      pOff = growColumn(pOff, pieces * 2);
      pLen = growColumn(pLen, pieces * 2);
      pKind = growColumn(pKind, pieces * 2);
    }
    pOff[pieces] = off;
    pLen[pieces] = len;
    pKind[pieces] = kind;
    pieces++;
  };
  const order = sortIndicesByKey(pfnArr, n, 40);
  const buf = new Uint32Array(2 * maxRead);
  let bufFirst = -1;
  let bufEnd = -1;
  let i = 0;
  while (i < n && pfnArr[order[i]] === 0) {
    runKind[order[i]] = RunKind.UNKNOWN;
    i++;
  }
  for (; i < n; i++) {
    const r = order[i];
    const pfn = pfnArr[r];
    const len = lenArr[r];
    let curKind = -1;
    let curStart = 0;
    let split = false;
    for (let done = 0; done < len; ) {
      const f = pfn + done;
      if (f < bufFirst || f >= bufEnd) {
        // A new read from frame f: as far as the runs that follow in frame order reach, while the
        // gaps between them stay small and the read stays within maxRead frames.
        let end = Math.min(pfn + len, f + maxRead);
        for (let j = i + 1; j < n && end < f + maxRead; j++) {
          const next = pfnArr[order[j]];
          if (next > end + gap) break;
          end = Math.min(Math.max(end, next + lenArr[order[j]]), f + maxRead);
        }
        source.read(f, end - f, buf);
        bufFirst = f;
        bufEnd = end;
      }
      const stop = Math.min(len, bufEnd - pfn);
      for (let page = done; page < stop; page++) {
        const lo = buf[2 * (pfn + page - bufFirst)];
        const kind = frameKind(lo);
        const head =
          (lo & (1 << KPF.COMPOUND_HEAD)) !== 0 && (kind === RunKind.THP || kind === RunKind.HUGETLB);
        if (kind !== curKind || head) {
          if (curKind >= 0) {
            if (!split) pieceFirst[r] = pieces;
            split = true;
            addPiece(curStart, page - curStart, curKind);
          }
          curKind = kind;
          curStart = page;
        }
      }
      done = stop;
    }
    if (split) {
      addPiece(curStart, len - curStart, curKind);
      runKind[r] = PIECES;
      pieceCount[r] = pieces - pieceFirst[r];
    } else runKind[r] = curKind;
  }
  if (pieces === 0) {
    // No run was split (the usual case): the runs are the answer with their kinds filled in (no
    // copy of the columns into fresh memory).
    runs.kind.set(runKind);
    return runs;
  }
  const out = new PageRuns(runs.vaStart, runs.vaEnd, Math.max(1, n + pieces));
  out.presentPages = runs.presentPages;
  out.swappedPages = runs.swappedPages;
  out.unmappedPages = runs.unmappedPages;
  out.hiddenPages = runs.hiddenPages;
  out.readEnd = runs.readEnd;
  for (let r = 0; r < n; r++) {
    const va = runs.va[r];
    const pfn = pfnArr[r];
    const flags = runs.flags[r];
    if (runKind[r] !== PIECES) {
      out.push(va, pfn, lenArr[r], flags, runKind[r]);
      continue;
    }
    for (let p = pieceFirst[r], e = p + pieceCount[r]; p < e; p++)
      out.push(va + pOff[p] * PAGE_SIZE, pfn + pOff[p], pLen[p], flags, pKind[p]);
  }
  return out;
}
