/**
 * RDMA page-size selection and translation-entry counts (drivers/infiniband/core/umem.c
 * ib_umem_find_best_pgsz, include/rdma/ib_umem.h ib_umem_num_dma_blocks).
 *
 * Page-size bitmaps are numbers whose set bits are supported sizes (bit k = 2^k bytes, up to
 * 2^51); the bit math uses arithmetic, not 32-bit operators.
 */
import { checkAddr, checkLen, hex, ilog2, lowestBit, PAGE_SIZE } from "../core/index.js";
import { pgsizeHas } from "../iommu/index.js";
import type { PhyrRead } from "../phyr/index.js";
import { RdmaError } from "./errors.js";

/** Bitmap of 4 KiB, 2 MiB and 1 GiB (the common MTT page sizes). */
export const PGSZ_4K_2M_1G = 0x1000 + 0x200000 + 0x40000000;

/** Checks a page-size bitmap: an integer in [1, 2^52) with at least one bit of 4 KiB or more. */
function checkBitmap(bitmap: number): void {
  if (!Number.isInteger(bitmap) || bitmap <= 0 || bitmap >= 2 ** 52) {
    throw new RangeError(`page-size bitmap ${String(bitmap)} is invalid: expected an integer in 1..2^52-1`);
  }
}

/** Highest set bit of a XOR b (both below 2^52) as a bit count (bits_per), 1 when equal. */
function bitsPerXor(a: number, b: number): number {
  const ah = Math.floor(a / 0x100000000);
  const bh = Math.floor(b / 0x100000000);
  const hi = (ah ^ bh) >>> 0;
  if (hi !== 0) return 32 + ilog2(hi) + 1;
  const lo = ((a % 0x100000000) ^ (b % 0x100000000)) >>> 0;
  return lo === 0 ? 1 : ilog2(lo) + 1;
}

/**
 * ib_umem_find_best_pgsz: the largest size in `pgszBitmap` such that every DMA segment's address
 * agrees with its VA below it, every interior DMA discontinuity falls on a VA aligned to it, and it
 * is no larger than the smallest supported size covering [va, va + length) (the
 * GENMASK(bits_per((len - 1 + va) ^ va)) term). Segments that continue the previous one's DMA range
 * are merged first, as the kernel does, so a split inside a contiguous run costs nothing.
 * O(segments), no allocation.
 * @param dma the registration's DMA segments (after dma_map_sg), byte-granular: the first starts at
 *   the buffer's first byte (the kernel adds pgoff to a page-aligned sg address; same value).
 * @param va the MR's virtual address (umem->iova).
 * @returns the page size, or 0 when none fits (the driver then fails the registration).
 * @throws RangeError for a bad bitmap or VA.
 */
export function umemFindBestPgsz(dma: PhyrRead, pgszBitmap: number, va: number): number {
  checkBitmap(pgszBitmap);
  checkAddr("va", va);
  const length = dma.totalBytes;
  if (length === 0) return 0;
  checkAddr("va end", va + length - 1);
  // mask = bitmap & GENMASK(63, bits_per(...)): its lowest set bit bounds the page size.
  const b = bitsPerXor(length - 1 + va, va);
  let limit = Number.POSITIVE_INFINITY; // 2^ctz(mask)
  for (let k = b; k < 52; k++) {
    if (pgsizeHas(pgszBitmap, 2 ** k)) {
      limit = 2 ** k;
      break;
    }
  }
  let cur = va;
  let dmaEnd = -1; // end of the previous segment's DMA range (curr_base + curr_len)
  for (const c = dma.cursor(); !c.done; c.nextEntry()) {
    // A segment DMA-contiguous with the previous one continues it: neither its address nor the VA
    // at the join constrains the page size (the kernel's `end != sg_dma_address(sg)` test).
    if (c.entryAddr !== dmaEnd) {
      // mask |= (curr_base + pgoff) ^ va: ctz(x ^ y) == ctz(x - y) for x != y.
      if (c.entryAddr !== cur) limit = Math.min(limit, lowestBit(Math.abs(c.entryAddr - cur)));
      // mask |= va at every discontinuity after the first segment.
      if (dmaEnd >= 0 && cur !== 0) limit = Math.min(limit, lowestBit(cur));
    }
    cur += c.entryLen;
    dmaEnd = c.entryAddr + c.entryLen;
  }
  let best = 0;
  for (let k = 0; k < 52 && 2 ** k <= limit; k++) if (pgsizeHas(pgszBitmap, 2 ** k)) best = 2 ** k;
  return best;
}

/**
 * ib_umem_num_dma_blocks: translation (MTT) entries for [iova, iova + length) in `pgsz` pages:
 * (ALIGN(iova + length, pgsz) - ALIGN_DOWN(iova, pgsz)) / pgsz. O(1).
 * @throws RangeError for a bad page size (not a power of two >= 4 KiB) or range.
 */
export function umemNumDmaBlocks(iova: number, length: number, pgsz: number): number {
  checkAddr("iova", iova);
  checkLen("length", length);
  if (!Number.isInteger(pgsz) || pgsz < PAGE_SIZE || lowestBit(pgsz) !== pgsz) {
    throw new RangeError(`page size ${String(pgsz)} is invalid: expected a power of two >= 4096`);
  }
  const first = Math.floor(iova / pgsz);
  const end = Math.ceil((iova + length) / pgsz);
  return end - first;
}

/**
 * The page size an on-demand-paging MR uses (ib_umem_find_best_pgsz's is_odp branch): its fixed
 * page_shift when the device supports it. O(1).
 * @throws RdmaError "PGSZ_UNSUPPORTED" when the device does not support that size.
 */
export function odpPageSize(pgszBitmap: number, pageShift = 12): number {
  checkBitmap(pgszBitmap);
  const size = 2 ** pageShift;
  if (!pgsizeHas(pgszBitmap, size)) {
    throw new RdmaError(
      "PGSZ_UNSUPPORTED",
      `ODP page size ${hex(size)} is not in the device's page-size bitmap ${hex(pgszBitmap)}`,
    );
  }
  return size;
}
