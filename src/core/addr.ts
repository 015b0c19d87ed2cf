/**
 * Address and page math. Addresses are JS numbers holding integers below 2^52 (x86-64's
 * physical limit, MAX_PHYSMEM_BITS 52); every public boundary checks them with {@link checkAddr}.
 * All helpers here are O(1) and allocation-free; they avoid 32-bit bitwise operators because
 * addresses exceed 2^32.
 */

/** include/asm-generic/page.h: PAGE_SHIFT on x86-64. */
export const PAGE_SHIFT = 12;
/** 4096 bytes. */
export const PAGE_SIZE = 4096;
/** Physical address bits (arch/x86/include/asm/sparsemem.h MAX_PHYSMEM_BITS with 5-level paging). */
export const PHYS_BITS = 52;
/** 2^52: the first address that is out of range. */
export const ADDR_LIMIT = 2 ** 52;
/** Orders of common huge pages. */
export const ORDER_2M = 9;
export const ORDER_1G = 18;
export const SZ_4K = 0x1000;
export const SZ_64K = 0x10000;
export const SZ_2M = 0x200000;
export const SZ_1G = 0x40000000;

/** POW2[k] = 2^k for k in 0..63: a table load, where `2 ** k` is a Math.pow call in hot loops. */
export const POW2: Readonly<Float64Array> = Float64Array.from({ length: 64 }, (_, k) => 2 ** k);

/** Formats a number as lowercase hex with `0x` (exact for integers below 2^53). */
export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/**
 * Checks that `value` is an integer in [0, 2^52). Returns it.
 * @throws RangeError naming `what` and the value (NaN, negative, fractional, too large).
 */
export function checkAddr(what: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value >= ADDR_LIMIT)
    throw badInt(what, value, "an integer below 2^52");
  return value;
}

/**
 * Checks that `len` is an integer in [1, 2^52]. Returns it.
 * @throws RangeError for zero, negative, fractional, NaN or too large lengths.
 */
export function checkLen(what: string, len: number): number {
  if (!Number.isInteger(len) || len <= 0 || len > ADDR_LIMIT)
    throw badInt(what, len, "an integer in 1..2^52");
  return len;
}

/**
 * Checks that [addr, addr+len) is a non-empty range wholly below 2^52. Returns nothing.
 * @throws RangeError naming the range.
 */
export function checkRange(what: string, addr: number, len: number): void {
  // Names are built only on failure: this runs once per appended entry.
  if (!Number.isInteger(addr) || addr < 0 || addr >= ADDR_LIMIT) checkAddr(`${what} address`, addr);
  if (!Number.isInteger(len) || len <= 0 || len > ADDR_LIMIT) checkLen(`${what} length`, len);
  if (addr + len > ADDR_LIMIT) {
    throw new RangeError(`${what} ${hex(addr)}+${hex(len)} is invalid: it ends beyond 2^52`);
  }
}

/** Checks a non-negative safe integer (counts, indices). @throws RangeError */
export function checkCount(what: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw badInt(what, value, `an integer in 0..${max}`);
  return value;
}

function badInt(what: string, value: number, want: string): RangeError {
  const shown = Number.isInteger(value) && value >= 0 ? hex(value) : String(value);
  return new RangeError(`${what} ${shown} is invalid: expected ${want}`);
}

/** True when `value` is a multiple of the power of two `align`. */
export function isAligned(value: number, align: number): boolean {
  return value % align === 0;
}

/** Rounds down to a multiple of `align` (any positive integer). */
export function alignDown(value: number, align: number): number {
  return value - (value % align);
}

/** Rounds up to a multiple of `align` (any positive integer). */
export function alignUp(value: number, align: number): number {
  const r = value % align;
  return r === 0 ? value : value + (align - r);
}

/** floor(log2(n)) for an integer n >= 1 (exact up to 2^53). */
export function ilog2(n: number): number {
  if (n < 0x100000000) return 31 - Math.clz32(n);
  return 32 + (31 - Math.clz32(Math.floor(n / 0x100000000)));
}

/** Largest power of two dividing `n` (n > 0); for 0 returns 2^52 (everything divides 0). */
export function lowestBit(n: number): number {
  if (n === 0) return ADDR_LIMIT;
  const lo = n % 0x100000000;
  if (lo !== 0) return (lo & -lo) >>> 0;
  const hi = Math.floor(n / 0x100000000);
  return ((hi & -hi) >>> 0) * 0x100000000;
}

/**
 * Trailing zero bits of an integer below 2^53, i.e. ilog2(lowestBit(n)) without a float modulo;
 * 52 for 0 (every power of two divides 0). O(1).
 */
export function ctz52(n: number): number {
  const hi = Math.floor(n / 0x100000000);
  const lo = n - hi * 0x100000000;
  if (lo !== 0) return 31 - Math.clz32(lo & -lo);
  if (n === 0) return 52;
  return 32 + (31 - Math.clz32(hi & -hi));
}

/**
 * `x mod m` in [0, m) for an integer |x| < 2^53 and a power of two m (a negative x gives the
 * non-negative residue). Exact (dividing by a power of two and flooring lose nothing). O(1).
 *
 * Engine note: `%` on a value above 2^31 is a call to the C library's fmod in V8's optimised code
 * (tens of ns); a division, a floor and a multiply-subtract are a few instructions.
 */
export function modPow2(x: number, m: number): number {
  return x - Math.floor(x / m) * m;
}

/** The alignment order (in pages) of a page frame number: largest k with pfn % 2^k == 0, capped at `max`. */
export function pfnAlignOrder(pfn: number, max = 40): number {
  if (pfn === 0) return max;
  return Math.min(max, ilog2(lowestBit(pfn)));
}

/** True when n is a power of two (n >= 1). */
export function isPow2(n: number): boolean {
  return n >= 1 && Number.isInteger(n) && lowestBit(n) === n;
}

/** Smallest power of two >= n (n >= 1). */
export function roundUpPow2(n: number): number {
  const p = 2 ** ilog2(n);
  return p === n ? n : p * 2;
}

/**
 * Natural-order decomposition of a page run: calls `emit(pfn, order)` for each naturally
 * aligned power-of-two chunk, greedily from the start, largest chunk first. O(log n) chunks per
 * alignment change; allocation-free. Example: 3 pages at pfn 1 -> (1, 0), (2, 1).
 * Returns the number of chunks.
 */
export function decomposeRun(
  pfn: number,
  npages: number,
  emit: (pfn: number, order: number) => void,
): number {
  let count = 0;
  while (npages > 0) {
    const order = Math.min(pfnAlignOrder(pfn), ilog2(npages));
    emit(pfn, order);
    const n = 2 ** order;
    pfn += n;
    npages -= n;
    count++;
  }
  return count;
}

/** Number of chunks {@link decomposeRun} would emit, without calling anything. */
export function countNaturalChunks(pfn: number, npages: number): number {
  let count = 0;
  while (npages > 0) {
    const n = 2 ** Math.min(pfnAlignOrder(pfn), ilog2(npages));
    pfn += n;
    npages -= n;
    count++;
  }
  return count;
}

/** Parses a hex (`0x`-prefixed or bare) or decimal-with-suffix size like `4K`, `2M`, `1G`, `0x1000`. */
export function parseSize(text: string): number {
  const t = text.trim();
  const m = /^(0x[0-9a-f]+|[0-9]+)([kmgt]i?b?)?$/i.exec(t);
  if (!m)
    throw new RangeError(
      `size ${JSON.stringify(text)} is invalid: expected a number like 4096, 0x1000, 2M or 1GiB`,
    );
  const base = m[1].toLowerCase().startsWith("0x") ? Number.parseInt(m[1], 16) : Number.parseInt(m[1], 10);
  const unit = (m[2] ?? "").toLowerCase()[0];
  const mult =
    unit === "k" ? 2 ** 10 : unit === "m" ? 2 ** 20 : unit === "g" ? 2 ** 30 : unit === "t" ? 2 ** 40 : 1;
  const v = base * mult;
  if (!Number.isSafeInteger(v)) throw new RangeError(`size ${JSON.stringify(text)} is invalid: too large`);
  return v;
}

/** Parses a hex number (`0x` optional) exactly; rejects anything at or above 2^52 or malformed. */
export function parseHex(what: string, text: string): number {
  const t = text.startsWith("0x") || text.startsWith("0X") ? text.slice(2) : text;
  if (t.length === 0 || t.length > 13 || !/^[0-9a-fA-F]+$/.test(t)) {
    throw new RangeError(`${what} ${JSON.stringify(text)} is invalid: expected a hex number below 2^52`);
  }
  return checkAddr(what, Number.parseInt(t, 16));
}

/** Human-readable binary size: 4096 -> "4 KiB", 1.5 GiB -> "1.5 GiB". */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const s = u === 0 ? String(v) : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${s.replace(/\.0+$|(\.\d*?)0+$/, "$1")} ${units[u]}`;
}
