/**
 * Internal building blocks shared by both stores: the fixed-capacity chunk interface, the
 * reusable decode slot, and the segment (a window over one chunk) that lists and views are made of.
 *
 * A list is an array of segments; a segment covers positions [from, to) of one chunk and trims
 * `head` bytes from the start of its first entry and `tail` bytes from the end of its last. Views
 * and concatenations build new segment arrays over the same chunks (zero copy). Positions are entry
 * indices in a wide chunk and u32 word offsets in a compact chunk.
 */
import type { PhyrStoreKind } from "./types.js";

/**
 * Scratch target of {@link Chunk.decode}: one entry's raw (untrimmed) fields. No allocation per use.
 * `addr` and `len` start as -0 so their fields are doubles from the first slot on (see the engine
 * note on {@link Segment}): addresses pass 2^31 at once in any real list.
 */
export class EntrySlot {
  addr = -0;
  len = -0;
  flags = 0;
  provider = 0;
}

/** Fixed-capacity typed storage of one store. Entries are only ever appended at `used`. */
export interface Chunk {
  /** Which store layout this chunk has. */
  readonly kind: PhyrStoreKind;
  /** Capacity: entries (wide) or 8-byte slots (compact). */
  readonly capacity: number;
  /** Positions in use: entries (wide) or u32 words (compact). */
  used: number;
  /** Position limit: capacity (wide) or 2 * capacity (compact). */
  readonly limit: number;
  /** The list allowed to append to this chunk (the one that opened it). */
  readonly owner: object;
  /** Storage bytes of the chunk (capacity, not just the used part). */
  readonly byteSize: number;
  /** Reads the entry at `pos` into `out`; returns the position of the next entry. O(1). */
  decode(pos: number, out: EntrySlot): number;
}

/**
 * A window [from, to) over one chunk with trimmed first/last entry and cached totals.
 *
 * Engine note: `bytes` and `byteStart` pass 2^31 in a large list. They start as -0 (a double) so
 * V8 gives the fields a double representation from the first Segment on; starting as a small
 * integer, the first large value changes the field representation and deoptimises the code that
 * stores it, again after every GC that collects every Segment (the new maps start small again).
 */
export class Segment {
  /** Sum of trimmed entry lengths. */
  bytes = -0;
  /** Bytes of the list before this segment. */
  byteStart = -0;

  constructor(
    /** The chunk holding the entries. */
    readonly chunk: Chunk,
    /** First position (entry index or word offset). */
    public from: number,
    /** End position (exclusive). */
    public to: number,
    /** Entries in the window. */
    public n: number,
    bytes: number,
    /** Bytes trimmed from the start of the first entry. */
    public head: number,
    /** Bytes trimmed from the end of the last entry. */
    public tail: number,
    /** Entries of the list before this segment. */
    public entStart: number,
    byteStart: number,
  ) {
    this.bytes = bytes;
    this.byteStart = byteStart;
  }

  /** Copy placed at a new list position (segments are never shared between lists). */
  moved(entStart: number, byteStart: number): Segment {
    return new Segment(
      this.chunk,
      this.from,
      this.to,
      this.n,
      this.bytes,
      this.head,
      this.tail,
      entStart,
      byteStart,
    );
  }
}
