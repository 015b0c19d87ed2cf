/**
 * DmaList: the output of mapping (inputs and outputs are different types: CPU ranges in, DMA out). It reads
 * like a PhyrList -- it is one, held privately as storage in the wide store -- but its addresses are
 * DMA/IOVA addresses, and it records how it was produced. Only dma/ builds it, with a
 * {@link DmaListBuilder} (exported from this module, not from dma/index.ts): the builder appends,
 * `finish()` hands over the list, and a finished DmaList is only read.
 */
import {
  type EntryVisitor,
  type PhyrCursor,
  type PhyrEntry,
  PhyrList,
  type PhyrRead,
  type PhyrStoreKind,
} from "../phyr/index.js";
import type { DmaMapKind } from "./types.js";

// Set by DmaList's static block: how a builder wraps its finished ranges (this module only).
let wrap: (kind: DmaMapKind, ranges: PhyrList) => DmaList;

/**
 * A mapped range list of DMA addresses, made by dmaMap() (there is no public constructor). Reads
 * cost what the underlying wide PhyrList costs.
 */
export class DmaList implements PhyrRead {
  /**
   * @param kind how the list was produced.
   * @param ranges the DMA ranges; never handed out, so nobody can append to a finished list.
   */
  private constructor(
    readonly kind: DmaMapKind,
    private readonly ranges: PhyrList,
  ) {}

  static {
    wrap = (kind, ranges) => new DmaList(kind, ranges);
  }

  /** Always "wide": DMA addresses are arbitrary byte ranges. */
  get store(): PhyrStoreKind {
    return this.ranges.store;
  }

  /** Number of DMA ranges (the kernel's `nents` after mapping). O(1). */
  get nents(): number {
    return this.ranges.nents;
  }

  /** Sum of range lengths. O(1). */
  get totalBytes(): number {
    return this.ranges.totalBytes;
  }

  /** Bytes of storage. O(chunks). */
  get byteSize(): number {
    return this.ranges.byteSize;
  }

  /** A fresh byte cursor. O(1). */
  cursor(): PhyrCursor {
    return this.ranges.cursor();
  }

  /** Range `i`. O(log chunks). @throws RangeError */
  entry(i: number): PhyrEntry {
    return this.ranges.entry(i);
  }

  /**
   * Calls `fn(dma, len, flags, provider, index)` per range without allocating; `false` stops.
   * O(n). @returns false when `fn` stopped the walk
   */
  forEachEntry(fn: EntryVisitor): boolean {
    return this.ranges.forEachEntry(fn);
  }

  /** Ranges through one refilled object (`reused`) or a new object per step. O(1) per step. */
  entries(reused?: PhyrEntry): IterableIterator<PhyrEntry> {
    return this.ranges.entries(reused);
  }

  /** Every range as an object. O(n). */
  toArray(): PhyrEntry[] {
    return this.ranges.toArray();
  }

  /** Iterates ranges as objects. */
  [Symbol.iterator](): IterableIterator<PhyrEntry> {
    return this.ranges.entries();
  }

  /** Verifies the storage invariants. O(n). @throws Error */
  checkValid(): void {
    this.ranges.checkValid();
  }
}

/**
 * Builds one DmaList (dma/ only: dmaMap's direct and IOMMU paths). `push` is O(1) amortised and
 * checks the range like PhyrList.append; `finish(kind)` hands over the list (zero copy) and starts
 * a new empty one, so a finished list never changes.
 */
export class DmaListBuilder {
  private ranges: PhyrList;

  /**
   * @param chunkCapacity entries per storage chunk (small in tests so chaining runs).
   * @throws RangeError for a bad chunkCapacity.
   */
  constructor(private readonly chunkCapacity?: number) {
    this.ranges = new PhyrList({ store: "wide", chunkCapacity });
  }

  /** DMA ranges pushed since the last finish. O(1). */
  get nents(): number {
    return this.ranges.nents;
  }

  /**
   * Appends one DMA range. O(1) amortised.
   * @throws RangeError for a bad range, flags or provider (builder unchanged).
   */
  push(dma: number, len: number, flags: number, provider: number): void {
    this.ranges.append(dma, len, flags, provider);
  }

  /** The built list, labelled with how it was produced; the builder starts over empty. O(1). */
  finish(kind: DmaMapKind): DmaList {
    const out = wrap(kind, this.ranges);
    this.ranges = new PhyrList({ store: "wide", chunkCapacity: this.chunkCapacity });
    return out;
  }
}
