/**
 * IOMMU page-size bitmaps and the kernel's page-size choice (drivers/iommu/iommu.c iommu_pgsize).
 *
 * A bitmap is a JS number whose set bits are the supported page sizes (bit k = 2^k bytes). AMD's
 * bitmap reaches bit 51, so every operation here uses arithmetic, never 32-bit operators.
 */
import { lowestBit } from "../core/index.js";

/** Intel VT-d / x86-64 second-stage tables: 4 KiB | 2 MiB | 1 GiB. */
export const PGSIZE_X86 = 0x1000 + 0x200000 + 0x40000000;
/**
 * AMD IOMMU v1 as a 7.2 DMA domain reports it: every power of two from 4 KiB to 2^47 except
 * 512 GiB (drivers/iommu/generic_pt/fmt/amdv1.h amdv1pt_possible_sizes over the levels below a
 * 48-bit hw_max_vasz_lg2, iommu_pt.h get_info; "512GB Pages are not supported due to a hardware
 * bug"), narrowed by amd_iommu_pgsize_bitmap (AMD_IOMMU_PGSIZES keeps all of them).
 */
export const PGSIZE_AMD_V1 = 2 ** 48 - 2 ** 12 - 2 ** 39;
/** ARM LPAE, 4 KiB granule (drivers/iommu/io-pgtable-arm.c): 4 KiB | 2 MiB | 1 GiB. */
export const PGSIZE_ARM_4K = 0x1000 + 0x200000 + 0x40000000;
/** ARM LPAE, 16 KiB granule: 16 KiB | 32 MiB. */
export const PGSIZE_ARM_16K = 0x4000 + 0x2000000;
/** ARM LPAE, 64 KiB granule: 64 KiB | 512 MiB. */
export const PGSIZE_ARM_64K = 0x10000 + 0x20000000;

/** True when bit `k` of the bitmap is set (bitmap below 2^53). O(1). */
export function pgsizeHas(bitmap: number, size: number): boolean {
  if (!Number.isInteger(size) || size < 1 || lowestBit(size) !== size) return false;
  return Math.floor(bitmap / size) % 2 === 1;
}

/** Supported page sizes in ascending order. O(bits). */
export function pgsizeList(bitmap: number): number[] {
  const out: number[] = [];
  let rest = bitmap;
  while (rest > 0) {
    const b = lowestBit(rest);
    out.push(b);
    rest -= b;
  }
  return out;
}

/** The smallest supported page size (the granule): `1 << __ffs(pgsize_bitmap)`. O(1). */
export function minPageSize(bitmap: number): number {
  return lowestBit(bitmap);
}

/**
 * Checks a page-size bitmap: a positive integer below 2^52 with no bit under 4 KiB.
 * @throws RangeError naming the value.
 */
export function checkPgsizeBitmap(bitmap: number): void {
  if (!Number.isInteger(bitmap) || bitmap <= 0 || bitmap >= 2 ** 52 || bitmap % 0x1000 !== 0) {
    throw new RangeError(
      `pgsize bitmap ${String(bitmap)} is invalid: expected a non-empty set of page sizes from 4 KiB to 2^51`,
    );
  }
}

/** Result of {@link iommuPgsize}: map `count` pages of `pgsize` bytes next. */
export interface PgsizeChoice {
  pgsize: number;
  count: number;
}

/**
 * The page size and count `__iommu_map` uses next, exactly as drivers/iommu/iommu.c
 * iommu_pgsize: candidates are the supported sizes <= `size` and <= the alignment of
 * `iova | paddr`; the largest wins. If the next larger supported size could be used later
 * (iova and paddr congruent modulo it) and the range reaches a whole such page past the next
 * boundary, the count stops at that boundary.
 * @param bitmap Supported page sizes.
 * @param iova Start IOVA.
 * @param paddr Start physical address.
 * @param size Bytes left to map (>= the smallest page size).
 * @returns `{ pgsize, count }` with `count >= 1`.
 * @throws RangeError when no supported size fits (the kernel's BUG_ON), naming the inputs.
 * Cost: O(1).
 */
export function iommuPgsize(bitmap: number, iova: number, paddr: number, size: number): PgsizeChoice {
  const out = { pgsize: 0, count: 0 };
  iommuPgsizeInto(bitmap, iova, paddr, size, out);
  return out;
}

/**
 * {@link iommuPgsize} writing into `out` (no allocation; the mapping loops use this).
 * @throws RangeError when no supported size fits.
 * Cost: O(1).
 */
export function iommuPgsizeInto(
  bitmap: number,
  iova: number,
  paddr: number,
  size: number,
  out: PgsizeChoice,
): void {
  const sizes = sizesOf(bitmap);
  // pgsizes = bitmap & GENMASK(__fls(size), 0) & GENMASK(__ffs(iova | paddr), 0): the supported
  // sizes <= size that divide both iova and paddr; take the largest.
  let i = -1;
  for (let j = 0; j < sizes.length; j++) {
    const s = sizes[j];
    if (s > size || !divides(s, iova) || !divides(s, paddr)) break;
    i = j;
  }
  if (i < 0) {
    throw new RangeError(
      `iommu_pgsize(iova 0x${iova.toString(16)}, paddr 0x${paddr.toString(16)}, size 0x${size.toString(16)}) is invalid: no supported page size fits`,
    );
  }
  const pgsize = sizes[i];
  out.pgsize = pgsize;
  // Next larger supported size (bitmap & ~GENMASK(pgsize_idx, 0), lowest bit).
  if (i + 1 < sizes.length) {
    const next = sizes[i + 1];
    const io = iova - Math.floor(iova / next) * next;
    // No point trying a bigger size unless iova and paddr are offset alike within it.
    if (io === paddr - Math.floor(paddr / next) * next) {
      const offset = next - io;
      if (offset + next <= size) size = offset;
    }
  }
  out.count = Math.floor(size / pgsize);
}

/** True when the power of two `s` divides `a` (no float modulo). */
function divides(s: number, a: number): boolean {
  return Math.floor(a / s) * s === a;
}

let cachedBitmap = -1;
let cachedSizes = new Float64Array(0);

/** The sizes of a bitmap, ascending, cached for the last bitmap seen. */
function sizesOf(bitmap: number): Float64Array {
  if (bitmap !== cachedBitmap) {
    cachedSizes = Float64Array.from(pgsizeList(bitmap));
    cachedBitmap = bitmap;
  }
  return cachedSizes;
}
