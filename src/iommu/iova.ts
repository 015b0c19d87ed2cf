/**
 * The IOVA allocator of drivers/iommu/iova.c, in page frames of one granule.
 *
 * Allocated and reserved ranges are kept sorted by start in typed arrays (lo, hi inclusive, kind).
 * Allocation walks down from the limit to the first gap that fits, like
 * __alloc_and_insert_iova_range (the model always starts at the limit; the kernel starts at a
 * cached node and retries from the limit, which is a speed-up that can place an IOVA lower).
 * Size-aligned requests are aligned to roundup_pow_of_two(size) (align_mask <<= fls_long(size-1)).
 *
 * alloc_iova_fast / free_iova_fast add the range cache (rcache): sizes below 32 pages are rounded
 * up to a power of two, and freed ranges of order 0..5 (IOVA_RANGE_CACHE_MAX_SIZE 6) are kept,
 * still allocated, in a per-order LIFO and handed out again. The model has one CPU's loaded and
 * previous magazines (2 x IOVA_MAG_SIZE 127 entries per order) and no depot: a freed range that
 * does not fit goes back to the tree.
 *
 * Costs: alloc O(log n + gaps walked + n) (insertion shifts the arrays), free O(log n + n),
 * cache hit O(cache depth), checkValid O(n).
 */
import { checkCount, DmaApiError, hex, ilog2, PAGE_SIZE, roundUpPow2 } from "../core/index.js";

/** Orders 0..IOVA_RANGE_CACHE_MAX_SIZE-1 are cached (drivers/iommu/iova.c). */
export const IOVA_RANGE_CACHE_MAX_SIZE = 6;
/** Entries per magazine (drivers/iommu/iova.c IOVA_MAG_SIZE). */
export const IOVA_MAG_SIZE = 127;

/** Options of an {@link IovaDomain}. */
export interface IovaDomainOptions {
  /** Granule in bytes (power of two >= 4096); default 4096. */
  granule?: number;
  /** Lowest allocatable page frame; default 1 (IOVA 0 is never handed out). */
  startPfn?: number;
  /** Keep the range cache; default true. */
  rcache?: boolean;
  /** Cached ranges per order; default 2 x IOVA_MAG_SIZE. */
  rcacheDepth?: number;
}

const ALLOCATED = 0;
const RESERVED = 1;

/** An IOVA space (struct iova_domain). */
export class IovaDomain {
  /** Granule in bytes. */
  readonly granule: number;
  /** Lowest allocatable page frame. */
  readonly startPfn: number;
  /** Cached ranges per order. */
  readonly rcacheDepth: number;
  /** Allocations served from the range cache. */
  rcacheHits = 0;
  private lo = new Float64Array(16);
  private hi = new Float64Array(16);
  private kind = new Uint8Array(16);
  private n = 0;
  private readonly cache: Float64Array[] = [];
  private readonly cacheLen = new Uint32Array(IOVA_RANGE_CACHE_MAX_SIZE);

  /**
   * An empty IOVA space.
   * @throws RangeError for a bad granule, start or depth.
   */
  constructor(opts: IovaDomainOptions = {}) {
    const granule = opts.granule ?? PAGE_SIZE;
    if (
      !Number.isInteger(granule) ||
      granule < PAGE_SIZE ||
      granule > 2 ** 30 ||
      roundUpPow2(granule) !== granule
    ) {
      throw new RangeError(
        `IOVA granule ${String(granule)} is invalid: expected a power of two from 4096 to 2^30`,
      );
    }
    this.granule = granule;
    this.startPfn = checkCount("IOVA start pfn", opts.startPfn ?? 1, 2 ** 40);
    this.rcacheDepth =
      opts.rcache === false ? 0 : checkCount("rcache depth", opts.rcacheDepth ?? 2 * IOVA_MAG_SIZE, 1 << 20);
    for (let o = 0; o < IOVA_RANGE_CACHE_MAX_SIZE; o++) this.cache.push(new Float64Array(this.rcacheDepth));
  }

  /** Number of ranges in the tree (allocated, cached and reserved). O(1). */
  get nranges(): number {
    return this.n;
  }

  /** Page frames held by allocated ranges (cached ones included, reserved ones not). O(n). */
  get allocatedPages(): number {
    let s = 0;
    for (let i = 0; i < this.n; i++) if (this.kind[i] === ALLOCATED) s += this.hi[i] - this.lo[i] + 1;
    return s;
  }

  /** Ranges held in the cache for `order`. O(1). */
  cachedCount(order: number): number {
    return this.cacheLen[order] ?? 0;
  }

  /**
   * alloc_iova: the highest free range of `npages` ending at or below `limitPfn`.
   * @param npages Page frames (>= 1).
   * @param limitPfn Highest usable frame (inclusive).
   * @param sizeAligned Align the start to roundup_pow_of_two(npages).
   * @param modulus When > 1, instead of size alignment the start is chosen with
   *   start % modulus === residue (keeps an IOVA congruent with a physical address).
   * @param residue See `modulus`.
   * @returns The first frame, or -1 when no range fits.
   * Cost: O(log n + gaps walked + n).
   */
  allocIova(npages: number, limitPfn: number, sizeAligned: boolean, modulus = 1, residue = 0): number {
    checkCount("IOVA pages", npages, 2 ** 40);
    checkCount("IOVA limit pfn", limitPfn, 2 ** 52);
    if (npages < 1) throw new RangeError("IOVA pages 0x0 is invalid: expected at least one page");
    const align = sizeAligned ? roundUpPow2(npages) : 1;
    const highExcl = limitPfn + 1;
    // k = last range starting below the limit
    let a = 0;
    let b = this.n;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (this.lo[m] < highExcl) a = m + 1;
      else b = m;
    }
    let top = highExcl;
    for (let i = a - 1; ; i--) {
      const bottom = i >= 0 ? this.hi[i] + 1 : this.startPfn;
      if (top - npages >= bottom) {
        let cand = top - npages;
        if (modulus > 1) cand -= (((cand - residue) % modulus) + modulus) % modulus;
        else cand -= cand % align;
        if (cand >= bottom) {
          this.insertAt(i + 1, cand, cand + npages - 1, ALLOCATED);
          return cand;
        }
      }
      if (i < 0) return -1;
      top = Math.min(top, this.lo[i]);
    }
  }

  /**
   * alloc_iova_fast: rounds sizes below 32 pages up to a power of two, tries the range cache,
   * then the tree (size-aligned); on failure with `flushRcache` frees every cached range and
   * retries once.
   * @returns The first frame, or -1 when nothing fits.
   * Cost: O(cache depth) on a cache hit, else as {@link allocIova}.
   */
  allocIovaFast(npages: number, limitPfn: number, flushRcache: boolean): number {
    checkCount("IOVA pages", npages, 2 ** 40);
    if (npages < 2 ** (IOVA_RANGE_CACHE_MAX_SIZE - 1)) npages = roundUpPow2(Math.max(1, npages));
    const order = orderBase2(npages);
    if (order < IOVA_RANGE_CACHE_MAX_SIZE) {
      const c = this.cache[order];
      // iova_magazine_pop: the most recent entry that fits below the limit, swapped out. The
      // kernel compares only the start pfn with limit_pfn + 1; the model checks the whole range.
      for (let i = this.cacheLen[order] - 1; i >= 0; i--) {
        if (c[i] + npages - 1 <= limitPfn) {
          const pfn = c[i];
          c[i] = c[--this.cacheLen[order]];
          this.rcacheHits++;
          return pfn;
        }
      }
    }
    const pfn = this.allocIova(npages, limitPfn, true);
    if (pfn >= 0 || !flushRcache) return pfn;
    this.flushRcache();
    return this.allocIova(npages, limitPfn, true);
  }

  /**
   * free_iova: releases the allocated range starting at `pfn`.
   * @throws DmaApiError "IOVA_NOT_ALLOCATED" when no allocated range starts there.
   * Cost: O(log n + n).
   */
  freeIova(pfn: number): void {
    const i = this.find(pfn);
    if (i < 0 || this.lo[i] !== pfn || this.kind[i] !== ALLOCATED) {
      throw new DmaApiError(
        "IOVA_NOT_ALLOCATED",
        `Cannot free IOVA pfn ${hex(pfn)}: no allocated range starts there`,
      );
    }
    this.removeAt(i);
  }

  /**
   * free_iova_fast: a range of order 0..5 goes to the cache (staying allocated); others, and
   * ranges that find the cache full, are freed.
   * @throws DmaApiError "IOVA_NOT_ALLOCATED" as {@link freeIova}, before anything changes.
   * Cost: O(log n) into the cache, else O(log n + n).
   */
  freeIovaFast(pfn: number, npages: number): void {
    const i = this.find(pfn);
    if (i < 0 || this.lo[i] !== pfn || this.kind[i] !== ALLOCATED || this.isCached(pfn)) {
      throw new DmaApiError(
        "IOVA_NOT_ALLOCATED",
        `Cannot free IOVA pfn ${hex(pfn)}: no allocated range starts there`,
      );
    }
    const order = orderBase2(Math.max(1, npages));
    if (order < IOVA_RANGE_CACHE_MAX_SIZE && this.cacheLen[order] < this.rcacheDepth) {
      this.cache[order][this.cacheLen[order]++] = pfn;
      return;
    }
    this.removeAt(i);
  }

  /** Frees every cached range to the tree (free_cpu_cached_iovas). O(cached x n). */
  flushRcache(): void {
    for (let o = 0; o < IOVA_RANGE_CACHE_MAX_SIZE; o++) {
      for (let j = 0; j < this.cacheLen[o]; j++) this.removeAt(this.find(this.cache[o][j]));
      this.cacheLen[o] = 0;
    }
  }

  /**
   * reserve_iova: marks [loPfn, hiPfn] unusable (MSI window, PCI host-bridge windows).
   * Overlapping reserved ranges merge.
   * @throws RangeError when it overlaps an allocated range or lo > hi.
   * Cost: O(n).
   */
  reserveIova(loPfn: number, hiPfn: number): void {
    checkCount("reserve lo pfn", loPfn, 2 ** 52);
    checkCount("reserve hi pfn", hiPfn, 2 ** 52);
    if (hiPfn < loPfn)
      throw new RangeError(`IOVA reservation ${hex(loPfn)}..${hex(hiPfn)} is invalid: end before start`);
    let lo = loPfn;
    let hi = hiPfn;
    for (let i = 0; i < this.n; i++) {
      if (this.lo[i] <= hi && this.hi[i] >= lo && this.kind[i] === ALLOCATED) {
        throw new RangeError(
          `IOVA reservation ${hex(loPfn)}..${hex(hiPfn)} is invalid: overlaps an allocated range`,
        );
      }
    }
    for (let i = this.n - 1; i >= 0; i--) {
      if (this.lo[i] <= hi + 1 && this.hi[i] + 1 >= lo) {
        lo = Math.min(lo, this.lo[i]);
        hi = Math.max(hi, this.hi[i]);
        this.removeAt(i);
      }
    }
    let at = 0;
    while (at < this.n && this.lo[at] < lo) at++;
    this.insertAt(at, lo, hi, RESERVED);
  }

  /**
   * The range containing `pfn` as `{ lo, hi, reserved }`, or undefined. O(log n).
   */
  findIova(pfn: number): { lo: number; hi: number; reserved: boolean } | undefined {
    const i = this.find(pfn);
    if (i < 0 || this.hi[i] < pfn) return undefined;
    return { lo: this.lo[i], hi: this.hi[i], reserved: this.kind[i] === RESERVED };
  }

  /**
   * Verifies ranges are sorted, disjoint, at or above startPfn, and that cached frames are
   * allocated range starts of their order.
   * @throws Error naming the first broken invariant. O(n + cached log n).
   */
  checkValid(): void {
    for (let i = 0; i < this.n; i++) {
      if (this.hi[i] < this.lo[i]) throw new Error(`IOVA range ${i} ends before it starts`);
      if (i > 0 && this.lo[i] <= this.hi[i - 1])
        throw new Error(`IOVA ranges ${i - 1} and ${i} overlap or are unsorted`);
      if (this.kind[i] === ALLOCATED && this.lo[i] < this.startPfn)
        throw new Error(`IOVA range ${i} below start pfn`);
    }
    for (let o = 0; o < IOVA_RANGE_CACHE_MAX_SIZE; o++) {
      for (let j = 0; j < this.cacheLen[o]; j++) {
        const i = this.find(this.cache[o][j]);
        if (i < 0 || this.lo[i] !== this.cache[o][j] || this.kind[i] !== ALLOCATED)
          throw new Error(`cached IOVA ${hex(this.cache[o][j])} is not allocated`);
        if (orderBase2(this.hi[i] - this.lo[i] + 1) !== o)
          throw new Error(`cached IOVA ${hex(this.cache[o][j])} has the wrong order`);
      }
    }
  }

  private isCached(pfn: number): boolean {
    for (let o = 0; o < IOVA_RANGE_CACHE_MAX_SIZE; o++) {
      for (let j = 0; j < this.cacheLen[o]; j++) if (this.cache[o][j] === pfn) return true;
    }
    return false;
  }

  /** Index of the last range with lo <= pfn, or -1. */
  private find(pfn: number): number {
    let a = 0;
    let b = this.n;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (this.lo[m] <= pfn) a = m + 1;
      else b = m;
    }
    return a - 1;
  }

  private insertAt(i: number, lo: number, hi: number, kind: number): void {
    if (this.n === this.lo.length) {
      const cap = this.lo.length * 2;
      const l = new Float64Array(cap);
      l.set(this.lo);
      const h = new Float64Array(cap);
      h.set(this.hi);
      const k = new Uint8Array(cap);
      k.set(this.kind);
      this.lo = l;
      this.hi = h;
      this.kind = k;
    }
    this.lo.copyWithin(i + 1, i, this.n);
    this.hi.copyWithin(i + 1, i, this.n);
    this.kind.copyWithin(i + 1, i, this.n);
    this.lo[i] = lo;
    this.hi[i] = hi;
    this.kind[i] = kind;
    this.n++;
  }

  private removeAt(i: number): void {
    this.lo.copyWithin(i, i + 1, this.n);
    this.hi.copyWithin(i, i + 1, this.n);
    this.kind.copyWithin(i, i + 1, this.n);
    this.n--;
  }
}

/** order_base_2(n): ceil(log2(n)) for n >= 1. */
export function orderBase2(n: number): number {
  const l = ilog2(n);
  return 2 ** l === n ? l : l + 1;
}
