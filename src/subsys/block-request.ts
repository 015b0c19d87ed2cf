/**
 * Requests: bios submitted at a sector, merged into requests under the queue limits
 * (block/blk-merge.c blk_try_merge, ll_back_merge_fn, ll_front_merge_fn, bio_will_gap,
 * ll_new_hw_segment) and mapped to segments the way blk_rq_map_sg does (__blk_bios_map_sg:
 * bvecs split by max_segment_size / seg_boundary_mask; the last segment of one bio merges with the
 * first of the next when physically mergeable and within max_segment_size).
 */
import { checkCount, hex } from "../core/index.js";
import { PhyrList, type PhyrRead } from "../phyr/index.js";
import {
  biovecPhysMergeable,
  bvecGapToPrev,
  checkQueueLimits,
  maxSegmentBytes,
  type QueueLimits,
  SECTOR_SIZE,
} from "./block-limits.js";
import { bioSplitAt } from "./block-split.js";
import { BlockError } from "./errors.js";

/** A bio: its bvecs (a list view), the starting sector and the direction. */
export interface Bio {
  list: PhyrList;
  sector: number;
  write: boolean;
}

/** A request: bios in sector order, with the counts the block layer keeps. */
export interface BlockRequest {
  /** First sector. */
  readonly sector: number;
  /** Direction. */
  readonly write: boolean;
  /** The bios, in order. */
  readonly bios: readonly PhyrList[];
  /** Bytes (blk_rq_bytes). */
  readonly bytes: number;
  /** nr_phys_segments: the sum over bios (ll_new_hw_segment). */
  readonly nrPhysSegments: number;
}

/** First and last entry (bvec) of a list, or null when empty. O(chunk capacity). */
function ends(list: PhyrRead): { fa: number; fl: number; la: number; ll: number; prov: number } {
  const f = list.entry(0);
  const l = list.entry(list.nents - 1);
  return { fa: f.addr, fl: f.len, la: l.addr, ll: l.len, prov: f.provider };
}

function checkBio(bio: Bio, l: QueueLimits): void {
  checkCount("bio sector", bio.sector, 2 ** 52);
  if (!(bio.list instanceof PhyrList) || bio.list.nents === 0)
    throw new TypeError("bio.list must be a non-empty PhyrList");
  if (bio.list.totalBytes % l.logicalBlockSize !== 0) {
    throw new BlockError(
      "BIO_ALIGN",
      `bio of ${hex(bio.list.totalBytes)} bytes is not a multiple of the ${l.logicalBlockSize}-byte logical block`,
    );
  }
}

/**
 * A new request from one bio that already fits the limits (after {@link splitBio}). O(entries).
 * @throws BlockError "BIO_TOO_BIG" when the bio would have to be split first; "BIO_ALIGN".
 */
export function blkRqFromBio(bio: Bio, l: QueueLimits): BlockRequest {
  checkQueueLimits(l);
  checkBio(bio, l);
  const p = bioSplitAt(bio.list, l);
  if (p.split) {
    throw new BlockError(
      "BIO_TOO_BIG",
      `bio at sector ${bio.sector} of ${hex(bio.list.totalBytes)} bytes exceeds the queue limits: split it at ${hex(p.bytes)} first`,
    );
  }
  return {
    sector: bio.sector,
    write: bio.write,
    bios: [bio.list],
    bytes: bio.list.totalBytes,
    nrPhysSegments: p.nsegs,
  };
}

/** Result of {@link blkTryMerge}. */
export interface MergeDecision {
  kind: "back" | "front" | "none";
  /** Why not, for "none" ("position", "direction", "gap", "max_sectors", "max_segments", "provider"). */
  reason: string;
  /** Segments of the bio (counted like bio_split_rw_at). */
  nsegs: number;
}

/**
 * bio_will_gap: merging `next` after `prev` leaves a virt-boundary gap. `firstAddr` is the
 * request's first bvec (the kernel refuses when it starts off the boundary).
 */
function willGap(l: QueueLimits, firstAddr: number, prev: PhyrRead, next: PhyrRead): boolean {
  if (l.virtBoundaryMask === 0) return false;
  if (firstAddr % (l.virtBoundaryMask + 1) !== 0) return true;
  const a = ends(prev);
  const b = ends(next);
  if (biovecPhysMergeable(l, a.la, a.ll, b.fa, b.fl)) return false;
  return bvecGapToPrev(l, a.la + a.ll, b.fa);
}

/**
 * Decides whether `bio` merges into `req` at the back (it starts where the request ends) or the
 * front (it ends where the request starts): same direction, same provider (P2P pages of different
 * pgmaps never share a request), no virt-boundary gap, max_sectors and max_segments respected.
 * O(entries of the bio + chunk capacity).
 * @throws BlockError "BIO_TOO_BIG" when the bio itself exceeds the limits; "BIO_ALIGN".
 */
export function blkTryMerge(req: BlockRequest, bio: Bio, l: QueueLimits): MergeDecision {
  checkQueueLimits(l);
  checkBio(bio, l);
  const p = bioSplitAt(bio.list, l);
  if (p.split)
    throw new BlockError(
      "BIO_TOO_BIG",
      `bio at sector ${bio.sector} exceeds the queue limits: split it first`,
    );
  const none = (reason: string): MergeDecision => ({ kind: "none", reason, nsegs: p.nsegs });
  const bioSectors = bio.list.totalBytes / SECTOR_SIZE;
  const reqSectors = req.bytes / SECTOR_SIZE;
  let kind: "back" | "front";
  if (req.sector + reqSectors === bio.sector) kind = "back";
  else if (req.sector - bioSectors === bio.sector) kind = "front";
  else return none("position");
  if (req.write !== bio.write) return none("direction");
  if (ends(req.bios[0]).prov !== ends(bio.list).prov) return none("provider");
  if (kind === "back") {
    if (willGap(l, ends(req.bios[0]).fa, req.bios[req.bios.length - 1], bio.list)) return none("gap");
  } else if (willGap(l, ends(bio.list).fa, bio.list, req.bios[0])) return none("gap");
  if (reqSectors + bioSectors > l.maxSectors) return none("max_sectors");
  if (req.nrPhysSegments + p.nsegs > l.maxSegments) return none("max_segments");
  return { kind, reason: "", nsegs: p.nsegs };
}

/**
 * Merges `bio` into `req` when {@link blkTryMerge} allows it. O(entries of the bio).
 * @returns a new request (the input is unchanged), or null when they do not merge.
 */
export function blkMergeBio(req: BlockRequest, bio: Bio, l: QueueLimits): BlockRequest | null {
  const d = blkTryMerge(req, bio, l);
  if (d.kind === "none") return null;
  const bios = d.kind === "back" ? [...req.bios, bio.list] : [bio.list, ...req.bios];
  return {
    sector: d.kind === "back" ? req.sector : bio.sector,
    write: req.write,
    bios,
    bytes: req.bytes + bio.list.totalBytes,
    nrPhysSegments: req.nrPhysSegments + d.nsegs,
  };
}

/**
 * blk_rq_map_sg's segments for a request: each bvec cut by max_segment_size and seg_boundary_mask;
 * at a bio boundary the first piece merges into the previous segment when physically mergeable and
 * the merged length stays within max_segment_size. O(segments).
 * @returns the segments as a new wide list (CPU physical ranges, flags and providers kept).
 */
export function blkRqMapSg(req: BlockRequest, l: QueueLimits): PhyrList {
  checkQueueLimits(l);
  const out: { addr: number; len: number; flags: number; provider: number }[] = [];
  let bvAddr = -1; // the previous bio's last bvec (bvprv)
  let bvLen = 0;
  for (const bio of req.bios) {
    let first = true;
    for (const c = bio.cursor(); !c.done; c.nextEntry()) {
      const addr = c.entryAddr;
      let len = c.entryLen;
      if (first && out.length > 0) {
        const prev = out[out.length - 1];
        if (
          prev.len + len <= l.maxSegmentSize &&
          prev.provider === c.provider &&
          biovecPhysMergeable(l, bvAddr, bvLen, addr, len)
        ) {
          prev.len += len;
          first = false;
          bvAddr = addr;
          bvLen = len;
          continue;
        }
      }
      first = false;
      bvAddr = addr;
      bvLen = len;
      let pos = addr;
      while (len > 0) {
        const seg = maxSegmentBytes(l, pos, len);
        out.push({ addr: pos, len: seg, flags: c.flags, provider: c.provider });
        pos += seg;
        len -= seg;
      }
    }
  }
  return PhyrList.fromRanges(out, { store: "wide" });
}
