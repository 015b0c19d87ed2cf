/**
 * An IOTLB model: a set-associative cache of leaf translations with LRU replacement, hit and miss
 * counters and reach (bytes covered by valid entries).
 *
 * Each entry caches one leaf page (any size). The set of a page is (pageIova / pgsize) mod sets,
 * so a lookup probes one set per page size currently held (a model choice: real IOTLBs split
 * sizes in implementation-specific ways). Storage is struct-of-arrays; nothing is allocated per
 * lookup. Costs: lookup O(sizes held x ways), fill O(ways), invalidateRange O(entries),
 * invalidateAll O(entries).
 */
import { checkCount, hex, ilog2 } from "../core/index.js";

/** IOTLB geometry. */
export interface IotlbOptions {
  /** Total entries (a multiple of `ways`); default 128. */
  entries?: number;
  /** Associativity; default 8. */
  ways?: number;
}

/** A set-associative IOTLB. */
export class Iotlb {
  /** Total entries. */
  readonly entries: number;
  /** Ways per set. */
  readonly ways: number;
  /** Number of sets. */
  readonly sets: number;
  /** Lookups that hit. */
  hits = 0;
  /** Lookups that missed. */
  misses = 0;
  /** Entries written by {@link fill}. */
  fills = 0;
  /** Valid entries replaced by {@link fill}. */
  evictions = 0;
  /** Entries dropped by invalidation. */
  invalidated = 0;
  /** Physical address of the last hit (read right after {@link lookup}). */
  lastPhys = 0;
  /** Prot bits of the last hit. */
  lastProt = 0;
  private readonly pageIova: Float64Array;
  private readonly pageBase: Float64Array;
  private readonly shift: Uint8Array;
  private readonly prot: Uint8Array;
  private readonly stamp: Float64Array;
  private readonly heldByShift = new Uint32Array(64);
  private clock = 0;

  /**
   * An empty IOTLB.
   * @throws RangeError when `entries` is not a positive multiple of `ways`.
   */
  constructor(opts: IotlbOptions = {}) {
    const entries = opts.entries ?? 128;
    const ways = opts.ways ?? 8;
    checkCount("IOTLB ways", ways, 1 << 16);
    checkCount("IOTLB entries", entries, 1 << 24);
    if (ways < 1 || entries < ways || entries % ways !== 0) {
      throw new RangeError(
        `IOTLB entries ${entries} is invalid: expected a positive multiple of ways ${ways}`,
      );
    }
    this.entries = entries;
    this.ways = ways;
    this.sets = entries / ways;
    this.pageIova = new Float64Array(entries);
    this.pageBase = new Float64Array(entries);
    this.shift = new Uint8Array(entries);
    this.prot = new Uint8Array(entries);
    this.stamp = new Float64Array(entries);
  }

  /** Number of valid entries. O(sizes). */
  get validCount(): number {
    let n = 0;
    for (let k = 0; k < 64; k++) n += this.heldByShift[k];
    return n;
  }

  /** Bytes covered by the valid entries. O(sizes). */
  get reach(): number {
    let n = 0;
    for (let k = 0; k < 64; k++) n += this.heldByShift[k] * 2 ** k;
    return n;
  }

  /**
   * Looks `iova` up; on a hit sets {@link lastPhys} / {@link lastProt} and refreshes LRU.
   * @returns True on a hit. Counts a hit or a miss. O(sizes held x ways).
   */
  lookup(iova: number): boolean {
    for (let k = 12; k < 64; k++) {
      if (this.heldByShift[k] === 0) continue;
      const size = 2 ** k;
      const page = iova - (iova % size);
      const first = (Math.floor(iova / size) % this.sets) * this.ways;
      for (let w = first; w < first + this.ways; w++) {
        if (this.shift[w] === k && this.pageIova[w] === page) {
          this.hits++;
          this.stamp[w] = ++this.clock;
          this.lastPhys = this.pageBase[w] + (iova - page);
          this.lastProt = this.prot[w];
          return true;
        }
      }
    }
    this.misses++;
    return false;
  }

  /**
   * Caches a leaf: `pgsize` bytes at `pageIova` -> `pageBase` with `prot`. Replaces the least
   * recently used way of its set when the set is full. O(ways).
   */
  fill(pageIova: number, pgsize: number, pageBase: number, prot: number): void {
    const k = ilog2(pgsize);
    const first = (Math.floor(pageIova / pgsize) % this.sets) * this.ways;
    let victim = first;
    for (let w = first; w < first + this.ways; w++) {
      if (this.shift[w] === 0) {
        victim = w;
        break;
      }
      if (this.stamp[w] < this.stamp[victim]) victim = w;
    }
    if (this.shift[victim] !== 0) {
      this.evictions++;
      this.heldByShift[this.shift[victim]]--;
    }
    this.shift[victim] = k;
    this.pageIova[victim] = pageIova;
    this.pageBase[victim] = pageBase;
    this.prot[victim] = prot;
    this.stamp[victim] = ++this.clock;
    this.heldByShift[k]++;
    this.fills++;
  }

  /**
   * Calls `fn` for every valid entry (page IOVA, page size, physical base, prot). O(entries).
   */
  forEachEntry(fn: (pageIova: number, pgsize: number, pageBase: number, prot: number) => void): void {
    for (let w = 0; w < this.entries; w++) {
      if (this.shift[w] !== 0) fn(this.pageIova[w], 2 ** this.shift[w], this.pageBase[w], this.prot[w]);
    }
  }

  /** Drops every entry overlapping [start, end] (end inclusive, like a gather). O(entries). */
  invalidateRange(start: number, end: number): void {
    for (let w = 0; w < this.entries; w++) {
      const k = this.shift[w];
      if (k === 0) continue;
      const p = this.pageIova[w];
      if (p <= end && p + 2 ** k - 1 >= start) this.drop(w);
    }
  }

  /** Drops every entry (flush_iotlb_all). O(entries). */
  invalidateAll(): void {
    for (let w = 0; w < this.entries; w++) if (this.shift[w] !== 0) this.drop(w);
  }

  /**
   * Verifies the per-size counters and that entries sit in their set and are aligned.
   * @throws Error naming the first broken invariant. O(entries).
   */
  checkValid(): void {
    const held = new Uint32Array(64);
    for (let w = 0; w < this.entries; w++) {
      const k = this.shift[w];
      if (k === 0) continue;
      held[k]++;
      const size = 2 ** k;
      if (this.pageIova[w] % size !== 0)
        throw new Error(`IOTLB entry ${w} at ${hex(this.pageIova[w])} not aligned to ${hex(size)}`);
      const set = Math.floor(this.pageIova[w] / size) % this.sets;
      if (Math.floor(w / this.ways) !== set) throw new Error(`IOTLB entry ${w} in the wrong set`);
    }
    for (let k = 0; k < 64; k++) {
      if (held[k] !== this.heldByShift[k])
        throw new Error(`IOTLB holds ${held[k]} entries of 2^${k}, counted ${this.heldByShift[k]}`);
    }
  }

  private drop(w: number): void {
    this.heldByShift[this.shift[w]]--;
    this.shift[w] = 0;
    this.invalidated++;
  }
}
