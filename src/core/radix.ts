/**
 * Sorting run indices by a numeric key without comparisons: an LSD radix sort over the key's
 * integer bits, 14 bits a pass, on typed arrays. Used where millions of runs must be visited in
 * frame order (kpageflags reads); `Array.prototype.sort` with a comparator costs several times
 * more there and allocates boxed indices.
 */

import { modPow2 } from "./addr.js";

const BITS = 14;
const RADIX = 1 << BITS;

/** The low 14 bits of floor(v) for 0 <= v < 2^53, without a floating-point remainder. O(1). */
function digit(v: number): number {
  return modPow2(Math.floor(v), RADIX);
}

/**
 * The indices 0..n-1 ordered by `keys[i]` ascending; equal keys keep index order (stable).
 * A pass reads its 14-bit digit as floor(key / 2^shift) masked (a division by a power of two is
 * exact, and V8 turns it into a multiplication), so no split copy of the keys is made.
 * O(n x passes) time with passes = ceil(keyBits / 14) (3 for frame numbers below 2^40), O(n)
 * extra memory (two index arrays).
 * @param keys integer keys, each in [0, 2^keyBits)
 * @param n number of keys to sort (the first n of `keys`)
 * @param keyBits bits that cover every key (1..52)
 * @returns a new Uint32Array of n indices
 * @throws RangeError for n beyond `keys` or 2^32, or keyBits outside 1..52
 */
export function sortIndicesByKey(keys: ArrayLike<number>, n: number, keyBits: number): Uint32Array {
  if (!Number.isInteger(n) || n < 0 || n > keys.length || n > 0xffffffff)
    throw new RangeError(`count ${n} is invalid: expected 0..${Math.min(keys.length, 0xffffffff)}`);
  if (!Number.isInteger(keyBits) || keyBits < 1 || keyBits > 52)
    throw new RangeError(`keyBits ${keyBits} is invalid: expected 1..52`);
  let src = new Uint32Array(n);
  for (let i = 0; i < n; i++) src[i] = i;
  let dst = new Uint32Array(n);
  const count = new Uint32Array(RADIX);
  for (let shift = 0; shift < keyBits; shift += BITS) {
    const scale = 2 ** -shift;
    count.fill(0);
    for (let i = 0; i < n; i++) count[digit(keys[i] * scale)]++;
    let sum = 0;
    for (let d = 0; d < RADIX; d++) {
      const c = count[d];
      count[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const idx = src[i];
      dst[count[digit(keys[idx] * scale)]++] = idx;
    }
    const t = src;
    src = dst;
    dst = t;
  }
  return src;
}
