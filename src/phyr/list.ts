/**
 * PhyrList: a physical range list stored as chained fixed-capacity chunks (struct of arrays),
 * in one of two stores behind one read interface (see compact.ts and wide.ts).
 *
 * A list is an array of segments, each a window over one chunk with its first entry trimmed by
 * `head` bytes and its last by `tail` bytes (chunk.ts). Slices and concatenations build new
 * segment arrays over the same chunks: zero copy. A list appends into its last chunk only when it
 * opened that chunk and its last segment ends at the chunk's used end (and has no tail trim);
 * otherwise it opens a new chunk, so appending never changes a view or another list sharing chunks.
 * Chunk capacities ramp 8, 16, 32, ... up to `chunkCapacity`, so a short list stays small.
 *
 * byteSize = storage bytes of every distinct chunk referenced (capacity, not just the used part:
 * 8 B per slot compact, 19 B per entry wide) + 32 B per segment + 48 B for the list header.
 */
import { checkCount, hex } from "../core/index.js";
import { checkSegments } from "./check.js";
import { type Chunk, EntrySlot, Segment } from "./chunk.js";
import { CompactChunk, decodeCompact, encodeCompact } from "./compact.js";
import { EntryIterator, ListCursor } from "./cursor.js";
import { decodeEntry, segmentAt, sliceSegments } from "./locate.js";
import type { EntryVisitor, PhyrCursor, PhyrEntry, PhyrRead, PhyrStoreKind } from "./types.js";
import { checkChunkCapacity, checkEntry } from "./validate.js";
import { WideChunk } from "./wide.js";

/** Options of a new list. */
export interface PhyrListOptions {
  /** Storage layout; default "compact". */
  store?: PhyrStoreKind;
  /** 8-byte slots (compact) or entries (wide) per chunk; default 512, minimum 2. */
  chunkCapacity?: number;
}

/** Default chunk capacity: 512 slots = 4 KiB of compact words. */
export const DEFAULT_CHUNK_CAPACITY = 512;
/** Bytes charged per segment in {@link PhyrList.byteSize}. */
export const SEGMENT_BYTES = 32;
/** Bytes charged for the list header in {@link PhyrList.byteSize}. */
export const LIST_HEADER_BYTES = 48;
const FIRST_CHUNK = 8;
/** Largest totalBytes of a list: sums stay exact JS integers. */
export const MAX_LIST_BYTES = Number.MAX_SAFE_INTEGER;

/**
 * The append side of a {@link PhyrList}, for the builders only: `PhyrBuilder` and the PFN
 * run loops (build.ts, pfns.ts), the compact decoder (formats/compact.ts) and tests of the chunk
 * layout. Obtained with {@link listWriter}, which no layer index or entry point exports, so a
 * user of the library reads lists and appends only through the checked `append`. Each call is
 * O(1) (segments: the live array, not a copy) and checks nothing the caller must check:
 * push / pushEncoded take a validated entry after checkGrow.
 * @internal
 */
export interface ListWriter {
  /** Throws unless `bytes` more keep totalBytes a safe integer (list unchanged). */
  checkGrow(list: PhyrList, bytes: number): void;
  /** Appends a validated entry. */
  push(list: PhyrList, addr: number, len: number, flags: number, provider: number): void;
  /** Appends the entry left in compact ENC (`width` u32 words, `len` bytes); compact lists only. */
  pushEncoded(list: PhyrList, width: number, len: number): void;
  /** The segment whose chunk has room for `width` more positions at its used end. */
  tail(list: PhyrList, width: number): Segment;
  /** Records `n` entries of `bytes` written straight into `seg.chunk` up to position `used`. */
  commit(list: PhyrList, seg: Segment, used: number, n: number, bytes: number): void;
  /** Trims `head` bytes off the first entry and `tail` off the last (caller checked both). */
  trim(list: PhyrList, head: number, tail: number): void;
  /** The list's live segment array (read only). */
  segments(list: PhyrList): readonly Segment[];
}

let writer: ListWriter;

/**
 * The builders' writer of lists (see {@link ListWriter}). Exported from this module only, never
 * from phyr/index.ts. O(1).
 * @internal
 */
export function listWriter(): ListWriter {
  return writer;
}

/**
 * A range list; see the module comment for the storage design.
 *
 * @example
 * ```ts
 * const list = new PhyrList(); // compact store, 512-slot chunks
 * list.append(0x1000, 0x3000, PhyrFlag.PINNED);
 * list.append(0x200000, 0x200000, PhyrFlag.PINNED);
 * list.nents; // 2
 * list.totalBytes; // 0x203000
 * list.slice(0x2000, 0x2000).toArray();
 * // [{ addr: 0x3000, len: 0x1000, flags: 1, provider: 0 }, { addr: 0x200000, len: 0x1000, flags: 1, provider: 0 }]
 * const c = list.cursor();
 * c.advance(0x3800);
 * [c.index, c.offset, c.addr]; // [1, 0x800, 0x200800]
 * ```
 */
export class PhyrList implements PhyrRead {
  /** Which store holds the entries. */
  readonly store: PhyrStoreKind;
  /** Largest chunk capacity (slots or entries). */
  readonly chunkCapacity: number;
  /** Segments in list order; never shared with another list. */
  private readonly _segs: Segment[] = [];
  private _nents = 0;
  // -0: a double field from the start (see the engine note on Segment); reads as 0 once set.
  private _bytes = -0;
  private _opened = 0;
  private readonly _slot = new EntrySlot();

  /**
   * Creates an empty list.
   * @throws TypeError for an unknown store; RangeError for a bad chunkCapacity.
   */
  constructor(opts: PhyrListOptions = {}) {
    const store = opts.store ?? "compact";
    if (store !== "compact" && store !== "wide") {
      throw new TypeError(`store ${JSON.stringify(store)} is invalid: expected "compact" or "wide"`);
    }
    const cap = opts.chunkCapacity ?? DEFAULT_CHUNK_CAPACITY;
    checkChunkCapacity(cap);
    this.store = store;
    this.chunkCapacity = cap;
    this._bytes = 0;
  }

  /** Number of entries. O(1). */
  get nents(): number {
    return this._nents;
  }

  /** Sum of entry lengths in bytes. O(1). */
  get totalBytes(): number {
    return this._bytes;
  }

  /** Storage bytes of every distinct chunk referenced + 32 B per segment + 48 B header. O(chunks). */
  get byteSize(): number {
    const seen = new Set<Chunk>();
    let bytes = LIST_HEADER_BYTES + SEGMENT_BYTES * this._segs.length;
    for (const s of this._segs) {
      if (seen.has(s.chunk)) continue;
      seen.add(s.chunk);
      bytes += s.chunk.byteSize;
    }
    return bytes;
  }

  /**
   * Appends one entry (no merging with the previous one). O(1) amortised; never copies entries.
   * A list is built by its builder (`PhyrBuilder`, `phyrFromPfns`, a format's decoder) or
   * appended to by its owner before it is shared; once shared it is only read. Mapping never
   * writes into a list: dmaMap() returns the input itself or a new DmaList.
   * @param flags PhyrFlag bits (default 0); @param provider P2P provider index (default 0).
   * @throws RangeError for a bad range, flags or provider, or a total beyond 2^53 - 1 (list unchanged).
   */
  append(addr: number, len: number, flags = 0, provider = 0): void {
    checkEntry(addr, len, flags, provider);
    this._checkGrow(len);
    this._push(addr, len, flags, provider);
  }

  /** Throws unless `bytes` more keep totalBytes a safe integer. */
  private _checkGrow(bytes: number): void {
    if (this._bytes + bytes > MAX_LIST_BYTES) {
      throw new RangeError(
        `Cannot add ${hex(bytes)} bytes to a list of ${hex(this._bytes)}: totalBytes would exceed 2^53 - 1`,
      );
    }
  }

  /** Appends a validated entry. O(1). */
  private _push(addr: number, len: number, flags: number, provider: number): void {
    if (this.store === "compact") {
      this._pushEncoded(encodeCompact(addr, len, flags, provider), len);
      return;
    }
    const seg = this._tail(1);
    (seg.chunk as WideChunk).push(addr, len, flags, provider);
    this._grew(seg, len);
  }

  /** Appends the entry left in compact ENC (width u32 words, `len` bytes). O(1). */
  private _pushEncoded(width: number, len: number): void {
    const seg = this._tail(width);
    (seg.chunk as CompactChunk).pushEncoded(width);
    this._grew(seg, len);
  }

  private _grew(seg: Segment, len: number): void {
    seg.to = seg.chunk.used;
    seg.n++;
    seg.bytes += len;
    this._nents++;
    this._bytes += len;
  }

  /** Records entries written directly at the end of `seg.chunk`, up to position `used`. O(1). */
  private _commit(seg: Segment, used: number, n: number, bytes: number): void {
    seg.chunk.used = used;
    seg.to = used;
    seg.n += n;
    seg.bytes += bytes;
    this._nents += n;
    this._bytes += bytes;
  }

  /**
   * The segment to append `width` positions to (its chunk has room at its used end), opening a
   * segment or chunk when needed. O(1).
   */
  private _tail(width: number): Segment {
    const segs = this._segs;
    const last = segs.length > 0 ? segs[segs.length - 1] : undefined;
    if (last !== undefined) {
      const c = last.chunk;
      if (c.owner === this && last.to === c.used && c.used + width <= c.limit) {
        if (last.tail === 0) return last;
        const seg = new Segment(c, c.used, c.used, 0, 0, 0, 0, this._nents, this._bytes);
        segs.push(seg);
        return seg;
      }
    }
    const cap = Math.min(this.chunkCapacity, FIRST_CHUNK * 2 ** Math.min(this._opened, 30));
    this._opened++;
    const chunk = this.store === "compact" ? new CompactChunk(cap, this) : new WideChunk(cap, this);
    const seg = new Segment(chunk, 0, 0, 0, 0, 0, 0, this._nents, this._bytes);
    segs.push(seg);
    return seg;
  }

  /**
   * Trims `head` bytes from the first entry and `tail` bytes from the last (the list-wide first
   * offset and total length). The caller checked both leave every entry non-empty.
   */
  private _trim(head: number, tail: number): void {
    const segs = this._segs;
    if (segs.length === 0) return;
    const first = segs[0];
    first.head += head;
    first.bytes -= head;
    for (let i = 1; i < segs.length; i++) segs[i].byteStart -= head;
    const last = segs[segs.length - 1];
    last.tail += tail;
    last.bytes -= tail;
    this._bytes -= head + tail;
  }

  /**
   * Appends every entry of `other` in place by sharing its chunks (zero copy). O(chunks of other).
   * Later appends to either list never change the other.
   * @throws TypeError when `other` is not a PhyrList of the same store; RangeError when totalBytes
   * would exceed 2^53 - 1 (list unchanged).
   */
  appendList(other: PhyrList): void {
    this._checkSame(other, "appendList");
    this._checkGrow(other._bytes);
    const src = other._segs.slice();
    for (const s of src) {
      this._segs.push(s.moved(this._nents, this._bytes));
      this._nents += s.n;
      this._bytes += s.bytes;
    }
  }

  /**
   * A new list holding this list's entries then `other`'s, sharing both lists' chunks. O(chunks).
   * @throws TypeError when `other` is not a PhyrList of the same store; RangeError when totalBytes
   * would exceed 2^53 - 1.
   */
  concat(other: PhyrList): PhyrList {
    this._checkSame(other, "concat");
    const out = new PhyrList({ store: this.store, chunkCapacity: this.chunkCapacity });
    out.appendList(this);
    out.appendList(other);
    return out;
  }

  private _checkSame(other: PhyrList, op: string): void {
    if (!(other instanceof PhyrList)) throw new TypeError(`${op}: argument is not a PhyrList`);
    if (other.store !== this.store) {
      throw new TypeError(
        `${op}: cannot join a ${other.store} list to a ${this.store} list (convert with PhyrList.fromRanges)`,
      );
    }
  }

  /**
   * A zero-copy view of bytes [byteOffset, byteOffset + byteLength): the first and last entries
   * are trimmed to the view. O(log chunks + chunk capacity + chunks covered).
   * @throws RangeError for a negative, fractional or out-of-bounds offset or length.
   */
  slice(byteOffset: number, byteLength: number): PhyrList {
    checkCount("slice offset", byteOffset);
    checkCount("slice length", byteLength);
    if (byteOffset + byteLength > this._bytes) {
      throw new RangeError(
        `slice ${hex(byteOffset)}+${hex(byteLength)} is out of bounds: the list has ${hex(this._bytes)} bytes`,
      );
    }
    const out = new PhyrList({ store: this.store, chunkCapacity: this.chunkCapacity });
    if (byteLength === 0) return out;
    for (const seg of sliceSegments(this._segs, byteOffset, byteOffset + byteLength)) {
      out._segs.push(seg);
      out._nents += seg.n;
      out._bytes += seg.bytes;
    }
    return out;
  }

  /** Decodes entry `i` (trimmed) into the scratch slot. O(log chunks + chunk capacity). */
  private _locate(i: number): EntrySlot {
    checkCount("entry index", i);
    if (i >= this._nents) {
      throw new RangeError(`entry index ${hex(i)} is out of bounds: the list has ${this._nents} entries`);
    }
    const s = this._segs[segmentAt(this._segs, "entStart", i)];
    return decodeEntry(s, i - s.entStart, this._slot);
  }

  /**
   * Entry `i` as a new object. O(log chunks) wide; compact O(log chunks) when the entries before it
   * in its chunk are 8-byte ones (lists of 4 KiB / 2 MiB / 1 GiB pages), else O(log chunks + chunk
   * capacity). @throws RangeError
   */
  entry(i: number): PhyrEntry {
    const s = this._locate(i);
    return { addr: s.addr, len: s.len, flags: s.flags, provider: s.provider };
  }

  /** Address of entry `i`. Cost as {@link entry}. @throws RangeError */
  addrAt(i: number): number {
    return this._locate(i).addr;
  }

  /** Length of entry `i`. Cost as {@link entry}. @throws RangeError */
  lenAt(i: number): number {
    return this._locate(i).len;
  }

  /** Flags of entry `i`. Cost as {@link entry}. @throws RangeError */
  flagsAt(i: number): number {
    return this._locate(i).flags;
  }

  /** Provider of entry `i`. Cost as {@link entry}. @throws RangeError */
  providerAt(i: number): number {
    return this._locate(i).provider;
  }

  /** A fresh byte cursor at the first byte. O(1). */
  cursor(): PhyrCursor {
    return new ListCursor(this._segs, this);
  }

  /**
   * Calls `fn` for every entry in order; allocates nothing per entry; `fn` returning `false` stops
   * the walk. O(n), O(k) when stopped at the k-th entry.
   * @param fn receives (addr, len, flags, provider, index).
   * @returns false when `fn` stopped the walk
   */
  forEachEntry(fn: EntryVisitor): boolean {
    const slot = this._slot;
    let index = 0;
    for (const s of this._segs) {
      const c = s.chunk;
      const last = s.n - 1;
      // Compact chunks call decodeCompact directly (no polymorphic chunk.decode in the loop).
      const words = c.kind === "compact" ? (c as CompactChunk).words : undefined;
      let pos = s.from;
      for (let k = 0; k <= last; k++) {
        pos = words !== undefined ? decodeCompact(words, pos, slot) : c.decode(pos, slot);
        let addr = slot.addr;
        let len = slot.len;
        if (k === 0) {
          addr += s.head;
          len -= s.head;
        }
        if (k === last) len -= s.tail;
        if (fn(addr, len, slot.flags, slot.provider, index++) === false) return false;
      }
    }
    return true;
  }

  /** Every entry as a new object, in order. O(n). */
  toArray(): PhyrEntry[] {
    const out: PhyrEntry[] = [];
    this.forEachEntry((addr, len, flags, provider) => {
      out.push({ addr, len, flags, provider });
    });
    return out;
  }

  /** Entries through one refilled object (`reused`) or a new object per step. O(1) per step. */
  entries(reused?: PhyrEntry): IterableIterator<PhyrEntry> {
    return new EntryIterator(this._segs, this, reused);
  }

  /** Iterates entries as new objects (convenience: {@link entries} with no reused object). */
  [Symbol.iterator](): IterableIterator<PhyrEntry> {
    return new EntryIterator(this._segs, this);
  }

  /**
   * Verifies every invariant (segment windows, cached totals, trims, entry validity, canonical
   * compact encoding). O(n).
   * @throws Error describing the first broken invariant.
   */
  checkValid(): void {
    checkSegments(this._segs, this.store, this._nents, this._bytes);
  }

  // The one door to the append side: the builders get it through listWriter() (this module only).
  static {
    writer = {
      checkGrow: (l, bytes) => l._checkGrow(bytes),
      push: (l, addr, len, flags, provider) => l._push(addr, len, flags, provider),
      pushEncoded: (l, width, len) => l._pushEncoded(width, len),
      tail: (l, width) => l._tail(width),
      commit: (l, seg, used, n, bytes) => l._commit(seg, used, n, bytes),
      trim: (l, head, tail) => l._trim(head, tail),
      segments: (l) => l._segs,
    };
  }

  /**
   * Builds a list from `{ addr, len, flags?, provider? }` objects, one entry each (no merging). O(n).
   * @throws TypeError for a non-object item; RangeError for a bad value.
   */
  static fromRanges(
    ranges: Iterable<{ addr: number; len: number; flags?: number; provider?: number }>,
    opts?: PhyrListOptions,
  ): PhyrList {
    const list = new PhyrList(opts);
    let i = 0;
    for (const r of ranges) {
      if (typeof r !== "object" || r === null) throw new TypeError(`range ${i} is not an object`);
      list.append(r.addr, r.len, r.flags ?? 0, r.provider ?? 0);
      i++;
    }
    return list;
  }
}
