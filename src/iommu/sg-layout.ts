/**
 * The IOVA layout of a list of physical segments mapped with dma_map_sg through an IOMMU, as
 * drivers/iommu/dma-iommu.c iommu_dma_map_sg lays it out and drivers/iommu/iommu.c iommu_map_sg
 * maps it. One function serves the DMA path (dma/map.ts) and the cost analysis
 * (analyze/iommu-cost.ts), so both map the same bytes at the same offsets.
 *
 * iommu_dma_map_sg, per segment s in order:
 * - `s_iova_off = iova_offset(iovad, s->offset)`: the in-granule offset is kept; the segment's
 *   IOVA span starts at its granule-aligned physical start and is `iova_align(len + off)` long;
 * - `pad_len = (mask - iova_len + 1) & mask` (mask = dma_get_seg_boundary): when
 *   `pad_len && pad_len < s_length - 1`, the PREVIOUS segment is lengthened by pad_len so this
 *   one starts on the boundary (the IOVA is allocated size-aligned, so offsets from its base decide);
 * - then ONE IOVA range of the total length is allocated (iommu_dma_alloc_iova).
 * iommu_map_sg then walks the segments with their padded lengths and concatenates physically
 * contiguous ones into one iommu_map call each (`s_phys != start + len` starts a new call), so a
 * pad is mapped too, backed by the memory that follows the padded segment.
 *
 * Model departure: segments that are left out (bus-address P2P) do not take part in the layout,
 * and `key` lets a caller keep segments of different providers in separate map calls (the kernel
 * maps one scatterlist with one prot).
 */
import { ADDR_LIMIT, hex, isPow2, modPow2 } from "../core/index.js";

/** Segments to lay out, as struct-of-arrays. */
export interface SgLayoutInput {
  /** Number of segments. */
  readonly n: number;
  /** CPU physical address of each segment's first byte. */
  readonly phys: ArrayLike<number>;
  /** Bytes of each segment (> 0). */
  readonly len: ArrayLike<number>;
  /** Non-zero: the segment bypasses the IOMMU (bus-address P2P) and takes no IOVA. */
  readonly skip?: ArrayLike<number>;
  /** Segments of different keys are never concatenated into one map call (provider index). */
  readonly key?: ArrayLike<number>;
  /**
   * Bytes per unit of `phys` and `len` (default 1): segment i is `phys[i] x unit` bytes
   * `len[i] x unit` long, so page frame numbers and page counts can be laid out without first
   * being copied into byte columns.
   */
  readonly unit?: number;
}

/** The layout: per segment, and the iommu_map calls iommu_map_sg makes. */
export interface SgLayout {
  /** Segments laid out (input order; skipped ones have length 0). */
  readonly n: number;
  /** Offset of each segment's granule-aligned start from the IOVA base. */
  readonly iovaOff: Float64Array;
  /** IOVA bytes of each segment: granule-aligned length plus any boundary pad added after it. */
  readonly iovaLen: Float64Array;
  /** Bytes of boundary pad added after each segment (iommu_dma_map_sg's pad_len). */
  readonly pad: Float64Array;
  /** Total IOVA bytes (what iommu_dma_alloc_iova is asked for). */
  readonly total: number;
  /** Number of iommu_map calls. */
  readonly nmaps: number;
  /** Per map call: offset from the IOVA base, physical start, bytes, key of its segments. */
  readonly mapOff: Float64Array;
  readonly mapPhys: Float64Array;
  readonly mapLen: Float64Array;
  readonly mapKey: Float64Array;
}

/**
 * Lays out `segs` for an IOMMU domain of granule `granule` and a device whose
 * dma_get_seg_boundary() is `segBoundaryMask`. O(n); allocates eight Float64Arrays of n.
 * @param segs the segments (physical addresses and lengths in bytes).
 * @param granule the IOVA granule (smallest IOMMU page size), a power of two.
 * @param segBoundaryMask the device's segment boundary mask (2^k - 1; PCI default 0xffffffff).
 * @returns the layout; `total` is 0 when every segment is skipped.
 * @throws RangeError naming the value for a granule or mask that is not a power of two (minus
 *   one), or a segment with a negative address or a non-positive length.
 * @example
 * // Two 4 KiB segments with a 64 KiB boundary: the second would straddle it, so the first is
 * // padded up to the boundary and the pad is mapped from the memory after the first segment.
 * const lay = iommuDmaSgLayout({ n: 2, phys: [0x10000, 0x80000], len: [0xf000, 0x2000] }, 0x1000, 0xffff);
 * Array.from(lay.iovaOff); // [0, 0x10000]
 * Array.from(lay.pad); // [0x1000, 0]
 * lay.total; // 0x12000
 */
export function iommuDmaSgLayout(segs: SgLayoutInput, granule: number, segBoundaryMask: number): SgLayout {
  if (!isPow2To52(granule)) {
    throw new RangeError(`IOVA granule ${String(granule)} is invalid: expected a power of two`);
  }
  if (!isPow2To52(segBoundaryMask + 1)) {
    throw new RangeError(
      `segment boundary mask ${String(segBoundaryMask)} is invalid: expected a power of two minus one`,
    );
  }
  const n = segs.n;
  const unit = segs.unit ?? 1;
  if (!Number.isInteger(unit) || unit < 1)
    throw new RangeError(`segment unit ${String(unit)} is invalid: expected an integer >= 1`);
  const boundary = segBoundaryMask + 1;
  const iovaOff = new Float64Array(n);
  const iovaLen = new Float64Array(n);
  const pad = new Float64Array(n);
  const mapOff = new Float64Array(n);
  const mapPhys = new Float64Array(n);
  const mapLen = new Float64Array(n);
  const mapKey = new Float64Array(n);
  let total = 0;
  let prev = -1;
  for (let i = 0; i < n; i++) {
    if (segs.skip !== undefined && segs.skip[i] !== 0) continue;
    const p = segs.phys[i] * unit;
    const l = segs.len[i] * unit;
    if (!Number.isInteger(p) || p < 0 || !Number.isInteger(l) || l <= 0) {
      throw new RangeError(
        `segment ${i} ${hex(p)}+${hex(l)} is invalid: expected an address and a length > 0`,
      );
    }
    const off = modPow2(p, granule);
    const sLength = Math.ceil((l + off) / granule) * granule;
    const inBoundary = modPow2(total, boundary);
    const padLen = inBoundary === 0 ? 0 : boundary - inBoundary;
    if (padLen !== 0 && padLen < sLength - 1) {
      iovaLen[prev] += padLen;
      pad[prev] = padLen;
      total += padLen;
    }
    iovaOff[i] = total;
    iovaLen[i] = sLength;
    total += sLength;
    prev = i;
  }
  // iommu_map_sg: one call per run of physically contiguous (padded) segments.
  let nmaps = 0;
  let start = 0;
  let len = 0;
  let key = 0;
  let at = 0;
  for (let i = 0; i < n; i++) {
    if (iovaLen[i] === 0) continue;
    const p = segs.phys[i] * unit;
    const sPhys = p - modPow2(p, granule);
    const k = segs.key === undefined ? 0 : segs.key[i];
    if (len !== 0 && (sPhys !== start + len || k !== key)) {
      mapOff[nmaps] = at;
      mapPhys[nmaps] = start;
      mapLen[nmaps] = len;
      // Keys are zero unless the caller gave some: a zero is not written (the array starts
      // zeroed, and memory never written is never faulted in).
      if (key !== 0) mapKey[nmaps] = key;
      nmaps++;
      at += len;
      len = 0;
    }
    if (len === 0) {
      start = sPhys;
      key = k;
    }
    len += iovaLen[i];
  }
  if (len !== 0) {
    mapOff[nmaps] = at;
    mapPhys[nmaps] = start;
    mapLen[nmaps] = len;
    if (key !== 0) mapKey[nmaps] = key;
    nmaps++;
  }
  return { n, iovaOff, iovaLen, pad, total, nmaps, mapOff, mapPhys, mapLen, mapKey };
}

/** A power of two no larger than 2^52 (core isPow2, bounded to the address space). O(1). */
function isPow2To52(x: number): boolean {
  return x <= ADDR_LIMIT && isPow2(x);
}
