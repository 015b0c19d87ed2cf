/**
 * The compact store: Jason Gunthorpe's 8-byte word form of a physical range (docs/design.md,
 * "His follow-up word layout"), with escapes for runs that are not one naturally aligned chunk.
 * A chunk is one Uint32Array of 2 * capacity u32s; an entry takes 2, 3 or 4 u32s (1, 1.5 or 2
 * 8-byte slots) and never straddles two chunks. The 64-bit word is stored as two u32 halves,
 * low half first: words[p] = bits 31:0, words[p + 1] = bits 63:32; extra u32s follow.
 *
 * ```
 *  63 62 61      57 56    52 51                          12 11        5 4     0
 * +-----+----------+--------+------------------------------+-----------+-------+
 * |mode | prov 11:7|  order |  frame (address >> 12)       | prov 6:0  | flags |
 * +-----+----------+--------+------------------------------+-----------+-------+
 * ```
 *
 * - mode 00 (8 B): one naturally aligned chunk of 2^order pages at `frame` (frame % 2^order == 0).
 * - mode 01 (12 B): + u32 count: `count` (>= 2) contiguous 2^order-page chunks from `frame`,
 *   frame aligned to the order; `order` is the largest k (<= 31) with frame and the page count both
 *   multiples of 2^k. Order 0 covers any page run.
 * - mode 10 (12 B): byte-granular: + u32 with the byte offset in the page (bits 11:0) and length
 *   bits 19:0 (bits 31:12); length bits 24:20 are in the order field (1 <= length < 2^25).
 * - mode 11 (16 B): general escape, used only when nothing smaller fits (a non-page range of 32 MiB
 *   or more, a page run of more than 2^32 - 1 order-sized chunks, or a provider above 4095):
 *   + u32 with the byte offset (bits 11:0) and (length - 1) bits 19:0 (bits 31:12), + u32 with
 *   (length - 1) bits 51:20; provider bits 15:12 are in the order field (bits 55:52; bit 56 is 0).
 *   Storing length - 1 lets one entry cover all of [0, 2^52).
 *
 * Providers 0..4095 fit in the word itself. The encoding of an entry is canonical (the smallest
 * mode that holds it, the largest order) and `checkValid()` verifies it by re-encoding.
 *
 * Reading entry i of a compact chunk needs a scan from a known position, because widths vary:
 * random access is O(capacity) per chunk (O(1) inside its leading run of 8-byte entries, see
 * {@link CompactChunk.seek}), sequential access (cursor, forEachEntry) O(1) per entry.
 */
import { ctz52, modPow2, POW2 } from "../core/index.js";
import type { Chunk, EntrySlot } from "./chunk.js";
import { checkEntry } from "./validate.js";

const P12 = 4096;
const P20 = 2 ** 20;

/**
 * ORDER_BYTES[order] = 2^(order + 12), the bytes of a 2^order-page chunk (order 0..31), and
 * ORDER_PAGES[order] = 2^order.
 *
 * Engine note: `2 ** x` with a variable exponent is a Math.pow call in V8's optimised code, about
 * 100 ns per decode on the bench machine; one typed-array load is a few ns. Float64Array keeps the
 * values unboxed doubles (2^43 is not a small integer).
 */
const ORDER_BYTES = POW2.subarray(12, 44);
const ORDER_PAGES = POW2;

/**
 * Width in u32 words of the entry whose high word is `hi`: WIDTH[hi >>> 30] (2, 3, 3, 4).
 * Lets a scan skip entries without decoding them.
 */
const WIDTH = new Uint8Array([2, 3, 3, 4]);

/** Word position of the entry `k` entries after the one at `p` (widths only, no decode). O(k). */
function skipCompact(w: Uint32Array, p: number, k: number): number {
  for (let j = 0; j < k; j++) p += WIDTH[w[p + 1] >>> 30];
  return p;
}

/** Mode values (bits 63:62). */
export const CompactMode = { NATURAL: 0, COUNT: 1, BYTES: 2, GENERAL: 3 } as const;

/** Scratch words of the last {@link encodeCompact} / {@link encodePages} call. */
export const ENC = new Uint32Array(4);

function head(frame: number, order: number, mode: number, flags: number, provider: number): void {
  ENC[0] = ((frame & 0xfffff) << 12) | ((provider & 0x7f) << 5) | flags;
  ENC[1] = Math.floor(frame / P20) | (order << 20) | (((provider >>> 7) & 0x1f) << 25) | (mode << 30);
}

/**
 * Encodes a page run (frame, npages) into {@link ENC}; the caller has validated the values and
 * `provider <= 4095`. Returns the width in u32 words. O(1), allocation-free.
 */
export function encodePages(frame: number, npages: number, flags: number, provider: number): number {
  if (frame <= 0xffffffff && npages <= 0xffffffff) {
    // Below 2^32 (16 TiB of frames) in 32-bit operations, as the PFN builders do (pfns.ts): the
    // order is the lowest set bit of (frame | npages); a natural chunk when that bit is npages
    // itself (mode 00), else npages / 2^order chunks (mode 01; the count fits in 32 bits).
    const lowbit = ((frame | npages) & -(frame | npages)) >>> 0;
    const order = 31 - Math.clz32(lowbit);
    ENC[0] = ((frame & 0xfffff) << 12) | ((provider & 0x7f) << 5) | flags;
    const hi = (frame >>> 20) | (order << 20) | (((provider >>> 7) & 0x1f) << 25);
    if (lowbit === npages) {
      ENC[1] = hi;
      return 2;
    }
    ENC[1] = hi | (CompactMode.COUNT << 30);
    ENC[2] = npages >>> order;
    return 3;
  }
  if (npages === 1) {
    head(frame, 0, 0, flags, provider);
    return 2;
  }
  const tp = ctz52(npages);
  const tf = ctz52(frame);
  const k = Math.min(tp, tf);
  if (tp <= tf && tp <= 31 && npages === ORDER_PAGES[tp]) {
    head(frame, tp, CompactMode.NATURAL, flags, provider);
    return 2;
  }
  const order = Math.min(k, 31);
  const count = npages / ORDER_PAGES[order];
  if (count <= 0xffffffff) {
    head(frame, order, CompactMode.COUNT, flags, provider);
    ENC[2] = count;
    return 3;
  }
  return encodeGeneral(frame * P12, npages * P12, flags, provider);
}

function encodeGeneral(addr: number, len: number, flags: number, provider: number): number {
  const off = modPow2(addr, P12);
  const frame = (addr - off) / P12;
  const l = len - 1;
  const lLo = modPow2(l, P20);
  head(frame, (provider >>> 12) & 0xf, CompactMode.GENERAL, flags, provider);
  ENC[2] = off | (lLo << 12);
  ENC[3] = (l - lLo) / P20;
  return 4;
}

/**
 * Encodes any validated entry into {@link ENC} in its canonical (smallest) mode. Returns the width
 * in u32 words (2, 3 or 4). O(1), allocation-free.
 */
export function encodeCompact(addr: number, len: number, flags: number, provider: number): number {
  if (provider > 0xfff) return encodeGeneral(addr, len, flags, provider);
  const off = modPow2(addr, P12);
  if (off === 0 && modPow2(len, P12) === 0) {
    // A page run that needs mode 11 is at least 2^32 pages long, so mode 10 never fits it.
    return encodePages(addr / P12, len / P12, flags, provider);
  }
  if (len < 2 ** 25) {
    const frame = (addr - off) / P12;
    head(frame, Math.floor(len / P20), CompactMode.BYTES, flags, provider);
    ENC[2] = off | ((len & (P20 - 1)) << 12);
    return 3;
  }
  return encodeGeneral(addr, len, flags, provider);
}

/**
 * Decodes the entry at word `p` of `w` into `out`; returns the next word position. O(1),
 * allocation-free, no Math.pow (see ORDER_BYTES). `out` should always be an {@link EntrySlot}
 * (one object shape keeps the field stores monomorphic).
 */
export function decodeCompact(w: Uint32Array, p: number, out: EntrySlot): number {
  const lo = w[p];
  const hi = w[p + 1];
  const mode = hi >>> 30;
  const order = (hi >>> 20) & 0x1f;
  const base = ((hi & 0xfffff) * P20 + (lo >>> 12)) * P12;
  out.flags = lo & 0x1f;
  const prov = ((lo >>> 5) & 0x7f) | (((hi >>> 25) & 0x1f) << 7);
  if (mode === 0) {
    out.addr = base;
    out.len = ORDER_BYTES[order];
    out.provider = prov;
    return p + 2;
  }
  if (mode === 1) {
    out.addr = base;
    out.len = w[p + 2] * ORDER_BYTES[order];
    out.provider = prov;
    return p + 3;
  }
  const ex = w[p + 2];
  out.addr = base + (ex & 0xfff);
  if (mode === 2) {
    out.len = (ex >>> 12) + order * P20;
    out.provider = prov;
    return p + 3;
  }
  out.len = (ex >>> 12) + w[p + 3] * P20 + 1;
  out.provider = prov | ((order & 0xf) << 12);
  return p + 4;
}

/** A fixed-capacity compact chunk: 2 * capacity u32 words. Appends are O(1), never move entries. */
export class CompactChunk implements Chunk {
  readonly kind = "compact" as const;
  used = 0;
  readonly limit: number;
  readonly words: Uint32Array;

  /** @param capacity 8-byte slots (>= 2); @param owner the list allowed to append. */
  constructor(
    readonly capacity: number,
    readonly owner: object,
  ) {
    this.limit = capacity * 2;
    this.words = new Uint32Array(this.limit);
  }

  get byteSize(): number {
    return this.capacity * 8;
  }

  /** Copies the first `width` words of {@link ENC} to `used`; the caller checked they fit. O(1). */
  pushEncoded(width: number): void {
    const w = this.words;
    const p = this.used;
    w[p] = ENC[0];
    w[p + 1] = ENC[1];
    if (width > 2) w[p + 2] = ENC[2];
    if (width > 3) w[p + 3] = ENC[3];
    this.used = p + width;
  }

  decode(pos: number, out: EntrySlot): number {
    return decodeCompact(this.words, pos, out);
  }

  /**
   * Lazily computed: every entry in words [0, plainTo) is an 8-byte (mode 00) entry. Words below
   * `used` never change, so the mark only moves forward; it stops at the first wider entry.
   */
  private plainTo = 0;

  /**
   * Word position of the entry `k` entries after the entry starting at word `from`. O(1) inside
   * the chunk's leading run of 8-byte entries (the common case: a list of 4 KiB, 2 MiB or 1 GiB
   * pages), else O(k) reading only each skipped entry's mode bits. Amortised O(1) upkeep.
   */
  seek(from: number, k: number): number {
    const target = from + 2 * k;
    if (target <= this.plainTo) return target;
    const w = this.words;
    const used = this.used;
    let p = this.plainTo;
    while (p < used && w[p + 1] >>> 30 === 0) p += 2;
    this.plainTo = p;
    return target <= p ? target : skipCompact(w, from, k);
  }
}

/**
 * Bytes one entry takes in the compact store: 8 (mode 00), 12 (mode 01 or 10) or 16 (mode 11).
 * O(1), allocation-free.
 * @throws RangeError for a bad range, flags or provider.
 */
export function compactEntryBytes(addr: number, len: number, flags = 0, provider = 0): number {
  checkEntry(addr, len, flags, provider);
  return encodeCompact(addr, len, flags, provider) * 4;
}
