/**
 * The one growable typed-array step: a typed array of the same kind with a new capacity, holding
 * the first `keep` elements of the old one. Struct-of-arrays stores call it once per column when
 * they run out of room (doubling keeps appends amortised O(1)).
 */

/** Every typed array kind a store column uses. */
export type TypedColumn = Float64Array | Uint8Array | Uint16Array | Int32Array | Uint32Array;

/**
 * A new array of `a`'s kind with `capacity` elements; the first `keep` are copied from `a` (only
 * those: capacity never written costs no memory until touched, and copying it would fault it in).
 * O(keep).
 * @param a the full column
 * @param capacity the new length, at least `keep`
 * @param keep elements to copy (default: all of `a`)
 * @throws RangeError when `keep` exceeds `a.length` or `capacity`
 */
export function growColumn<T extends TypedColumn>(a: T, capacity: number, keep: number = a.length): T {
  if (keep > a.length || keep > capacity)
    throw new RangeError(`keep ${keep} is invalid: the column holds ${a.length} and the new one ${capacity}`);
  const b = new (a.constructor as new (n: number) => T)(capacity);
  b.set(keep === a.length ? a : a.subarray(0, keep));
  return b;
}
