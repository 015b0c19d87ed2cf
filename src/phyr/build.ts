/**
 * Builders: a list from an array of page frame numbers (what GUP returns today, merged into runs
 * the way sg_alloc_table_from_pages() does, lib/scatterlist.c), the plain run-counting loop that
 * bounds it, and an entry-at-a-time builder that can merge contiguous entries.
 * The PFN run loops and their engine notes are in pfns.ts.
 */
import { ADDR_LIMIT, checkCount, hex, ilog2, isPow2, PAGE_SIZE } from "../core/index.js";
import { DEFAULT_CHUNK_CAPACITY, listWriter, PhyrList, type PhyrListOptions } from "./list.js";
import { PFN_LIMIT, runsCompact, runsCompactU32, runsFixed, runsSplit } from "./pfns.js";
import { checkEntry, checkFlags, checkProvider } from "./validate.js";

const W = listWriter();

export { PFN_LIMIT };

/** Largest chunk capacity {@link pfnChunkCapacity} picks: 8192 slots (64 KiB of compact words). */
export const PFN_CHUNK_CAPACITY_MAX = 8192;

/**
 * The chunk capacity phyrFromPfns uses when the caller names none: DEFAULT_CHUNK_CAPACITY (512),
 * raised for a large input to the largest power of two <= npages / 256, at most
 * {@link PFN_CHUNK_CAPACITY_MAX}. A list of npages single pages needs npages slots, so one chunk is
 * at most 1/256 of the largest list the input can give, and the list's ramp (8, 16, 32, ... slots)
 * keeps a list of long runs small. Fewer, larger chunks mean fewer ArrayBuffer allocations: with
 * 512-slot chunks a 16M-page build spent about a fifth of its time opening chunks. O(1).
 * @param npages length of the PFN array.
 */
export function pfnChunkCapacity(npages: number): number {
  const est = npages / 256;
  if (!(est >= 2 * DEFAULT_CHUNK_CAPACITY)) return DEFAULT_CHUNK_CAPACITY;
  return Math.min(PFN_CHUNK_CAPACITY_MAX, 2 ** ilog2(Math.floor(est)));
}

/** Options of {@link phyrFromPfns}. */
export interface FromPfnsOptions extends PhyrListOptions {
  /** 8-byte slots (compact) or entries (wide) per chunk; default pfnChunkCapacity(pfns.length), minimum 2. */
  chunkCapacity?: number;
  /** Flags of every entry (default 0). */
  flags?: number;
  /** Provider of every entry, or a function of the PFN; a provider change breaks a run. Default 0. */
  provider?: number | ((pfn: number) => number);
  /** Largest entry in bytes, rounded down to PAGE_SIZE (sg max_segment); default unlimited. */
  maxSegment?: number;
  /** No entry crosses a (mask + 1)-aligned boundary (block seg_boundary_mask); mask + 1 a power of two >= 4096. */
  segBoundaryMask?: number;
  /** Byte offset into the first page (0..4095), default 0. */
  firstOffset?: number;
  /** Total length in bytes (trims the last page); default pages * 4096 - firstOffset. */
  totalBytes?: number;
}

/**
 * Builds a list from page frame numbers, merging pfn[i] == pfn[i-1] + 1 (same provider) into one
 * entry, splitting at maxSegment and segBoundaryMask, and trimming the first page by firstOffset and
 * the last page to totalBytes (lib/scatterlist.c sg_alloc_table_from_pages_segment: max_segment is
 * counted in whole pages, only the first entry has an offset). O(pages), no allocation per PFN.
 * @param pfns page frame numbers, each an integer below 2^40.
 * @returns a new list (store and chunkCapacity from `opts`; chunkCapacity defaults to
 * {@link pfnChunkCapacity}(pfns.length)).
 * @throws RangeError naming a bad PFN or option.
 *
 * @example
 * ```ts
 * phyrFromPfns([1, 2, 3, 10], { firstOffset: 0x10 }).toArray();
 * // [{ addr: 0x1010, len: 0x2ff0, flags: 0, provider: 0 }, { addr: 0xa000, len: 0x1000, flags: 0, provider: 0 }]
 * ```
 */
export function phyrFromPfns(pfns: ArrayLike<number>, opts: FromPfnsOptions = {}): PhyrList {
  checkPfnArray(pfns);
  const n = pfns.length;
  const flags = opts.flags ?? 0;
  checkFlags("flags", flags);
  const prov = opts.provider ?? 0;
  if (typeof prov === "number") checkProvider("provider", prov);
  else if (typeof prov !== "function")
    throw new TypeError("provider must be a number or a function of the PFN");
  let maxPages = Number.POSITIVE_INFINITY;
  if (opts.maxSegment !== undefined) {
    checkCount("maxSegment", opts.maxSegment);
    if (opts.maxSegment < PAGE_SIZE) {
      throw new RangeError(
        `maxSegment ${hex(opts.maxSegment)} is invalid: below PAGE_SIZE ${hex(PAGE_SIZE)}`,
      );
    }
    maxPages = Math.floor(opts.maxSegment / PAGE_SIZE);
  }
  let boundaryPages = Number.POSITIVE_INFINITY;
  if (opts.segBoundaryMask !== undefined) {
    const m = opts.segBoundaryMask;
    if (!Number.isInteger(m) || m < PAGE_SIZE - 1 || m >= ADDR_LIMIT || !isPow2(m + 1)) {
      throw new RangeError(`segBoundaryMask ${String(m)} is invalid: expected 2^k - 1 with 12 <= k <= 52`);
    }
    boundaryPages = (m + 1) / PAGE_SIZE;
  }
  const first = opts.firstOffset ?? 0;
  checkCount("firstOffset", first, PAGE_SIZE - 1);
  const full = n * PAGE_SIZE - first;
  const total = opts.totalBytes ?? (n === 0 ? 0 : full);
  checkCount("totalBytes", total);
  if (n === 0 ? total !== 0 : total > full || total <= full - PAGE_SIZE) {
    throw new RangeError(
      `totalBytes ${hex(total)} is invalid: ${n} pages from offset ${hex(first)} need more than ${hex(Math.max(0, full - PAGE_SIZE))} and at most ${hex(Math.max(0, full))}`,
    );
  }
  const list = new PhyrList({
    store: opts.store,
    chunkCapacity: opts.chunkCapacity ?? pfnChunkCapacity(n),
  });
  if (n === 0) return list;
  if (
    typeof prov === "number" &&
    maxPages === Number.POSITIVE_INFINITY &&
    boundaryPages === Number.POSITIVE_INFINITY
  ) {
    if (list.store === "compact" && prov <= 0xfff) {
      if (pfns instanceof Uint32Array) runsCompactU32(list, pfns, flags, prov);
      else runsCompact(list, pfns, flags, prov);
    } else runsFixed(list, pfns, flags, prov);
  } else {
    runsSplit(list, pfns, flags, prov, maxPages, boundaryPages);
  }
  W.trim(list, first, full - total);
  return list;
}

/**
 * Counts runs of consecutive PFNs (pfn[i] == pfn[i-1] + 1) with the plain loop: the memory
 * bandwidth limit phyrFromPfns is measured against. O(n), no allocation.
 * @returns the number of runs (0 for an empty array).
 */
export function countRuns(pfns: ArrayLike<number>): number {
  const n = pfns.length;
  if (n === 0) return 0;
  let runs = 1;
  let prev = pfns[0];
  for (let i = 1; i < n; i++) {
    const p = pfns[i];
    if (p !== prev + 1) runs++;
    prev = p;
  }
  return runs;
}

/** Options of {@link PhyrBuilder}. */
export interface PhyrBuilderOptions extends PhyrListOptions {
  /** Merge an entry into the previous one when physically contiguous with equal flags and provider. */
  merge?: boolean;
}

/**
 * Builds a list entry by entry, optionally merging contiguous entries (equal flags and provider).
 * `add` is O(1) amortised; `finish()` hands over the list (zero copy) and starts a new one.
 */
export class PhyrBuilder {
  private list: PhyrList;
  private readonly opts: PhyrBuilderOptions;
  private has = false;
  private pAddr = 0;
  private pLen = 0;
  private pFlags = 0;
  private pProv = 0;

  /** @throws TypeError / RangeError for bad list options. */
  constructor(opts: PhyrBuilderOptions = {}) {
    this.opts = { ...opts };
    this.list = new PhyrList(opts);
  }

  /** Entries added so far, counting a merged run once. O(1). */
  get nents(): number {
    return this.list.nents + (this.has ? 1 : 0);
  }

  /**
   * Adds an entry (merged into the previous one when `merge` is set and it continues it). O(1).
   * @returns this, for chaining.
   * @throws RangeError for a bad range, flags or provider, or a total beyond 2^53 - 1 (builder unchanged).
   */
  add(addr: number, len: number, flags = 0, provider = 0): this {
    checkEntry(addr, len, flags, provider);
    if (!this.opts.merge) {
      W.checkGrow(this.list, len);
      W.push(this.list, addr, len, flags, provider);
      return this;
    }
    W.checkGrow(this.list, (this.has ? this.pLen : 0) + len);
    if (this.has && this.pAddr + this.pLen === addr && this.pFlags === flags && this.pProv === provider) {
      this.pLen += len;
      return this;
    }
    this.flush();
    this.has = true;
    this.pAddr = addr;
    this.pLen = len;
    this.pFlags = flags;
    this.pProv = provider;
    return this;
  }

  /** Returns the built list and starts a new empty one. O(1). */
  finish(): PhyrList {
    this.flush();
    const out = this.list;
    this.list = new PhyrList(this.opts);
    return out;
  }

  private flush(): void {
    if (!this.has) return;
    W.push(this.list, this.pAddr, this.pLen, this.pFlags, this.pProv);
    this.has = false;
  }
}

/**
 * Shape check of a PFN array: a typed array, or an array whose entries are all numbers (a string
 * such as "123", or ["1"], would otherwise be read through coercion). O(n) for plain arrays,
 * O(1) for typed arrays.
 * @throws TypeError naming the first entry that is not a number
 */
function checkPfnArray(pfns: ArrayLike<number>): void {
  if (ArrayBuffer.isView(pfns)) return;
  if (!Array.isArray(pfns))
    throw new TypeError(
      `pfns ${typeof pfns === "string" ? JSON.stringify(pfns) : typeof pfns} is invalid: expected an array or typed array of numbers`,
    );
  for (let i = 0; i < pfns.length; i++) {
    if (typeof pfns[i] !== "number")
      throw new TypeError(
        `pfns[${i}] ${JSON.stringify(pfns[i])} is invalid: expected a number, got ${typeof pfns[i]}`,
      );
  }
}
