/**
 * `packed`: our archival form for long-lived lists. Entries are cut into blocks of K (default 64);
 * each block is a self-contained bit-packed restart point, and a restart index of u32 block
 * offsets lets {@link packedSeek} reach entry i in O(K). No kernel structure corresponds to it.
 *
 * Layout: header { u32 magic "PHPK", u32 nents, u32 K }, u32 offset[ceil(nents / K)] (byte offset
 * of each block), then the blocks. A block is an LSB-first bit stream padded to a byte:
 *
 * - unit u (4 bits): addresses and lengths are stored in 2^u-byte units, u = min(12, trailing
 *   zeros of every address and length in the block) (12 for page-granular lists);
 * - flags: 1 bit "uniform" + 5 bits; otherwise the first value (5 bits) and per further entry
 *   1 bit "changed" (+ 5 bits when changed); provider likewise with 16 bits;
 * - lengths (in units, minus 1): 1 bit mode; raw = width (6 bits) + one value per entry; dict =
 *   size - 1 (6 bits), width (6 bits), the sorted distinct values, then a ceil(log2 size)-bit code
 *   per entry (up to 64 distinct values);
 * - addresses (in units): 1 bit mode; absolute = per length class (one class in raw mode, one per
 *   dict value) a shift (6 bits: common trailing zeros of that class's addresses) and a width
 *   (6 bits), then each address >> shift at its class width, so a 1 GiB-aligned run costs
 *   18 fewer bits than a 4 KiB page; delta = first address (6-bit width + value), then the width
 *   (6 bits) of the zig-zag gaps to the previous entry's end, one gap per further entry.
 *
 * The encoder evaluates the four length/address combinations per block and keeps the smallest.
 */
import { ADDR_LIMIT, checkCount, ctz52, hex, modPow2, ParseError } from "../core/index.js";
import { type PhyrEntry, PhyrList, type PhyrRead } from "../phyr/index.js";
import { BitReader, BitWriter, bitWidth, unzigzag, zigzag } from "./bitio.js";
import { appendDecoded, type Format } from "./format.js";
import { ByteReader, ByteWriter } from "./wire.js";

/** "PHPK" little-endian. */
export const PACKED_MAGIC = 0x4b504850;
/** Default restart interval. */
export const PACKED_DEFAULT_K = 64;
/**
 * Largest restart interval. A block costs at least 10 bytes (4 B of index + 47 bits), so a b-byte
 * input decodes to at most PACKED_MAX_K * b / 10 entries: the cap bounds the expansion.
 */
export const PACKED_MAX_K = 4096;
const HEADER = 12;
const DICT_MAX = 64;

/** Entries of a list as parallel typed arrays (the codec's working form). */
interface Cols {
  n: number;
  addr: Float64Array;
  len: Float64Array;
  flags: Uint8Array;
  prov: Uint16Array;
}

/** Zeroed columns with room for `capacity` entries, of which `n` count. O(capacity). */
function newCols(capacity: number, n: number): Cols {
  return {
    n,
    addr: new Float64Array(capacity),
    len: new Float64Array(capacity),
    flags: new Uint8Array(capacity),
    prov: new Uint16Array(capacity),
  };
}

/** Stores one entry at index `i` of the columns. O(1). */
function putEntry(c: Cols, i: number, addr: number, len: number, flags: number, provider: number): void {
  c.addr[i] = addr;
  c.len[i] = len;
  c.flags[i] = flags;
  c.prov[i] = provider;
}

/** Every entry of a list as columns. O(n). */
function columns(list: PhyrRead): Cols {
  const c = newCols(list.nents, list.nents);
  let i = 0;
  list.forEachEntry((addr, len, flags, provider) => putEntry(c, i++, addr, len, flags, provider));
  return c;
}

/** The choices and size of one block; reused across blocks. */
class Plan {
  bits = 0;
  unit = 0;
  scale = 1;
  flagsUniform = true;
  provUniform = true;
  dict = false;
  delta = false;
  wl = 0;
  values: number[] = [];
  code = new Map<number, number>();
  /** Dict code of each entry of the block (index - s). */
  cls = new Uint8Array(PACKED_MAX_K);
  /** Per class: common trailing zeros of its addresses (in units), and their bit width after the shift. */
  tz = new Float64Array(DICT_MAX + 1);
  wa = new Float64Array(DICT_MAX + 1);
  /** Classes of the absolute section last computed (1, or the dict size). */
  classes = 1;
  /** Per class: the divisor of its addresses, 2^(unit + tz). */
  private readonly div = new Float64Array(DICT_MAX + 1);
  w0 = 0;
  wd = 0;

  /**
   * Chooses the encoding of entries [s, e) and sets {@link bits}. O(e - s) (+ sort of distinct
   * lengths). `forEncode` false (a size only) skips refilling tz/wa for the chosen classes, which
   * only the writer reads: one pass over the block fewer.
   */
  make(c: Cols, s: number, e: number, forEncode = true): void {
    const n = e - s;
    // u = min(12, trailing zeros of every address and length): the OR of their low 12 bits has
    // the fewest trailing zeros among them (one OR per value instead of two ctz52 calls).
    let low = 0;
    for (let i = s; i < e && (low & 1) === 0; i++) low |= modPow2(c.addr[i], 4096) | modPow2(c.len[i], 4096);
    const u = low === 0 ? 12 : 31 - Math.clz32(low & -low);
    this.unit = u;
    this.scale = 2 ** u;
    const sc = this.scale;
    let bits = 4;
    bits += this.changeBits(c.flags, s, e, 5, true);
    bits += this.changeBits(c.prov, s, e, 16, false);
    let wl = 0;
    this.code.clear();
    for (let i = s; i < e; i++) {
      const l = c.len[i] / sc - 1;
      wl = Math.max(wl, bitWidth(l));
      if (this.code.size <= DICT_MAX && !this.code.has(l)) this.code.set(l, 0);
    }
    this.wl = wl;
    const rawLen = 1 + 6 + n * wl;
    // raw + absolute (one class), raw + delta
    const absRaw = this.absBits(c, s, e, 0);
    const delta = this.deltaBits(c, s, e);
    let best = rawLen + Math.min(absRaw, delta);
    this.dict = false;
    this.delta = delta < absRaw;
    if (this.code.size <= DICT_MAX) {
      this.values = [...this.code.keys()].sort((a, b) => a - b);
      for (let k = 0; k < this.values.length; k++) this.code.set(this.values[k], k);
      for (let i = s; i < e; i++) this.cls[i - s] = this.code.get(c.len[i] / sc - 1)!;
      const d = this.values.length;
      const dictLen = 1 + 12 + d * wl + n * bitWidth(d - 1);
      const absDict = this.absBits(c, s, e, d);
      const cand = dictLen + Math.min(absDict, delta);
      if (cand < best) {
        best = cand;
        this.dict = true;
        this.delta = delta < absDict;
      }
    }
    if (forEncode && !this.delta) this.absBits(c, s, e, this.dict ? this.values.length : 0);
    this.bits = bits + best;
  }

  private changeBits(v: Uint8Array | Uint16Array, s: number, e: number, w: number, isFlags: boolean): number {
    let uniform = true;
    let b = w;
    for (let i = s + 1; i < e; i++) {
      if (v[i] !== v[i - 1]) {
        uniform = false;
        b += 1 + w;
      } else b += 1;
    }
    if (isFlags) this.flagsUniform = uniform;
    else this.provUniform = uniform;
    return uniform ? 1 + w : 1 + b;
  }

  /** Bits of the absolute address section; fills tz/wa per class. */
  /** `dictSize` 0 = one class; otherwise classes are the dict codes in {@link cls}. */
  private absBits(c: Cols, s: number, e: number, dictSize: number): number {
    const classes = dictSize > 0 ? dictSize : 1;
    const cls = this.cls;
    const tz = this.tz;
    const wa = this.wa;
    this.classes = classes;
    tz.fill(52, 0, classes);
    wa.fill(0, 0, classes);
    const sc = this.scale;
    for (let i = s; i < e; i++) {
      const k = dictSize > 0 ? cls[i - s] : 0;
      tz[k] = Math.min(tz[k], ctz52(c.addr[i] / sc));
    }
    // A class's scale, 2^(tz + unit), once per class rather than once per entry.
    const div = this.div;
    for (let k = 0; k < classes; k++) div[k] = sc * 2 ** tz[k];
    let bits = 1 + 12 * classes;
    for (let i = s; i < e; i++) {
      const k = dictSize > 0 ? cls[i - s] : 0;
      wa[k] = Math.max(wa[k], bitWidth(c.addr[i] / div[k]));
    }
    for (let i = s; i < e; i++) bits += wa[dictSize > 0 ? cls[i - s] : 0];
    return bits;
  }

  private deltaBits(c: Cols, s: number, e: number): number {
    const sc = this.scale;
    this.w0 = bitWidth(c.addr[s] / sc);
    let wd = 0;
    for (let i = s + 1; i < e; i++) {
      wd = Math.max(wd, bitWidth(zigzag((c.addr[i] - c.addr[i - 1] - c.len[i - 1]) / sc)));
    }
    this.wd = wd;
    return 1 + 6 + this.w0 + 6 + (e - s - 1) * wd;
  }

  /** Writes entries [s, e) with the choices of the last {@link make}. O(e - s). */
  write(w: BitWriter, c: Cols, s: number, e: number): void {
    const sc = this.scale;
    w.write(this.unit, 4);
    writeChanges(w, c.flags, s, e, 5, this.flagsUniform);
    writeChanges(w, c.prov, s, e, 16, this.provUniform);
    w.write(this.dict ? 1 : 0, 1);
    if (this.dict) {
      const d = this.values.length;
      w.write(d - 1, 6);
      w.write(this.wl, 6);
      for (const v of this.values) w.write(v, this.wl);
      const cw = bitWidth(d - 1);
      for (let i = s; i < e; i++) w.write(this.cls[i - s], cw);
    } else {
      w.write(this.wl, 6);
      for (let i = s; i < e; i++) w.write(c.len[i] / sc - 1, this.wl);
    }
    w.write(this.delta ? 1 : 0, 1);
    if (this.delta) {
      w.write(this.w0, 6);
      w.write(c.addr[s] / sc, this.w0);
      w.write(this.wd, 6);
      for (let i = s + 1; i < e; i++)
        w.write(zigzag((c.addr[i] - c.addr[i - 1] - c.len[i - 1]) / sc), this.wd);
    } else {
      for (let k = 0; k < this.classes; k++) {
        w.write(this.tz[k], 6);
        w.write(this.wa[k], 6);
      }
      for (let i = s; i < e; i++) {
        const k = this.dict ? this.cls[i - s] : 0;
        w.write(c.addr[i] / sc / 2 ** this.tz[k], this.wa[k]);
      }
    }
    w.flush();
  }
}

function writeChanges(
  w: BitWriter,
  v: Uint8Array | Uint16Array,
  s: number,
  e: number,
  width: number,
  uniform: boolean,
): void {
  w.write(uniform ? 1 : 0, 1);
  w.write(v[s], width);
  if (uniform) return;
  for (let i = s + 1; i < e; i++) {
    if (v[i] !== v[i - 1]) {
      w.write(1, 1);
      w.write(v[i], width);
    } else w.write(0, 1);
  }
}

function checkK(k: number): void {
  if (checkCount("packed restart interval K", k, PACKED_MAX_K) === 0) {
    throw new RangeError("packed restart interval K 0x0 is invalid: expected 1..0x1000");
  }
}

/**
 * Exact size of the packed form with restart interval `k`. O(n); the entries pass through one
 * block of columns (k entries) reused for every block, so no copy of the whole list is made.
 * @throws RangeError for a bad k.
 */
export function packedBytes(list: PhyrRead, k = PACKED_DEFAULT_K): number {
  checkK(k);
  const block = newCols(k, 0);
  const plan = new Plan();
  let bytes = HEADER + 4 * Math.ceil(list.nents / k);
  const flush = (): void => {
    plan.make(block, 0, block.n, false);
    bytes += Math.ceil(plan.bits / 8);
    block.n = 0;
  };
  list.forEachEntry((addr, len, flags, provider) => {
    putEntry(block, block.n++, addr, len, flags, provider);
    if (block.n === k) flush();
  });
  if (block.n > 0) flush();
  return bytes;
}

/**
 * Encodes `list` with restart interval `k`. O(n).
 * @throws RangeError for a bad k.
 */
export function packedEncode(list: PhyrRead, k = PACKED_DEFAULT_K): Uint8Array {
  checkK(k);
  const c = columns(list);
  const plan = new Plan();
  const blocks = Math.ceil(c.n / k);
  const index = HEADER + 4 * blocks;
  // One planning pass: each block is written into a growing body as soon as its size is known.
  let body = new Uint8Array(Math.max(64, c.n * 4));
  const starts = new Float64Array(blocks);
  let used = 0;
  for (let b = 0; b < blocks; b++) {
    const s = b * k;
    const e = Math.min(c.n, s + k);
    plan.make(c, s, e);
    const size = Math.ceil(plan.bits / 8);
    if (used + size > body.length) {
      const grown = new Uint8Array(Math.max(body.length * 2, used + size));
      grown.set(body.subarray(0, used));
      body = grown;
    }
    const w = new BitWriter(body, used);
    plan.write(w, c, s, e);
    if (w.pos !== used + size)
      throw new Error(`packed: block ${b} wrote ${w.pos - used} bytes, planned ${size}`);
    starts[b] = index + used;
    used += size;
  }
  const out = new ByteWriter(index + used, "packed");
  out.u32(PACKED_MAGIC);
  out.u32(c.n);
  out.u32(k);
  for (let b = 0; b < blocks; b++) out.u32(starts[b]);
  out.bytes.set(body.subarray(0, used), index);
  out.pos += used;
  return out.finish("packed");
}

/** Parsed header and restart index. */
interface PackedIndex {
  n: number;
  k: number;
  blocks: number;
  r: ByteReader;
}

function readIndex(bytes: Uint8Array): PackedIndex {
  const r = new ByteReader("packed", bytes);
  if (r.u32("magic") !== PACKED_MAGIC) throw r.error('bad magic (expected "PHPK")', 0);
  const n = r.u32("nents");
  const k = r.u32("K");
  if (k < 1 || k > PACKED_MAX_K) throw r.error(`K ${k} is not in 1..${PACKED_MAX_K}`, 8);
  const blocks = Math.ceil(n / k);
  r.need(4 * blocks, "restart index");
  return { n, k, blocks, r };
}

function blockRange(ix: PackedIndex, b: number): [number, number] {
  const view = ix.r;
  view.pos = HEADER + 4 * b;
  const start = view.u32("offset");
  const end = b + 1 < ix.blocks ? view.u32("offset") : view.bytes.length;
  const first = HEADER + 4 * ix.blocks;
  if ((b === 0 ? start !== first : start < first) || end > view.bytes.length || start >= end) {
    throw view.error(`block ${b}: offset ${start}..${end} out of order or out of bounds`, HEADER + 4 * b);
  }
  return [start, end];
}

/** Scratch columns of one decoded block. */
class BlockOut {
  addr: Float64Array;
  len: Float64Array;
  flags: Uint8Array;
  prov: Uint16Array;
  constructor(k: number) {
    this.addr = new Float64Array(k);
    this.len = new Float64Array(k);
    this.flags = new Uint8Array(k);
    this.prov = new Uint16Array(k);
  }
}

function readChanges(
  r: BitReader,
  out: Uint8Array | Uint16Array,
  n: number,
  width: number,
  field: string,
): void {
  const uniform = r.read(1, field);
  out[0] = r.read(width, field);
  for (let i = 1; i < n; i++) out[i] = uniform || r.read(1, field) === 0 ? out[i - 1] : r.read(width, field);
}

function bad(at: number, reason: string): ParseError {
  return new ParseError("packed", 0, `at byte ${at}: ${reason}`);
}

function decodeBlock(bytes: Uint8Array, start: number, end: number, n: number, o: BlockOut): void {
  const r = new BitReader("packed", bytes, start, end);
  const unit = r.read(4, "unit");
  if (unit > 12) throw bad(start, `unit ${unit} is above 12`);
  const sc = 2 ** unit;
  readChanges(r, o.flags, n, 5, "flags");
  readChanges(r, o.prov, n, 16, "provider");
  const dict = r.read(1, "length mode") === 1;
  let values: number[] | null = null;
  let codes: Uint8Array | null = null;
  if (dict) {
    const d = r.read(6, "dict size") + 1;
    const wl = r.read(6, "length width");
    values = [];
    for (let k = 0; k < d; k++) values.push(r.read(wl, "dict value"));
    const cw = bitWidth(d - 1);
    codes = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const code = r.read(cw, "length code");
      if (code >= d) throw bad(start, `length code ${code} is not below the dict size ${d}`);
      codes[i] = code;
      o.len[i] = (values[code] + 1) * sc;
    }
  } else {
    const wl = r.read(6, "length width");
    for (let i = 0; i < n; i++) o.len[i] = (r.read(wl, "length") + 1) * sc;
  }
  const delta = r.read(1, "address mode") === 1;
  if (delta) {
    const w0 = r.read(6, "first address width");
    o.addr[0] = r.read(w0, "first address") * sc;
    const wd = r.read(6, "gap width");
    for (let i = 1; i < n; i++) o.addr[i] = o.addr[i - 1] + o.len[i - 1] + unzigzag(r.read(wd, "gap")) * sc;
  } else {
    const classes = values ? values.length : 1;
    const tz: number[] = [];
    const wa: number[] = [];
    for (let k = 0; k < classes; k++) {
      tz.push(r.read(6, "class shift"));
      wa.push(r.read(6, "class width"));
    }
    for (let i = 0; i < n; i++) {
      const k = codes ? codes[i] : 0;
      o.addr[i] = r.read(wa[k], "address") * 2 ** tz[k] * sc;
    }
  }
  r.finish();
}

/**
 * Decodes the packed form. O(n).
 * @throws ParseError for truncated or corrupted bytes (bad magic, offsets, widths, entries).
 */
export function packedDecode(bytes: Uint8Array): PhyrList {
  const ix = readIndex(bytes);
  const list = new PhyrList({ store: "wide" });
  const o = new BlockOut(Math.min(ix.k, ix.n));
  for (let b = 0; b < ix.blocks; b++) {
    const [start, end] = blockRange(ix, b);
    const n = Math.min(ix.k, ix.n - b * ix.k);
    decodeBlock(bytes, start, end, n, o);
    for (let i = 0; i < n; i++) appendDecoded(list, ix.r, start, o.addr[i], o.len[i], o.flags[i], o.prov[i]);
  }
  if (ix.blocks === 0 && bytes.length !== HEADER)
    throw ix.r.error(`${bytes.length - HEADER} trailing bytes`, HEADER);
  return list;
}

/**
 * Entry `i` of a packed encoding without decoding the rest: reads the restart index, then decodes
 * only block floor(i / K). O(K).
 * @throws RangeError when i is not an entry index; ParseError for corrupted bytes.
 */
export function packedSeek(bytes: Uint8Array, i: number): PhyrEntry {
  const ix = readIndex(bytes);
  if (!Number.isInteger(i) || i < 0 || i >= ix.n) {
    throw new RangeError(
      `packedSeek index ${Number.isInteger(i) && i >= 0 ? hex(i) : String(i)} is invalid: the list has ${ix.n} entries`,
    );
  }
  const b = Math.floor(i / ix.k);
  const [start, end] = blockRange(ix, b);
  const n = Math.min(ix.k, ix.n - b * ix.k);
  const o = new BlockOut(n);
  decodeBlock(bytes, start, end, n, o);
  const j = i - b * ix.k;
  const e = { addr: o.addr[j], len: o.len[j], flags: o.flags[j], provider: o.prov[j] };
  if (!(e.addr + e.len <= ADDR_LIMIT)) throw ix.r.error(`entry ${i} ends beyond 2^52`, start);
  return e;
}

/** The packed archival form with K = 64. bytesFor/encode/decode O(n). */
export const packedFormat: Format = {
  name: "packed",
  kernelSource: "none (archival form of this project); compare include/linux/types.h phys_vec",
  holds: { flags: true, provider: true, byteGranular: true },
  bytesFor: (list) => packedBytes(list),
  encode: (list) => packedEncode(list),
  decode: packedDecode,
};
