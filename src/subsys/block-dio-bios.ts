/**
 * The bios an O_DIRECT read or write of user memory becomes (block/fops.c __blkdev_direct_IO /
 * __blkdev_direct_IO_simple, block/bio.c bio_iov_iter_get_pages), per release:
 *
 * - 7.2 (lib/iov_iter.c iov_iter_extract_bvecs): a bio is allocated for
 *   bio_iov_vecs_to_alloc(iter, BIO_MAX_VECS) = min(pages left, 256) vectors; each extraction pins
 *   at most `max_vecs - nr_vecs` pages and turns them into bvecs of physically contiguous pages of
 *   ONE folio (get_contig_folio_len); bvecs from different extractions are never merged, so a
 *   2 MiB hugetlb page read through 256-vector bios becomes bvecs of 1 MiB, 1020 KiB and 4 KiB.
 *   The loop runs while pages are left and the bio is not full (bio_full).
 * - 6.12 (bio_iov_add_folio, bvec_try_merge_page): physically contiguous pages merge into the
 *   previous bvec whatever their folio and extraction; a bio holds up to 256 bvecs
 *   ({@link buildBios}).
 *
 * Each bio is trimmed to whole logical blocks (bio_iov_iter_align_down). Cost: O(pages).
 */
import { hex, PAGE_SIZE } from "../core/index.js";
import { PhyrList } from "../phyr/index.js";
import { BIO_MAX_VECS } from "./block-limits.js";
import { buildBios } from "./block-split.js";
import { BlockError } from "./errors.js";
import { DEFAULT_KERNEL_RELEASE, type KernelRelease } from "./kernel-release.js";

/** CPU physical bytes of a user buffer, in VA order, with the size of the folio they sit in. */
export interface DioRange {
  addr: number;
  len: number;
  /** Folio size in bytes (4096 for a base page, 2 MiB for a PMD THP or hugetlb page); folios are naturally aligned. */
  folioBytes: number;
}

/** One page-sized piece of the buffer: what iov_iter_extract_pages returns one `struct page *` for. */
interface PagePiece {
  addr: number;
  len: number;
  /** The folio: its base address and size. */
  folio: number;
  folioBytes: number;
}

function pieces(ranges: readonly DioRange[]): PagePiece[] {
  const out: PagePiece[] = [];
  for (const r of ranges) {
    if (
      !Number.isInteger(r.folioBytes) ||
      r.folioBytes < PAGE_SIZE ||
      (r.folioBytes & (r.folioBytes - 1)) !== 0
    )
      throw new RangeError(`folio size ${String(r.folioBytes)} is invalid: expected a power of two >= 4096`);
    let a = r.addr;
    const end = r.addr + r.len;
    while (a < end) {
      const n = Math.min(end - a, PAGE_SIZE - (a % PAGE_SIZE));
      const last = out[out.length - 1];
      // A range boundary inside a page continues the same page piece.
      if (last && last.addr + last.len === a && a % PAGE_SIZE !== 0) last.len += n;
      else
        out.push({
          addr: a,
          len: n,
          folio: Math.floor(a / r.folioBytes) * r.folioBytes,
          folioBytes: r.folioBytes,
        });
      a += n;
    }
  }
  return out;
}

/**
 * The bios of an O_DIRECT transfer over `ranges` for `release`, each a list of its bvecs (CPU
 * physical ranges, not merged beyond what the kernel merges). O(pages).
 * @throws BlockError "BIO_ALIGN" when the total is not a whole number of logical blocks.
 */
export function dioBios(
  ranges: readonly DioRange[],
  o: { release?: KernelRelease; logicalBlockSize?: number } = {},
): PhyrList[] {
  const release = o.release ?? DEFAULT_KERNEL_RELEASE;
  const lbs = o.logicalBlockSize ?? 512;
  const total = ranges.reduce((a, r) => a + r.len, 0);
  if (total === 0 || total % lbs !== 0) {
    throw new BlockError(
      "BIO_ALIGN",
      `Cannot build O_DIRECT bios for ${hex(total)} bytes: not a non-empty multiple of the ${lbs}-byte logical block`,
    );
  }
  if (release === "6.12") {
    const merged: { addr: number; len: number }[] = [];
    for (const r of ranges) {
      const last = merged[merged.length - 1];
      if (last && last.addr + last.len === r.addr) last.len += r.len;
      else merged.push({ addr: r.addr, len: r.len });
    }
    return buildBios(PhyrList.fromRanges(merged, { store: "wide" }), { logicalBlockSize: lbs });
  }
  const ps = pieces(ranges);
  const bios: PhyrList[] = [];
  let i = 0;
  while (i < ps.length) {
    const maxVecs = Math.min(ps.length - i, BIO_MAX_VECS);
    const bvecs: { addr: number; len: number }[] = [];
    const start = i;
    do {
      const take = Math.min(maxVecs - bvecs.length, ps.length - i);
      // get_contig_folio_len: consecutive pages of one folio, physically contiguous, one bvec.
      for (let k = i; k < i + take; k++) {
        const p = ps[k];
        const last = bvecs[bvecs.length - 1];
        if (k > i && last && ps[k - 1].folio === p.folio && last.addr + last.len === p.addr)
          last.len += p.len;
        else bvecs.push({ addr: p.addr, len: p.len });
      }
      i += take;
    } while (i < ps.length && bvecs.length < maxVecs);
    // bio_iov_iter_align_down: trim to whole logical blocks, give the rest back to the iterator.
    const size = bvecs.reduce((a, b) => a + b.len, 0);
    const excess = size % lbs;
    if (excess !== 0) {
      if (size === excess)
        throw new BlockError(
          "BIO_ALIGN",
          `Cannot build a bio at page ${start}: ${size} B is less than one ${lbs}-byte block`,
        );
      for (let left = excess; left > 0; ) {
        const last = bvecs[bvecs.length - 1];
        const cut = Math.min(left, last.len);
        last.len -= cut;
        left -= cut;
        if (last.len === 0) bvecs.pop();
      }
      for (let left = excess; left > 0; ) {
        const p = ps[i - 1];
        if (p.len <= left) {
          left -= p.len;
          i--;
        } else {
          const keep = p.len - left;
          ps.splice(i, 0, { addr: p.addr + keep, len: left, folio: p.folio, folioBytes: p.folioBytes });
          p.len = keep;
          left = 0;
        }
      }
    }
    bios.push(PhyrList.fromRanges(bvecs, { store: "wide" }));
  }
  return bios;
}
