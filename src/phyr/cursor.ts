/**
 * The byte cursor over a PhyrList (like the kernel's bvec_iter, include/linux/bvec.h): a small
 * position `{ segment, entry, offset }` kept apart from the data, advancing by bytes. Reading a
 * field or moving allocates nothing; nextEntry() is O(1) and advance(bytes) is O(entries crossed).
 */
import { checkCount, hex } from "../core/index.js";
import { EntrySlot, type SegmentSource } from "./chunk.js";
import type { PhyrCursor } from "./types.js";

/** A reusable cursor over one list (see {@link PhyrCursor}). Create it with `list.cursor()`. */
export class ListCursor implements PhyrCursor {
  done = true;
  index = 0;
  offset = 0;
  entryAddr = 0;
  entryLen = 0;
  flags = 0;
  provider = 0;
  position = 0;
  private seg = 0;
  private k = 0;
  private pos = 0;
  private next = 0;
  private readonly slot = new EntrySlot();

  /** @param list the list to walk; the cursor starts at its first byte. */
  constructor(private readonly list: SegmentSource) {
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
    this.k = 0;
    const segs = this.list._segs;
    if (segs.length === 0) {
      this.finish();
      return;
    }
    this.done = false;
    this.pos = segs[0].from;
    this.load();
  }

  /** Moves to the start of the next entry; done after the last. O(1). */
  nextEntry(): void {
    if (this.done) return;
    this.position += this.entryLen - this.offset;
    this.offset = 0;
    this.index++;
    const segs = this.list._segs;
    if (this.k + 1 < segs[this.seg].n) {
      this.k++;
      this.pos = this.next;
      this.load();
      return;
    }
    this.seg++;
    this.k = 0;
    if (this.seg >= segs.length) {
      this.finish();
      return;
    }
    this.pos = segs[this.seg].from;
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

  private load(): void {
    const s = this.list._segs[this.seg];
    const slot = this.slot;
    this.next = s.chunk.decode(this.pos, slot);
    let addr = slot.addr;
    let len = slot.len;
    if (this.k === 0) {
      addr += s.head;
      len -= s.head;
    }
    if (this.k === s.n - 1) len -= s.tail;
    this.entryAddr = addr;
    this.entryLen = len;
    this.flags = slot.flags;
    this.provider = slot.provider;
  }

  private finish(): void {
    this.done = true;
    this.entryAddr = 0;
    this.entryLen = 0;
    this.flags = 0;
    this.provider = 0;
    this.offset = 0;
  }
}
