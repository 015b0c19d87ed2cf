/**
 * DmaList: the output of mapping (inputs and outputs are different types: CPU ranges in, DMA out). It reads
 * like a PhyrList -- it is one, held privately as storage in the wide store -- but its addresses are
 * DMA/IOVA addresses, and it records how it was produced. Only dma/ builds it; callers read it.
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

/** A mapped range list of DMA addresses. Reads cost what the underlying wide PhyrList costs. */
export class DmaList implements PhyrRead {
  /** @internal the DMA ranges; never handed out, so nobody can append CPU addresses to it. */
  private readonly ranges: PhyrList;

  /**
   * @param kind how the list was produced.
   * @param chunkCapacity entries per storage chunk (small in tests so chaining runs).
   */
  constructor(
    readonly kind: DmaMapKind,
    chunkCapacity?: number,
  ) {
    this.ranges = new PhyrList({ store: "wide", chunkCapacity });
  }

  /** @internal appends one DMA range (dma/ only). O(1) amortised. */
  _push(dma: number, len: number, flags: number, provider: number): void {
    this.ranges.append(dma, len, flags, provider);
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
