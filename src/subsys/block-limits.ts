/**
 * Block queue limits (include/linux/blkdev.h struct queue_limits, block/blk-settings.c) and the
 * per-segment arithmetic shared by splitting and merging (block/blk-merge.c, block/blk.h).
 * All masks are 2^k - 1 and applied with `%`, never 32-bit operators (addresses exceed 2^32).
 */
import { hex, isPow2, PAGE_SIZE } from "../core/index.js";
import { BlockError } from "./errors.js";
import { DEFAULT_KERNEL_RELEASE, type KernelRelease } from "./kernel-release.js";

/** 512-byte sectors (SECTOR_SHIFT 9). */
export const SECTOR_SIZE = 512;
/** BIO_MAX_VECS: bvecs per bio (include/linux/bio.h). */
export const BIO_MAX_VECS = 256;
/** bi_size is an unsigned int: a bio carries at most UINT_MAX bytes. */
export const UINT_MAX = 0xffffffff;

/** The queue limits the model follows (a subset of struct queue_limits). */
export interface QueueLimits {
  /** Most segments in one request (max_segments). */
  maxSegments: number;
  /** Largest segment in bytes (max_segment_size). */
  maxSegmentSize: number;
  /** A segment never crosses a (mask + 1)-aligned boundary (seg_boundary_mask). */
  segBoundaryMask: number;
  /** 0, or 2^k - 1: interior segment boundaries must be (mask + 1)-aligned (virt_boundary_mask). */
  virtBoundaryMask: number;
  /** Largest request in 512-byte sectors (max_sectors). */
  maxSectors: number;
  /** Logical block size in bytes (a power of two, 512..65536); splits are aligned to it. */
  logicalBlockSize: number;
}

/**
 * BLK_DEF_MAX_SECTORS_CAP: blk_validate_limits (block/blk-settings.c) caps max_sectors for regular
 * I/O at min(max_hw_sectors, this). Linux 7.2: `SZ_4M >> SECTOR_SHIFT` = 8192 sectors, 4 MiB
 * (block/blk.h, raised in 6.16); 6.12: 2560 sectors, 1280 KiB (include/linux/blkdev.h). O(1).
 */
export function blkDefMaxSectorsCap(release: KernelRelease = DEFAULT_KERNEL_RELEASE): number {
  return release === "6.12" ? 2560 : 8192;
}

/**
 * blk_set_default_limits / blk_validate_limits defaults (Linux 7.2): BLK_MAX_SEGMENTS 128,
 * BLK_MAX_SEGMENT_SIZE 65536, BLK_SEG_BOUNDARY_MASK 0xFFFFFFFF, no virt boundary, and max_sectors
 * at BLK_DEF_MAX_SECTORS_CAP 8192 (4 MiB), logical block 512.
 */
export const DEFAULT_QUEUE_LIMITS: Readonly<QueueLimits> = Object.freeze({
  maxSegments: 128,
  maxSegmentSize: 65536,
  segBoundaryMask: 0xffffffff,
  virtBoundaryMask: 0,
  maxSectors: 8192,
  logicalBlockSize: 512,
});

/**
 * NVMe PCI on Linux 7.2 for a PRP-only controller with no DMA size limit (dma-direct, no bouncing):
 * virt_boundary_mask NVME_CTRL_PAGE_SIZE - 1, max_segment_size UINT_MAX, max_segments
 * min(max_hw_sectors / 8 + 1, NVME_MAX_SEGS 256) = 256, max_hw_sectors NVME_MAX_BYTES 8 MiB capped
 * to max_sectors 8192 (4 MiB), 512-byte logical blocks. {@link nvmeQueueLimits} derives the limits
 * for any controller, DMA path and release.
 */
export const NVME_QUEUE_LIMITS: Readonly<QueueLimits> = Object.freeze({
  maxSegments: 256,
  maxSegmentSize: UINT_MAX,
  segBoundaryMask: 0xffffffff,
  virtBoundaryMask: 0xfff,
  maxSectors: 8192,
  logicalBlockSize: 512,
});

/** True when `m` is 2^k - 1 for some k >= 0 (m < 2^52). */
function isMask(m: number): boolean {
  return Number.isInteger(m) && m >= 0 && isPow2(m + 1);
}

/**
 * Validates queue limits (the checks of blk_validate_limits that matter here). Returns them.
 * @throws BlockError (code "BAD_LIMITS") naming the field and value.
 */
export function checkQueueLimits(l: QueueLimits): QueueLimits {
  const bad = (field: string, v: number, why: string): never => {
    throw new BlockError(
      "BAD_LIMITS",
      `queue limit ${field} ${Number.isInteger(v) ? hex(v) : String(v)} is invalid: ${why}`,
    );
  };
  if (!Number.isInteger(l.maxSegments) || l.maxSegments < 1 || l.maxSegments > 0xffff)
    bad("maxSegments", l.maxSegments, "expected 1..65535");
  if (!Number.isInteger(l.maxSegmentSize) || l.maxSegmentSize < 4096 || l.maxSegmentSize > UINT_MAX)
    bad("maxSegmentSize", l.maxSegmentSize, "expected 4096..UINT_MAX");
  if (!isMask(l.segBoundaryMask) || l.segBoundaryMask < 4095)
    bad("segBoundaryMask", l.segBoundaryMask, "expected 2^k - 1 >= 0xfff");
  if (!isMask(l.virtBoundaryMask) || l.virtBoundaryMask > 0xffff)
    bad("virtBoundaryMask", l.virtBoundaryMask, "expected 0 or 2^k - 1 <= 0xffff");
  if (
    !Number.isInteger(l.logicalBlockSize) ||
    !isPow2(l.logicalBlockSize) ||
    l.logicalBlockSize < 512 ||
    l.logicalBlockSize > 65536
  )
    bad("logicalBlockSize", l.logicalBlockSize, "expected a power of two in 512..65536");
  if (
    !Number.isInteger(l.maxSectors) ||
    l.maxSectors * SECTOR_SIZE < l.logicalBlockSize ||
    l.maxSectors > 2 ** 32 / SECTOR_SIZE
  )
    bad("maxSectors", l.maxSectors, "expected at least one logical block and below 2^23");
  return l;
}

/**
 * get_max_segment_size (block/blk-merge.c): bytes of a segment starting at `paddr` with `len`
 * bytes available, limited by max_segment_size and the next seg_boundary_mask boundary. O(1).
 */
export function maxSegmentBytes(l: QueueLimits, paddr: number, len: number): number {
  const window = l.segBoundaryMask + 1;
  return Math.min(len, window - (paddr % window), l.maxSegmentSize);
}

/**
 * __bvec_gap_to_prev (block/blk.h): with a virt boundary, a bvec starting at `nextAddr` after one
 * ending at `prevEnd` leaves a gap unless both sit on the boundary. The kernel tests the in-page
 * offsets (bv_offset); for masks below PAGE_SIZE that equals the physical address modulo mask + 1.
 */
export function bvecGapToPrev(l: QueueLimits, prevEnd: number, nextAddr: number): boolean {
  if (l.virtBoundaryMask === 0) return false;
  const b = l.virtBoundaryMask + 1;
  return nextAddr % b !== 0 || prevEnd % b !== 0;
}

/**
 * biovec_phys_mergeable (block/blk.h): two bvecs merge into one segment when physically
 * contiguous and the merged range stays inside one seg_boundary_mask window. O(1).
 */
export function biovecPhysMergeable(
  l: QueueLimits,
  addr1: number,
  len1: number,
  addr2: number,
  len2: number,
): boolean {
  if (addr1 + len1 !== addr2) return false;
  const window = l.segBoundaryMask + 1;
  return Math.floor(addr1 / window) === Math.floor((addr2 + len2 - 1) / window);
}

/**
 * bvec_seg_gap (block/blk-merge.c, via __bvec_gap in block/blk.h): the bits of
 * `next.bv_offset | (prev.bv_offset + prev.bv_len)` at one seam between bvecs; bio_split_io_at ORs
 * them over a bio and keeps ffs() as bi_bvec_gap_bit, and req_phys_gap_mask() turns the lowest one
 * into "every bit from here up". Returns the lowest set bit of that value below PAGE_SIZE, or 0 when
 * both sides of the seam are page aligned. Bits at PAGE_SIZE and above come from bv_offset, which
 * is not the physical address for multi-page bvecs; no mask tested against the gap in the kernel
 * reaches them (dma_get_merge_boundary() is below PAGE_SIZE, NVMe tests NVME_CTRL_PAGE_SIZE - 1). O(1).
 */
export function bvecSegGap(prevEnd: number, nextAddr: number): number {
  const v = (prevEnd % PAGE_SIZE) | (nextAddr % PAGE_SIZE);
  return v & -v;
}

/**
 * `req_phys_gap_mask(req) & mask` != 0 (include/linux/blk-mq.h): the request's lowest seam gap
 * `physGap` (a power of two from {@link bvecSegGap}, or 0) falls inside `mask`. O(1).
 */
export function physGapHits(physGap: number, mask: number): boolean {
  return physGap !== 0 && physGap <= mask;
}
