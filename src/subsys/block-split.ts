/**
 * Bios from a pinned range list, and bio splitting under queue limits (block/blk-merge.c
 * bio_split_rw_at, bvec_split_segs; block/bio.c bio_iov_iter_get_pages). A bio is a zero-copy
 * PhyrList view: its entries are the multi-page bvecs. Splitting returns views too, so splitting a
 * 1 GiB O_DIRECT write copies no range.
 */
import { alignDown, hex } from "../core/index.js";
import type { PhyrList, PhyrRead } from "../phyr/index.js";
import {
  BIO_MAX_VECS,
  bvecGapToPrev,
  bvecSegGap,
  checkQueueLimits,
  maxSegmentBytes,
  type QueueLimits,
  SECTOR_SIZE,
  UINT_MAX,
} from "./block-limits.js";
import { BlockError } from "./errors.js";

/** Where bio_split_rw_at would cut a bio. */
export interface SplitPoint {
  /** True when the bio exceeds the limits and must be cut at `bytes`. */
  split: boolean;
  /** Bytes of the first part (the whole bio when `split` is false); a multiple of the logical block. */
  bytes: number;
  /** Physical segments in the first part (nr_phys_segments). */
  nsegs: number;
  /**
   * The lowest seam gap of the first part (bio_split_io_at's bi_bvec_gap_bit as a power of two
   * below PAGE_SIZE, see bvecSegGap), 0 when every seam is page aligned or there is one bvec.
   */
  physGap: number;
}

/** get_max_io_size for a block-aligned bio: max_sectors in bytes, rounded down to the logical block. */
export function maxIoBytes(l: QueueLimits): number {
  return alignDown(l.maxSectors * SECTOR_SIZE, l.logicalBlockSize);
}

/**
 * bio_split_rw_at: walks the bvecs counting segments (each bvec cut by max_segment_size and
 * seg_boundary_mask, a virt-boundary gap forcing a split) until max_segments or max_sectors is
 * reached; the split size is rounded down to the logical block size. O(entries in the first part).
 * @param bio the bio's bvecs (entries), e.g. a view from {@link buildBios}.
 * @throws BlockError "BIO_UNSPLITTABLE" when the first part would be empty (the kernel's bio_split
 *   WARN + -EINVAL): nothing fits the limits.
 */
export function bioSplitAt(bio: PhyrRead, l: QueueLimits): SplitPoint {
  checkQueueLimits(l);
  const maxBytes = maxIoBytes(l);
  const virt = l.virtBoundaryMask + 1;
  let nsegs = 0;
  let bytes = 0;
  let prevEnd = -1;
  let split = false;
  let physGap = 0;
  for (const c = bio.cursor(); !c.done; c.nextEntry()) {
    const addr = c.entryAddr;
    const bvLen = c.entryLen;
    if (prevEnd >= 0 && bvecGapToPrev(l, prevEnd, addr)) {
      split = true;
      break;
    }
    if (prevEnd >= 0) {
      // bio_split_io_at: gaps |= bvec_seg_gap(bvprvp, &bv); ffs(gaps) is the lowest seam gap.
      const g = bvecSegGap(prevEnd, addr);
      if (g !== 0 && (physGap === 0 || g < physGap)) physGap = g;
    }
    // bvec_split_segs
    const maxLen = Math.min(maxBytes, UINT_MAX) - bytes;
    let len = Math.min(bvLen, maxLen);
    let total = 0;
    while (len > 0 && nsegs < l.maxSegments) {
      const seg = maxSegmentBytes(l, addr + total, len);
      nsegs++;
      total += seg;
      len -= seg;
      if (virt > 1 && (addr + total) % virt !== 0) break;
    }
    bytes += total;
    if (len > 0 || bvLen > maxLen) {
      split = true;
      break;
    }
    prevEnd = addr + bvLen;
  }
  if (!split) return { split, bytes, nsegs, physGap };
  const aligned = alignDown(bytes, l.logicalBlockSize);
  if (aligned === 0) {
    throw new BlockError(
      "BIO_UNSPLITTABLE",
      `Cannot split bio of ${hex(bio.totalBytes)} bytes at ${hex(bio.nents > 0 ? bio.entry(0).addr : 0)}: no whole logical block of ${l.logicalBlockSize} B fits the queue limits (${bytes} B in ${nsegs} segments)`,
    );
  }
  // Segments of the trimmed part: recount (the trim can only drop trailing segments).
  return {
    split,
    bytes: aligned,
    nsegs: aligned === bytes ? nsegs : countSegments(bio, aligned, l),
    physGap,
  };
}

/** Segments bio_split_rw_at counts over the first `bytes` of `bio` (no limits on count). O(entries). */
function countSegments(bio: PhyrRead, bytes: number, l: QueueLimits): number {
  const virt = l.virtBoundaryMask + 1;
  let nsegs = 0;
  let left = bytes;
  for (const c = bio.cursor(); !c.done && left > 0; c.nextEntry()) {
    const addr = c.entryAddr;
    let len = Math.min(c.entryLen, left);
    left -= len;
    let total = 0;
    while (len > 0) {
      const seg = maxSegmentBytes(l, addr + total, len);
      nsegs++;
      total += seg;
      len -= seg;
      if (virt > 1 && (addr + total) % virt !== 0 && len > 0) break;
    }
  }
  return nsegs;
}

/** One request-sized piece of a bio after splitting. */
export interface BioPiece {
  /** Zero-copy view of the piece's bytes. */
  list: PhyrList;
  /** Its physical segments (nr_phys_segments). */
  nsegs: number;
  /** Its lowest seam gap (see {@link SplitPoint.physGap}). */
  physGap: number;
}

/**
 * Splits a bio until every piece fits the limits (the loop of __bio_split_to_limits /
 * bio_submit_split). O(entries + pieces * (log chunks + chunk capacity)).
 * @returns the pieces in order; their bytes sum to the bio's.
 * @throws BlockError "BIO_UNSPLITTABLE" (see {@link bioSplitAt}); "BIO_ALIGN" when the bio is not a
 *   whole number of logical blocks. The input is never modified.
 */
export function splitBio(bio: PhyrList, l: QueueLimits): BioPiece[] {
  checkQueueLimits(l);
  if (bio.totalBytes % l.logicalBlockSize !== 0) {
    throw new BlockError(
      "BIO_ALIGN",
      `Cannot split bio of ${hex(bio.totalBytes)} bytes: not a multiple of the ${l.logicalBlockSize}-byte logical block`,
    );
  }
  const pieces: BioPiece[] = [];
  let off = 0;
  let rest = bio;
  while (off < bio.totalBytes) {
    const p = bioSplitAt(rest, l);
    if (!p.split) {
      pieces.push({ list: rest, nsegs: p.nsegs, physGap: p.physGap });
      break;
    }
    pieces.push({ list: bio.slice(off, p.bytes), nsegs: p.nsegs, physGap: p.physGap });
    off += p.bytes;
    rest = bio.slice(off, bio.totalBytes - off);
  }
  return pieces;
}

/** Options of {@link buildBios}. */
export interface BuildBiosOptions {
  /** Logical block size (each bio is trimmed to a multiple); default 512. */
  logicalBlockSize?: number;
  /** bvecs per bio; default BIO_MAX_VECS 256. */
  maxVecs?: number;
}

/**
 * Cuts a pinned list into the bios __blkdev_direct_IO would submit for an O_DIRECT transfer
 * (block/fops.c, block/bio.c bio_iov_iter_get_pages): a bio takes bvecs (the list's entries, already
 * merged runs) until it holds `maxVecs` of them or UINT_MAX bytes, never mixes providers (P2P pages of
 * different pgmaps never share a bio), and is trimmed to a whole number of logical blocks (the rest
 * starts the next bio). O(entries + bios * (log chunks + chunk capacity)).
 * @returns zero-copy views, in order.
 * @throws BlockError "BIO_ALIGN" when the total is not a multiple of the logical block or a bio
 *   would hold no whole block.
 */
export function buildBios(list: PhyrList, opts: BuildBiosOptions = {}): PhyrList[] {
  const lbs = opts.logicalBlockSize ?? 512;
  const maxVecs = opts.maxVecs ?? BIO_MAX_VECS;
  if (!Number.isInteger(maxVecs) || maxVecs < 1)
    throw new RangeError(`maxVecs ${maxVecs} is invalid: expected an integer >= 1`);
  if (!Number.isInteger(lbs) || lbs < 512 || (lbs & (lbs - 1)) !== 0)
    throw new RangeError(`logicalBlockSize ${lbs} is invalid: expected a power of two >= 512`);
  if (list.totalBytes === 0 || list.totalBytes % lbs !== 0) {
    throw new BlockError(
      "BIO_ALIGN",
      `Cannot build O_DIRECT bios for ${hex(list.totalBytes)} bytes: not a non-empty multiple of the ${lbs}-byte logical block`,
    );
  }
  const bios: PhyrList[] = [];
  const total = list.totalBytes;
  const maxBio = alignDown(UINT_MAX, lbs);
  let start = 0; // list byte where the current bio begins
  while (start < total) {
    const rest = start === 0 ? list : list.slice(start, total - start);
    let bytes = 0;
    let vecs = 0;
    let provider = -1;
    for (const c = rest.cursor(); !c.done && vecs < maxVecs && bytes < maxBio; c.nextEntry()) {
      if (vecs > 0 && c.provider !== provider) break;
      provider = c.provider;
      bytes += Math.min(c.entryLen, maxBio - bytes);
      vecs++;
    }
    const size = alignDown(bytes, lbs);
    if (size === 0) {
      throw new BlockError(
        "BIO_ALIGN",
        `Cannot build a bio at list byte ${hex(start)}: its ${vecs} bvecs hold ${bytes} B, less than one ${lbs}-byte block`,
      );
    }
    bios.push(list.slice(start, size));
    start += size;
  }
  return bios;
}
