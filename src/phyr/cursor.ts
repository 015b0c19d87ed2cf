/**
 * The byte cursor over a PhyrList (like the kernel's bvec_iter, include/linux/bvec.h): a small
 * position `{ segment, entry, offset }` kept apart from the data, advancing by bytes. Reading a
 * field or moving allocates nothing; nextEntry() is O(1) and advance(bytes) is O(entries crossed).
 *
 * Engine notes (V8), measured on the dma and phyr benches:
 * - Address, length, offset and position fields start as -0 so they are doubles from the first
 *   cursor on; a field that starts as a small integer changes representation when the first
 *   address above 2^31 is stored, and the code that stores it deoptimises.
 * - The cursor keeps the current chunk's word array (compact) or the chunk (wide) and reads it
 *   directly (decodeCompact, or the wide arrays): no polymorphic `chunk.decode` call per entry.
 * - The current segment's entry count and trims are read live, so a cursor over a list that is
 *   still being appended to sees the new entries, as before.
 */
import { checkCount, hex } from "../core/index.js";
import { EntrySlot, type Segment } from "./chunk.js";
import { type CompactChunk, decodeCompact } from "./compact.js";
import type { PhyrCursor, PhyrEntry } from "./types.js";
import type { WideChunk } from "./wide.js";

/** A reusable cursor over one list (see {@link PhyrCursor}). Create it with `list.cursor()`. */
export class ListCursor implements PhyrCursor {
  done = true;
  index = 0;
  offset = -0;
  entryAddr = -0;
  entryLen = -0;
  flags = 0;
  provider = 0;
  position = -0;
  /** Index of the current segment in the list. */
  private seg = 0;
  /** The current segment (undefined when done). */
  private cur: Segment | undefined = undefined;
  /** Its chunk's words when the chunk is compact, else undefined. */
  private words: Uint32Array | undefined = undefined;
  /** Its chunk when the chunk is wide, else undefined. */
  private wide: WideChunk | undefined = undefined;
  /** Entry number inside the current segment. */
  private k = 0;
  /** Chunk position of the current entry and of the one after it. */
  private pos = 0;
  private next = 0;
  private readonly slot = new EntrySlot();

  /**
   * @param segs the list's live segment array (read, never written); the cursor starts at its first byte.
   * @param list the list itself, for its total.
   */
  constructor(
    private readonly segs: readonly Segment[],
    private readonly list: { readonly totalBytes: number },
  ) {
    this.reset();
  }

  /** Address of the current byte. O(1). */
  get addr(): number {
    return this.entryAddr + this.offset;
  }

  /** Bytes left in the current entry. O(1). */
  get remaining(): number {
    return this.entryLen - this.offset;
  }

  /** Back to the first byte. O(1). */
  reset(): void {
    this.index = 0;
    this.offset = 0;
    this.position = 0;
    this.seg = 0;
    if (this.segs.length === 0) {
      this.finish();
      return;
    }
    this.done = false;
    this.enter();
    this.load();
  }

  /** Moves to the start of the next entry; done after the last. O(1). */
  nextEntry(): void {
    if (this.done) return;
    this.position += this.entryLen - this.offset;
    this.offset = 0;
    this.index++;
    if (this.k + 1 < (this.cur as Segment).n) {
      this.k++;
      this.pos = this.next;
      this.load();
      return;
    }
    this.seg++;
    if (this.seg >= this.segs.length) {
      this.finish();
      return;
    }
    this.enter();
    this.load();
  }

  /**
   * Moves forward by `bytes`, crossing entries; reaching the last byte's end makes it done.
   * O(entries crossed).
   * @throws RangeError for a negative or fractional count, or one past the end (cursor unchanged).
   */
  advance(bytes: number): void {
    checkCount("cursor advance", bytes);
    const left = this.list.totalBytes - this.position;
    if (bytes > left) {
      throw new RangeError(`cursor advance ${hex(bytes)} is out of bounds: only ${hex(left)} bytes remain`);
    }
    while (bytes > 0) {
      const rem = this.entryLen - this.offset;
      if (bytes < rem) {
        this.offset += bytes;
        this.position += bytes;
        return;
      }
      bytes -= rem;
      this.nextEntry();
    }
  }

  /** Makes segment `seg` current, at its first entry. */
  private enter(): void {
    const s = this.segs[this.seg];
    this.cur = s;
    this.k = 0;
    this.pos = s.from;
    const c = s.chunk;
    if (c.kind === "compact") {
      this.words = (c as CompactChunk).words;
      this.wide = undefined;
    } else {
      this.words = undefined;
      this.wide = c as WideChunk;
    }
  }

  /** Decodes entry `k` of the current segment (at `pos`) into the public fields, trimmed. */
  private load(): void {
    const s = this.cur as Segment;
    const w = this.words;
    const p = this.pos;
    let addr: number;
    let len: number;
    if (w !== undefined) {
      const slot = this.slot;
      this.next = decodeCompact(w, p, slot);
      addr = slot.addr;
      len = slot.len;
      this.flags = slot.flags;
      this.provider = slot.provider;
    } else {
      const c = this.wide as WideChunk;
      this.next = p + 1;
      addr = c.addr[p];
      len = c.len[p];
      this.flags = c.flags[p];
      this.provider = c.provider[p];
    }
    if (this.k === 0) {
      addr += s.head;
      len -= s.head;
    }
    if (this.k === s.n - 1) len -= s.tail;
    this.entryAddr = addr;
    this.entryLen = len;
  }

  private finish(): void {
    this.done = true;
    this.cur = undefined;
    this.words = undefined;
    this.wide = undefined;
    this.entryAddr = 0;
    this.entryLen = 0;
    this.flags = 0;
    this.provider = 0;
    this.offset = 0;
  }
}

/**
 * The iterator of `list.entries(reused)` and `for (const e of list)`: one cursor, and either one
 * refilled entry object (`reused`, as sorted-btree's `entries(low, reusedArray)`) or one new object
 * per step. A class, not a generator: V8 runs a plain `next()` several times faster than a
 * generator resume. The cursor moves lazily, at the step after an entry was returned, as a
 * generator would.
 */
export class EntryIterator implements IterableIterator<PhyrEntry> {
  private readonly c: ListCursor;
  private started = false;

  /**
   * @param segs the list's live segment array; @param list the list (for its total).
   * @param reused the object each step refills; absent: a new object per step.
   */
  constructor(
    segs: readonly Segment[],
    list: { readonly totalBytes: number },
    private readonly reused?: PhyrEntry,
  ) {
    this.c = new ListCursor(segs, list);
  }

  /** The next entry (the reused object refilled, or a new one), or done. O(1). */
  next(): IteratorResult<PhyrEntry> {
    const c = this.c;
    if (this.started) c.nextEntry();
    else this.started = true;
    if (c.done) return { done: true, value: undefined };
    const e = this.reused;
    if (e === undefined)
      return {
        done: false,
        value: { addr: c.entryAddr, len: c.entryLen, flags: c.flags, provider: c.provider },
      };
    e.addr = c.entryAddr;
    e.len = c.entryLen;
    e.flags = c.flags;
    e.provider = c.provider;
    return { done: false, value: e };
  }

  /** Itself (an iterator is iterable). */
  [Symbol.iterator](): EntryIterator {
    return this;
  }
}
