/**
 * The run loops behind phyrFromPfns (build.ts): scan a PFN array for runs of consecutive frames and
 * append one entry per run (split by provider, maxSegment and the segment boundary when asked).
 *
 * Engine notes (sorted-btree style): the loops read the array with one load, one subtraction and
 * one comparison per PFN (pfns[j] - j is constant along a run) and do work only at run breaks. A
 * PFN needs validating only where a run starts, since pfns[j] == pfns[j-1] + 1 already proves an
 * integer, and not at all in a Uint32Array. The compact loops write words straight into the chunk
 * and touch the segment once per chunk; the provider function and split limits live in a separate
 * loop so the common one stays small and monomorphic.
 *
 * Measured on the 16M-page bench mix (98 % of runs are single pages, 80 % of pages are in runs of
 * 64 pages or more): checking long runs eight PFNs per step (xor/or, one branch) made the
 * Uint32Array loop faster per PFN than the plain run-counting loop; what remains above that loop
 * is writing 27 MB of fresh chunk memory. Opening 4 KiB chunks cost about a fifth of the build
 * (one ArrayBuffer allocation each), hence pfnChunkCapacity. A byte total that passes 2^31 in a
 * field that started as a small integer deoptimised the loop (see Segment).
 */
import { hex, PAGE_SIZE } from "../core/index.js";
import { type CompactChunk, ENC, encodePages } from "./compact.js";
import { listWriter, type PhyrList } from "./list.js";
import { checkProvider } from "./validate.js";

const W = listWriter();

/** PFNs are below 2^40 (52-bit physical addresses). */
export const PFN_LIMIT = 2 ** 40;
const P32 = 2 ** 32;

/** @throws RangeError unless `p` (pfns[i]) is an integer below 2^40. */
export function checkPfn(i: number, p: number): void {
  if (!(p >= 0 && p < PFN_LIMIT && p % 1 === 0)) {
    throw new RangeError(
      `pfn[${i}] ${Number.isInteger(p) && p >= 0 ? hex(p) : String(p)} is invalid: expected an integer below 2^40`,
    );
  }
}

function emit(
  list: PhyrList,
  start: number,
  npages: number,
  flags: number,
  provider: number,
  i: number,
): void {
  if (start + npages > PFN_LIMIT) checkPfn(i - 1, start + npages - 1);
  if (list.store === "compact" && provider <= 0xfff) {
    W.pushEncoded(list, encodePages(start, npages, flags, provider), npages * PAGE_SIZE);
  } else {
    W.push(list, start * PAGE_SIZE, npages * PAGE_SIZE, flags, provider);
  }
}

/**
 * The compact fast path for a Uint32Array (the common GUP output): every PFN is an integer below
 * 2^32 and every run shorter than 2^32 pages, so nothing is validated per run and the order and
 * count come from 32-bit operations: the order is the lowest set bit of (start | npages); the run
 * is one natural chunk (mode 00) when that bit is npages itself, else npages / 2^order chunks
 * (mode 01). Words go straight into the chunk; the segment is updated once per chunk.
 *
 * The scan, per PFN: a single page (the common run) costs one extra load and comparison; a longer
 * run is checked eight PFNs per step, xor-ing each with its expected value (mod 2^32, in int32)
 * and or-ing the eight results, so a step has one branch instead of eight. The expected value
 * wraps at 2^32, so a run is cut where it would wrap (0xffffffff followed by 0 is not contiguous).
 */
export function runsCompactU32(list: PhyrList, pfns: Uint32Array, flags: number, provider: number): void {
  const n = pfns.length;
  const n8 = n - 8;
  const low = ((provider & 0x7f) << 5) | flags;
  const high = ((provider >>> 7) & 0x1f) << 25;
  let seg = W.tail(list, 4);
  let w = (seg.chunk as CompactChunk).words;
  let wp = seg.chunk.used;
  let lim = w.length;
  let count = 0;
  let i0 = 0; // first PFN of this chunk's entries: the chunk holds (i - i0) pages
  let i = 0;
  while (i < n) {
    const start = pfns[i];
    let end = i + 1;
    if (end < n && pfns[end] === start + 1) {
      // pfns[j] == start + (j - i) along the run, i.e. pfns[j] ^ (d + j) == 0 in int32.
      const d = (start - i) | 0;
      end++;
      while (end <= n8) {
        const e = (d + end) | 0;
        const x =
          (pfns[end] ^ e) |
          (pfns[end + 1] ^ (e + 1)) |
          (pfns[end + 2] ^ (e + 2)) |
          (pfns[end + 3] ^ (e + 3)) |
          (pfns[end + 4] ^ (e + 4)) |
          (pfns[end + 5] ^ (e + 5)) |
          (pfns[end + 6] ^ (e + 6)) |
          (pfns[end + 7] ^ (e + 7));
        if (x !== 0) break;
        end += 8;
      }
      while (end < n && (pfns[end] ^ ((d + end) | 0)) === 0) end++;
      if (start + (end - i) > P32) end = i + (P32 - start);
    }
    const np = end - i;
    const lowbit = ((start | np) & -(start | np)) >>> 0;
    const order = 31 - Math.clz32(lowbit);
    // Two copies of the chunk-full step on purpose: each branch writes a constant width. One
    // shared step with `width = lowbit === np ? 2 : 3` (and `wp += width`) measured 5-7 % slower
    // on the 16M-page bench mix, paired against this loop.
    if (lowbit === np) {
      if (wp + 2 > lim) {
        W.commit(list, seg, wp, count, (i - i0) * PAGE_SIZE);
        seg = W.tail(list, 2);
        w = (seg.chunk as CompactChunk).words;
        wp = seg.chunk.used;
        lim = w.length;
        count = 0;
        i0 = i;
      }
      w[wp] = ((start & 0xfffff) << 12) | low;
      w[wp + 1] = (start >>> 20) | (order << 20) | high;
      wp += 2;
    } else {
      if (wp + 3 > lim) {
        W.commit(list, seg, wp, count, (i - i0) * PAGE_SIZE);
        seg = W.tail(list, 3);
        w = (seg.chunk as CompactChunk).words;
        wp = seg.chunk.used;
        lim = w.length;
        count = 0;
        i0 = i;
      }
      w[wp] = ((start & 0xfffff) << 12) | low;
      w[wp + 1] = (start >>> 20) | (order << 20) | high | 0x40000000;
      w[wp + 2] = np >>> order;
      wp += 3;
    }
    count++;
    i = end;
  }
  W.commit(list, seg, wp, count, (n - i0) * PAGE_SIZE);
}

/** The compact fast path for any other array: validates each run's first PFN, then as above. */
export function runsCompact(list: PhyrList, pfns: ArrayLike<number>, flags: number, provider: number): void {
  const n = pfns.length;
  const low = ((provider & 0x7f) << 5) | flags;
  const high = ((provider >>> 7) & 0x1f) << 25;
  let seg = W.tail(list, 4);
  let w = (seg.chunk as CompactChunk).words;
  let wp = seg.chunk.used;
  let count = 0;
  let pages = 0;
  let i = 0;
  while (i < n) {
    const start = pfns[i];
    checkPfn(i, start);
    // pfns[j] - j stays start - i along a run: one load, one subtraction, one comparison per PFN.
    const diff = start - i;
    let end = i + 1;
    while (end < n && pfns[end] - end === diff) end++;
    const np = end - i;
    // Below 2^32 the order is the lowest set bit of (start | np), found with 32-bit operations:
    // a natural chunk when that bit is np itself (mode 00), else np / 2^order chunks (mode 01).
    // This is encodePages' own 32-bit path, inlined on purpose: calling encodePages and copying
    // ENC for every run measured 10-25 % slower on the bench mix as a Float64Array or number[].
    const small = start <= 0xffffffff && np <= 0xffffffff;
    let lowbit = 0;
    let width: number;
    if (small) {
      lowbit = ((start | np) & -(start | np)) >>> 0;
      width = lowbit === np ? 2 : 3;
    } else {
      if (start + np > PFN_LIMIT) checkPfn(end - 1, start + np - 1);
      width = encodePages(start, np, flags, provider);
    }
    if (wp + width > w.length) {
      W.commit(list, seg, wp, count, pages * PAGE_SIZE);
      count = 0;
      pages = 0;
      seg = W.tail(list, 4);
      w = (seg.chunk as CompactChunk).words;
      wp = seg.chunk.used;
    }
    if (small) {
      const order = 31 - Math.clz32(lowbit);
      w[wp] = ((start & 0xfffff) << 12) | low;
      if (width === 2) w[wp + 1] = (start >>> 20) | (order << 20) | high;
      else {
        w[wp + 1] = (start >>> 20) | (order << 20) | high | 0x40000000;
        w[wp + 2] = np >>> order;
      }
    } else {
      w[wp] = ENC[0];
      w[wp + 1] = ENC[1];
      if (width > 2) w[wp + 2] = ENC[2];
      if (width > 3) w[wp + 3] = ENC[3];
    }
    wp += width;
    count++;
    pages += np;
    i = end;
  }
  W.commit(list, seg, wp, count, pages * PAGE_SIZE);
}

/** Runs with one provider and no split limits: one comparison per PFN. */
export function runsFixed(list: PhyrList, pfns: ArrayLike<number>, flags: number, provider: number): void {
  const n = pfns.length;
  let start = pfns[0];
  checkPfn(0, start);
  let prev = start;
  for (let i = 1; i < n; i++) {
    const p = pfns[i];
    if (p !== prev + 1) {
      emit(list, start, prev - start + 1, flags, provider, i);
      checkPfn(i, p);
      start = p;
    }
    prev = p;
  }
  emit(list, start, prev - start + 1, flags, provider, n);
}

/** Runs broken also by provider changes, maxSegment and the segment boundary. */
export function runsSplit(
  list: PhyrList,
  pfns: ArrayLike<number>,
  flags: number,
  prov: number | ((pfn: number) => number),
  maxPages: number,
  boundaryPages: number,
): void {
  const fn = typeof prov === "function" ? prov : undefined;
  const n = pfns.length;
  let start = pfns[0];
  checkPfn(0, start);
  let runProv = fn === undefined ? (prov as number) : providerOf(fn, start);
  let prev = start;
  let pages = 1;
  for (let i = 1; i < n; i++) {
    const p = pfns[i];
    const pp = fn === undefined ? runProv : p === prev + 1 ? providerOf(fn, p) : -1;
    if (p !== prev + 1 || pp !== runProv || pages >= maxPages || p % boundaryPages === 0) {
      emit(list, start, pages, flags, runProv, i);
      checkPfn(i, p);
      start = p;
      pages = 0;
      if (fn !== undefined) runProv = pp === -1 ? providerOf(fn, p) : pp;
    }
    prev = p;
    pages++;
  }
  emit(list, start, pages, flags, runProv, n);
}

function providerOf(fn: (pfn: number) => number, pfn: number): number {
  const p = fn(pfn);
  checkProvider(`provider(${hex(pfn)})`, p);
  return p;
}
