/**
 * The PhyrList contract: entry flags, the read interface every store implements, and the cursor.
 *
 * An entry is `{ addr, len, flags, provider }`: a CPU physical byte range (or, in a DmaList, a
 * DMA/IOVA range), how its pages were taken, and the P2P provider index (0 = ordinary memory).
 */

/** Per-entry flags. PINNED and REF are exclusive (how GUP took the pages: FOLL_PIN or FOLL_GET). */
export const PhyrFlag = {
  /** Pages taken with FOLL_PIN: release with unpin_user_page(). */
  PINNED: 1,
  /** Pages taken with a plain reference (FOLL_GET): release with put_page(). */
  REF: 2,
  /** The address is a PCI bus address (P2P mapped as BUS_ADDR; SG_DMA_BUS_ADDRESS). */
  BUS_ADDR: 4,
  /** MMIO memory (a BAR): never bounced, no cache maintenance (DMA_ATTR_MMIO). */
  MMIO: 8,
  /** Written by the device: unpin marks the folios dirty. */
  DIRTY: 16,
} as const;

/** Mask of every defined flag bit. */
export const PHYR_FLAG_MASK = 31;
/** Largest provider index a list can carry. */
export const MAX_PROVIDER = 0xffff;

/** One entry, as returned by the convenience accessors (hot paths use a {@link PhyrCursor}). */
export interface PhyrEntry {
  addr: number;
  len: number;
  flags: number;
  provider: number;
}

/** Which storage a list uses. */
export type PhyrStoreKind = "wide" | "compact";

/**
 * A reusable position in a list that advances by bytes, like the kernel's bvec_iter. Reading a
 * field or advancing allocates nothing.
 */
export interface PhyrCursor {
  /** True when the cursor is past the last byte. */
  readonly done: boolean;
  /** Index of the current entry (0-based, over the whole list). */
  readonly index: number;
  /** Byte offset into the current entry. */
  readonly offset: number;
  /** Address of the current byte: entry address + offset. */
  readonly addr: number;
  /** Bytes left in the current entry from the current byte. */
  readonly remaining: number;
  /** Start address of the current entry. */
  readonly entryAddr: number;
  /** Length of the current entry. */
  readonly entryLen: number;
  /** Flags of the current entry. */
  readonly flags: number;
  /** Provider index of the current entry. */
  readonly provider: number;
  /** Bytes from the start of the list to the current byte. */
  readonly position: number;
  /**
   * Moves forward by `bytes` (may cross entries). O(entries crossed).
   * @throws RangeError when it would move past the end.
   */
  advance(bytes: number): void;
  /** Moves to the start of the next entry (done after the last). O(1). */
  nextEntry(): void;
  /** Back to the first byte. O(1). */
  reset(): void;
}

/**
 * The callback of {@link PhyrRead.forEachEntry}: one entry's fields and its index; return `false`
 * to stop the walk (any other value, or none, goes on).
 */
export type EntryVisitor = (
  addr: number,
  len: number,
  flags: number,
  provider: number,
  index: number,
) => unknown;

/** The read interface shared by every store and every view. */
export interface PhyrRead extends Iterable<PhyrEntry> {
  /** Which store holds the entries. */
  readonly store: PhyrStoreKind;
  /** Number of entries. O(1). */
  readonly nents: number;
  /** Sum of entry lengths. O(1). */
  readonly totalBytes: number;
  /** Memory the list occupies in bytes: storage of every chunk it references plus headers. O(chunks). */
  readonly byteSize: number;
  /** A fresh cursor at the first byte. */
  cursor(): PhyrCursor;
  /**
   * Calls `fn` for each entry in order, allocating nothing per entry; `fn` returning `false`
   * stops the walk. O(n), O(k) when stopped at the k-th entry.
   * @returns false when `fn` stopped the walk, true when every entry was visited
   */
  forEachEntry(fn: EntryVisitor): boolean;
  /**
   * An iterator over the entries that refills one entry object per step: `reused` when given
   * (no allocation per entry; keep no reference to it across steps), a new object per step
   * otherwise (what `for (const e of list)` uses). O(1) per step.
   */
  entries(reused?: PhyrEntry): IterableIterator<PhyrEntry>;
  /** Entry `i` as an object. O(log chunks) for wide, O(log chunks + chunk capacity) for compact. @throws RangeError */
  entry(i: number): PhyrEntry;
  /** Verifies every invariant in O(n). @throws Error describing the first broken invariant. */
  checkValid(): void;
}
