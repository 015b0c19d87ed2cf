/**
 * Page runs of a buffer: validation, the run-length histogram, and the PhyrList of the buffer's
 * physical ranges (the input every representation's byte count is computed from).
 */

import { ADDR_LIMIT, checkAddr, checkLen, hex, ilog2, PAGE_SIZE } from "../core/index.js";
import { PhyrList } from "../phyr/index.js";
import type { RunHistogram } from "./output.js";
import type { RunsInput } from "./types.js";

/** PFNs are below 2^40 (52-bit physical addresses with 4 KiB pages). */
const PFN_LIMIT = 2 ** 40;

/**
 * Checks that runs are well formed: count within the arrays, VAs page aligned and strictly
 * increasing without overlap, PFNs below 2^40, page counts >= 1 and the run inside 2^52. O(runs).
 * @param runs the runs.
 * @throws RangeError naming the run index and the bad value.
 */
export function checkRuns(runs: RunsInput): void {
  const n = runs.count;
  if (!Number.isInteger(n) || n < 0 || n > runs.va.length || n > runs.pfn.length || n > runs.npages.length) {
    throw new RangeError(`runs count ${n} is invalid: expected an integer within the arrays' length`);
  }
  let end = 0;
  for (let i = 0; i < n; i++) {
    const va = runs.va[i];
    const pfn = runs.pfn[i];
    const np = runs.npages[i];
    // The common case in plain comparisons (names are built only for the run that fails): a
    // page-aligned VA at or after the previous run's end, integer frame and page counts in range.
    if (
      va >= end &&
      va < ADDR_LIMIT &&
      Math.floor(va / PAGE_SIZE) * PAGE_SIZE === va &&
      pfn >= 0 &&
      Math.floor(pfn) === pfn &&
      np >= 1 &&
      Math.floor(np) === np &&
      pfn + np <= PFN_LIMIT
    ) {
      end = va + np * PAGE_SIZE;
      continue;
    }
    checkAddr(`run ${i} va`, va);
    if (va % PAGE_SIZE !== 0) throw new RangeError(`run ${i} va ${hex(va)} is invalid: not page aligned`);
    if (va < end)
      throw new RangeError(`run ${i} va ${hex(va)} is invalid: it overlaps or precedes the previous run`);
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= PFN_LIMIT) {
      throw new RangeError(`run ${i} pfn ${pfn} is invalid: expected an integer below 2^40`);
    }
    checkLen(`run ${i} npages`, np);
    if (pfn + np > PFN_LIMIT)
      throw new RangeError(`run ${i} pfn ${hex(pfn)}+${np} pages is invalid: beyond 2^52`);
    end = va + np * PAGE_SIZE;
  }
}

/**
 * Counts present pages. O(runs).
 * @param runs validated runs.
 * @returns the sum of the runs' page counts.
 */
export function countPages(runs: RunsInput): number {
  let pages = 0;
  for (let i = 0; i < runs.count; i++) pages += runs.npages[i];
  return pages;
}

/**
 * Run-length histogram: bucket k counts runs of 2^k .. 2^(k+1)-1 pages and their bytes; the
 * arrays are as long as the largest bucket used + 1 (empty for no runs). O(runs).
 * @param runs validated runs.
 * @returns the histogram.
 */
export function runHistogram(runs: RunsInput): RunHistogram {
  const h: RunHistogram = { runs: [], bytes: [] };
  for (let i = 0; i < runs.count; i++) addToHistogram(h, runs.npages[i], 1);
  return h;
}

/**
 * Adds `count` runs of `npages` pages to a histogram in place (growing its arrays). O(log npages).
 * @param h the histogram to update.
 * @param npages pages per run (>= 1).
 * @param count how many such runs.
 */
export function addToHistogram(h: RunHistogram, npages: number, count: number): void {
  const k = ilog2(npages);
  while (h.runs.length <= k) {
    h.runs.push(0);
    h.bytes.push(0);
  }
  h.runs[k] += count;
  h.bytes[k] += count * npages * PAGE_SIZE;
}

/**
 * Merges histogram `b` into `a` in place. O(buckets).
 * @param a the histogram to update.
 * @param b the histogram to add.
 */
export function mergeHistogram(a: RunHistogram, b: RunHistogram): void {
  while (a.runs.length < b.runs.length) {
    a.runs.push(0);
    a.bytes.push(0);
  }
  for (let k = 0; k < b.runs.length; k++) {
    a.runs[k] += b.runs[k];
    a.bytes[k] += b.bytes[k];
  }
}

/**
 * The buffer's physical ranges as a compact PhyrList, one entry per run, in VA order (no merging
 * across runs: each run is already maximal). Flags 0 (pages are read, not pinned). O(runs).
 * @param runs validated runs.
 * @returns a new list.
 */
export function runsToList(runs: RunsInput): PhyrList {
  const list = new PhyrList();
  for (let i = 0; i < runs.count; i++) list.append(runs.pfn[i] * PAGE_SIZE, runs.npages[i] * PAGE_SIZE);
  return list;
}

/**
 * Calls `fn` for each VA-contiguous group of runs (each run starting where the previous one ended:
 * one VFIO_IOMMU_MAP_DMA or ib_umem_get registration), in VA order, with the group's runs
 * [from, to) and its virtual range [vaStart, vaEnd). O(runs).
 * @param runs validated runs.
 * @param fn called once per group.
 */
export function forEachVaGroup(
  runs: RunsInput,
  fn: (from: number, to: number, vaStart: number, vaEnd: number) => void,
): void {
  let i = 0;
  while (i < runs.count) {
    const from = i;
    const vaStart = runs.va[i];
    let vaEnd = vaStart;
    while (i < runs.count && runs.va[i] === vaEnd) {
      vaEnd += runs.npages[i] * PAGE_SIZE;
      i++;
    }
    fn(from, i, vaStart, vaEnd);
  }
}

/** Kind value of a run merged from parts of different kinds (run-map.ts RUN_MAP_KINDS[5], "mixed"). */
export const RUN_KIND_MIXED = 5;

/** Maximal runs as {@link mergeContiguousRuns} returns them: Float64Array columns and a kind column. */
export interface MergedRuns extends RunsInput {
  readonly va: Float64Array;
  readonly pfn: Float64Array;
  readonly npages: Float64Array;
  /** Kind of each run: its parts' kind when they agree, {@link RUN_KIND_MIXED} otherwise (0 without kinds). */
  readonly kind: Uint8Array;
}

/**
 * Merges runs whose virtual and physical pages both continue, whatever their pagemap flags or
 * folio kind (the readers split runs where flags change, as page-types -l does; a DMA list only
 * cares about physical contiguity). A merged run keeps its parts' kind when they agree and is
 * {@link RUN_KIND_MIXED} otherwise; runs without `kind` are 0 (unknown). Merging merged runs
 * changes nothing. Struct-of-arrays output; O(runs). When no two runs merge (the readers' runs
 * usually are maximal already) and the columns are typed arrays, the result shares them instead of
 * copying them; otherwise it is four new typed arrays of `runs.count`.
 * @param runs validated runs (not changed).
 * @returns maximal runs.
 */
export function mergeContiguousRuns(runs: RunsInput): MergedRuns {
  const n = runs.count;
  if (
    runs.va instanceof Float64Array &&
    runs.pfn instanceof Float64Array &&
    runs.npages instanceof Float64Array &&
    (runs.kind === undefined || runs.kind instanceof Uint8Array) &&
    !anyContiguous(runs)
  ) {
    const kind = runs.kind ?? new Uint8Array(n);
    return { count: n, va: runs.va, pfn: runs.pfn, npages: runs.npages, kind };
  }
  const va = new Float64Array(n);
  const pfn = new Float64Array(n);
  const npages = new Float64Array(n);
  const kind = new Uint8Array(n);
  const kinds = runs.kind;
  let m = 0;
  let nextVa = -1;
  let nextPfn = -1;
  for (let i = 0; i < n; i++) {
    const v = runs.va[i];
    const p = runs.pfn[i];
    const np = runs.npages[i];
    const k = kinds === undefined ? 0 : kinds[i];
    if (v === nextVa && p === nextPfn) {
      npages[m - 1] += np;
      if (kind[m - 1] !== k) kind[m - 1] = RUN_KIND_MIXED;
    } else {
      va[m] = v;
      pfn[m] = p;
      npages[m] = np;
      kind[m] = k;
      m++;
    }
    nextVa = v + np * PAGE_SIZE;
    nextPfn = p + np;
  }
  return { count: m, va, pfn, npages, kind };
}

/** Whether any run continues the one before it, virtually and physically. O(runs), no allocation. */
function anyContiguous(runs: RunsInput): boolean {
  for (let i = 1; i < runs.count; i++) {
    const np = runs.npages[i - 1];
    if (runs.va[i] === runs.va[i - 1] + np * PAGE_SIZE && runs.pfn[i] === runs.pfn[i - 1] + np) return true;
  }
  return false;
}
