/**
 * Whole-list operations that build a new list from any PhyrRead: coalescing, boundary splitting,
 * and expansion to PFNs (a reference and test helper). Each reads the input with one cursor and
 * allocates nothing per entry besides the output storage.
 */
import { ADDR_LIMIT, hex, isPow2, PAGE_SIZE } from "../core/index.js";
import { PhyrBuilder } from "./build.js";
import type { PhyrList, PhyrListOptions } from "./list.js";
import type { PhyrRead } from "./types.js";

/**
 * Merges adjacent entries that are physically contiguous, of one provider and with equal flags
 * (the block layer's bvec merge without limits). O(n).
 * @param opts output list options; the store defaults to the input's.
 * @returns a new list.
 *
 * @example
 * ```ts
 * coalesce(PhyrList.fromRanges([{ addr: 0, len: 0x1000 }, { addr: 0x1000, len: 0x1000 }])).toArray();
 * // [{ addr: 0, len: 0x2000, flags: 0, provider: 0 }]
 * ```
 */
export function coalesce(list: PhyrRead, opts: PhyrListOptions = {}): PhyrList {
  const b = new PhyrBuilder({ store: list.store, ...opts, merge: true });
  for (const c = list.cursor(); !c.done; c.nextEntry()) b.add(c.entryAddr, c.entryLen, c.flags, c.provider);
  return b.finish();
}

/**
 * Splits every entry at each multiple of `boundary` (a power of two), keeping flags and provider,
 * so no entry crosses a boundary (like a seg_boundary_mask of boundary - 1). O(n + pieces).
 * @param opts output list options; the store defaults to the input's.
 * @throws RangeError when boundary is not a power of two in 1..2^52.
 *
 * @example
 * ```ts
 * splitAtBoundary(PhyrList.fromRanges([{ addr: 0xf000, len: 0x2000 }]), 0x10000).toArray();
 * // [{ addr: 0xf000, len: 0x1000, flags: 0, provider: 0 }, { addr: 0x10000, len: 0x1000, flags: 0, provider: 0 }]
 * ```
 */
export function splitAtBoundary(list: PhyrRead, boundary: number, opts: PhyrListOptions = {}): PhyrList {
  if (!isPow2(boundary) || boundary > ADDR_LIMIT) {
    throw new RangeError(`boundary ${String(boundary)} is invalid: expected a power of two in 1..2^52`);
  }
  const b = new PhyrBuilder({ store: list.store, ...opts });
  for (const c = list.cursor(); !c.done; c.nextEntry()) {
    let addr = c.entryAddr;
    let left = c.entryLen;
    while (left > 0) {
      const piece = Math.min(left, boundary - (addr % boundary));
      b.add(addr, piece, c.flags, c.provider);
      addr += piece;
      left -= piece;
    }
  }
  return b.finish();
}

/**
 * Every page frame number each entry touches, in list order (a page shared by two entries appears
 * twice). O(pages).
 * @returns a Float64Array of PFNs.
 * @throws RangeError when the result would exceed 2^31 pages.
 */
export function toPfns(list: PhyrRead): Float64Array {
  let count = 0;
  for (const c = list.cursor(); !c.done; c.nextEntry()) count += pagesOf(c.entryAddr, c.entryLen);
  if (count > 2 ** 31) throw new RangeError(`toPfns: ${hex(count)} pages is too many to expand`);
  const out = new Float64Array(count);
  let i = 0;
  for (const c = list.cursor(); !c.done; c.nextEntry()) {
    const firstPfn = Math.floor(c.entryAddr / PAGE_SIZE);
    const n = pagesOf(c.entryAddr, c.entryLen);
    for (let j = 0; j < n; j++) out[i++] = firstPfn + j;
  }
  return out;
}

function pagesOf(addr: number, len: number): number {
  return Math.floor((addr + len - 1) / PAGE_SIZE) - Math.floor(addr / PAGE_SIZE) + 1;
}
