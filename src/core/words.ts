/**
 * 64-bit words handled as two 32-bit halves (no BigInt on hot paths). `lo` and `hi` are
 * unsigned 32-bit numbers. Used for pagemap entries, kpageflags and compact encodings.
 */

/** Value of bits [shift, shift+width) of a 64-bit word given as halves (width <= 32, field below bit 53 if it spans). */
export function bits64(lo: number, hi: number, shift: number, width: number): number {
  if (shift >= 32) return Math.floor((hi >>> 0) / 2 ** (shift - 32)) % 2 ** width;
  if (shift + width <= 32) return Math.floor((lo >>> 0) / 2 ** shift) % 2 ** width;
  const low = Math.floor((lo >>> 0) / 2 ** shift);
  const high = (hi >>> 0) % 2 ** (shift + width - 32);
  return low + high * 2 ** (32 - shift);
}

/** Test of one bit of a 64-bit word given as halves. */
export function bit64(lo: number, hi: number, n: number): boolean {
  return n >= 32 ? ((hi >>> (n - 32)) & 1) === 1 : ((lo >>> n) & 1) === 1;
}

/** Splits a number below 2^53 into [lo, hi] halves. */
export function splitWord(value: number): [number, number] {
  return [(value % 0x100000000) >>> 0, Math.floor(value / 0x100000000) >>> 0];
}

/** Joins halves into a number (exact when hi < 2^21). */
export function joinWord(lo: number, hi: number): number {
  return (hi >>> 0) * 0x100000000 + (lo >>> 0);
}
