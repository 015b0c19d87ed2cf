/**
 * The kernel's O_DIRECT-to-NVMe path as a pure plan: physical ranges of one I/O in, the requests
 * the block layer makes and, per request, the DMA API calls, IOMMU map calls, swiotlb bounces, DMA
 * segments and data-pointer kind the NVMe PCI driver produces. No machine is simulated: this is
 * what the kernel lab's trace is compared with (trace/replay.ts), and it follows one release:
 *
 * - 7.2 (drivers/nvme/host/pci.c nvme_map_data): a request with one physical segment takes
 *   nvme_pci_setup_data_simple (one dma_map_bvec -> dma_map_phys) unless the controller is
 *   PRP-only and the segment spans more than two controller pages; otherwise the DMA iterator
 *   (block/blk-mq-dma.c blk_rq_dma_map_iter_start): when blk_can_dma_map_iova holds
 *   (req_phys_gap_mask & dma_get_merge_boundary == 0) and dma_iova_try_alloc succeeds (dma-iommu),
 *   one IOVA for the request and one dma_iova_link -> iommu_map per iterator segment
 *   (blk_map_iter_next: a bvec cut at get_max_segment_size, merged with following physically
 *   mergeable bvecs); else one dma_map_phys per iterator segment.
 * - 6.12: one physical segment within two pages -> nvme_setup_prp_simple, else (SGL-capable, I/O
 *   queue, sgl_threshold) nvme_setup_sgl_simple, both one dma_map_bvec -> dma_map_page; otherwise
 *   blk_rq_map_sg + dma_map_sgtable: behind dma-iommu iommu_dma_map_sg (one IOVA, each entry's
 *   in-granule offset kept and its length granule-aligned, segment-boundary padding), iommu_map_sg
 *   (one iommu_map per physically contiguous run) and __finalise_sg (IOVA-contiguous entries merged).
 *
 * A dma_map_phys / dma_map_page behind dma-iommu (iommu_dma_map_phys, __iommu_dma_map) maps
 * `iova_align(size + iova_offset(phys))` bytes from `phys - iova_offset(phys)` in one iommu_map.
 * Under dma-direct with swiotlb forced every mapping bounces (swiotlb_map -> swiotlb_bounced).
 */
import { alignUp, hex } from "../core/index.js";
import type { PhyrList } from "../phyr/index.js";
import { type DioRange, dioBios } from "./block-dio-bios.js";
import { physGapHits, type QueueLimits } from "./block-limits.js";
import { splitBio } from "./block-split.js";
import { DEFAULT_KERNEL_RELEASE, type KernelRelease } from "./kernel-release.js";
import { NVME_CTRL_PAGE_SIZE, SGL_THRESHOLD } from "./nvme-cmd.js";

/** The device side the plan needs. */
export interface NvmeKernelDevice {
  /** Release followed; default "7.2". */
  release?: KernelRelease;
  /** The controller supports SGLs (nvme_ctrl_sgl_supported). */
  sglSupported: boolean;
  /** dma-iommu translates for the device (granule = IOVA granule), or null for dma-direct. */
  iommu: { granule: number } | null;
  /** dma-direct bounces every mapping through swiotlb (swiotlb=force). Ignored with an IOMMU. */
  swiotlbForce: boolean;
  /** The queue limits (from nvmeQueueLimits, or read from sysfs). */
  limits: QueueLimits;
  /** sgl_threshold; default 32 KiB. */
  sglThreshold?: number;
}

/** How a request was DMA-mapped. */
export type NvmeMapPath =
  /** One dma_map_bvec of the request's only bvec (7.2 setup_data_simple, 6.12 prp/sgl_simple). */
  | "simple"
  /** 7.2: dma_iova_try_alloc + one dma_iova_link per iterator segment + dma_iova_sync. */
  | "iova"
  /** 7.2: one dma_map_phys per iterator segment. */
  | "phys"
  /** 6.12: blk_rq_map_sg + dma_map_sg. */
  | "sg";

/** One iommu_map() call. `iovaOff` is relative to the start of the IOVA allocation it maps into. */
export interface PlannedIommuMap {
  /** Index of the IOVA allocation (one per dma_map_phys / dma_map_page, one per request otherwise). */
  alloc: number;
  iovaOff: number;
  paddr: number;
  size: number;
}

/** One request's plan. */
export interface NvmeRequestPlan {
  /** Byte offset of the request in the I/O. */
  offset: number;
  /** blk_rq_bytes. */
  bytes: number;
  /** nr_phys_segments. */
  nrPhysSegments: number;
  /** Lowest seam gap (power of two below PAGE_SIZE) or 0. */
  physGap: number;
  path: NvmeMapPath;
  /** CPU ranges handed to the DMA API: each dma_map_phys/page, or each sg entry (6.12 "sg"), or each dma_iova_link ("iova"). */
  dmaMaps: { phys: number; len: number }[];
  /** DMA segments the controller gets, as lengths (dma_map_sg's returned segments, or one per mapping). */
  dmaSegments: number[];
  /** iommu_map() calls in order (empty for dma-direct). */
  iommuMaps: PlannedIommuMap[];
  /** swiotlb bounces in order (sizes), dma-direct with swiotlb forced. */
  bounces: number[];
  /** The data pointer nvme_map_data builds. */
  dataPtr: "prp" | "sgl";
}

/** A whole I/O's plan. */
export interface NvmeIoPlan {
  release: KernelRelease;
  requests: NvmeRequestPlan[];
}

/** One CPU range (a phys_vec / sg entry). */
interface Seg {
  phys: number;
  len: number;
}

/**
 * blk_map_iter_next over a request's bvecs (block/blk-mq-dma.c): each bvec cut at
 * get_max_segment_size(lim, paddr, UINT_MAX) (max_segment_size and the seg_boundary_mask window),
 * and when a bvec is used up, following bvecs merged while physically mergeable
 * (biovec_phys_mergeable: contiguous, one seg_boundary window) and the total stays within that
 * size. O(bvecs).
 */
export function blkMapIterSegments(bvecs: PhyrList, l: QueueLimits): Seg[] {
  const out: Seg[] = [];
  const win = l.segBoundaryMask + 1;
  const list: Seg[] = [];
  for (const c = bvecs.cursor(); !c.done; c.nextEntry()) list.push({ phys: c.entryAddr, len: c.entryLen });
  let i = 0;
  let done = 0; // bytes of list[i] consumed
  while (i < list.length) {
    const paddr = list[i].phys + done;
    const maxSize = Math.min(win - (paddr % win), l.maxSegmentSize, 0xffffffff);
    let len = Math.min(list[i].len - done, maxSize);
    done += len;
    if (done === list[i].len) {
      i++;
      done = 0;
      // Merge whole following bvecs while the iterator sits at a bvec start.
      while (i < list.length) {
        const next = list[i];
        const endAddr = paddr + len;
        const mergeable =
          endAddr === next.phys && Math.floor(paddr / win) === Math.floor((next.phys + next.len - 1) / win);
        if (len + next.len > maxSize || !mergeable) break;
        len += next.len;
        i++;
      }
    }
    out.push({ phys: paddr, len });
  }
  return out;
}

/**
 * blk_rq_map_sg (6.12 block/blk-merge.c __blk_rq_map_sg via the same iterator): the scatterlist
 * entries of a request. Identical to {@link blkMapIterSegments} for one bio. O(bvecs).
 */
export const blkRqMapSgSegments = blkMapIterSegments;

/** dma_map_phys / dma_map_page behind dma-iommu: one allocation, one iommu_map of the aligned range. */
function mapSingle(seg: Seg, granule: number, alloc: number): PlannedIommuMap {
  const off = seg.phys % granule;
  return { alloc, iovaOff: 0, paddr: seg.phys - off, size: alignUp(seg.len + off, granule) };
}

/**
 * 6.12 iommu_dma_map_sg + iommu_map_sg + __finalise_sg for one request's sg entries: one IOVA
 * allocation; per entry the in-granule offset is kept and the length aligned up to the granule;
 * an entry that would cross the device's segment boundary pads the previous one (`pad_len &&
 * pad_len < s_length - 1`); iommu_map_sg maps each run of physically contiguous (aligned, padded)
 * entries with one iommu_map; __finalise_sg merges an entry into the previous DMA segment when it
 * starts on a granule, the previous one ended on one, and the merged length fits max_seg_size.
 * The boundary test on the absolute DMA address (`dma_addr & seg_mask`) is taken as true inside
 * the allocation: a size-aligned IOVA allocation below 4 GiB never crosses the NVMe device's
 * 4 GiB boundary. O(entries).
 */
function mapSg(sg: Seg[], granule: number, segBoundaryMask: number, maxSegSize: number) {
  const lens: number[] = [];
  const offs: number[] = [];
  let iovaLen = 0;
  for (let i = 0; i < sg.length; i++) {
    const off = sg[i].phys % granule;
    const sLength = alignUp(sg[i].len + off, granule);
    const mask = segBoundaryMask;
    const padLen = (mask - (iovaLen % (mask + 1)) + 1) % (mask + 1);
    if (i > 0 && padLen !== 0 && padLen < sLength - 1) {
      lens[i - 1] += padLen;
      iovaLen += padLen;
    }
    lens.push(sLength);
    offs.push(off);
    iovaLen += sLength;
  }
  // iommu_map_sg: runs of physically contiguous aligned entries.
  const maps: PlannedIommuMap[] = [];
  let mapped = 0;
  let start = 0;
  let len = 0;
  for (let i = 0; i < sg.length; i++) {
    const sPhys = sg[i].phys - offs[i];
    if (len !== 0 && sPhys !== start + len) {
      maps.push({ alloc: 0, iovaOff: mapped, paddr: start, size: len });
      mapped += len;
      len = 0;
    }
    if (len !== 0) len += lens[i];
    else {
      len = lens[i];
      start = sPhys;
    }
  }
  if (len !== 0) maps.push({ alloc: 0, iovaOff: mapped, paddr: start, size: len });
  // __finalise_sg.
  const segs: number[] = [];
  let curLen = 0;
  for (let i = 0; i < sg.length; i++) {
    const sLen = sg[i].len;
    if (curLen !== 0 && offs[i] === 0 && curLen + sLen <= maxSegSize) {
      curLen += sLen;
      segs[segs.length - 1] = curLen;
    } else {
      curLen = sLen;
      segs.push(curLen);
    }
    if (sLen + offs[i] < lens[i]) curLen = 0;
  }
  return { maps, segs };
}

/**
 * Plans one request's DMA mapping and data pointer for `d`'s release. O(bvecs).
 * @param bvecs the request's bvecs (one split piece of a bio), CPU physical ranges.
 * @param nrPhysSegments its nr_phys_segments; @param physGap its lowest seam gap.
 */
export function nvmePlanRequest(
  d: NvmeKernelDevice,
  bvecs: PhyrList,
  nrPhysSegments: number,
  physGap: number,
  offset = 0,
): NvmeRequestPlan {
  const release = d.release ?? DEFAULT_KERNEL_RELEASE;
  const threshold = d.sglThreshold ?? SGL_THRESHOLD;
  const bytes = bvecs.totalBytes;
  const g = d.iommu?.granule ?? 0;
  const plan: NvmeRequestPlan = {
    offset,
    bytes,
    nrPhysSegments,
    physGap,
    path: "simple",
    dmaMaps: [],
    dmaSegments: [],
    iommuMaps: [],
    bounces: [],
    dataPtr: "prp",
  };
  const mapEach = (segs: Seg[]): void => {
    for (const s of segs) {
      plan.dmaMaps.push({ phys: s.phys, len: s.len });
      plan.dmaSegments.push(s.len);
      if (g) plan.iommuMaps.push(mapSingle(s, g, plan.iommuMaps.length));
      else if (d.swiotlbForce) plan.bounces.push(s.len);
    }
  };
  const first = bvecs.entry(0);
  const inPage = first.addr % NVME_CTRL_PAGE_SIZE;
  const prpPossible = inPage + first.len <= 2 * NVME_CTRL_PAGE_SIZE;
  if (release === "7.2") {
    // nvme_pci_use_sgls: SGL_FORCED on a gap within the controller page, else SUPPORTED.
    const sgl = d.sglSupported
      ? physGapHits(physGap, NVME_CTRL_PAGE_SIZE - 1)
        ? "forced"
        : "supported"
      : "no";
    if (nrPhysSegments === 1 && (sgl !== "no" || prpPossible)) {
      mapEach([{ phys: first.addr, len: first.len }]);
      plan.dataPtr = sgl === "forced" || !prpPossible ? "sgl" : "prp";
      return plan;
    }
    const segs = blkMapIterSegments(bvecs, d.limits);
    const canIova = g !== 0 && !physGapHits(physGap, g - 1);
    let nseg: number;
    if (canIova) {
      plan.path = "iova";
      const pad = segs[0].phys % g;
      let mapped = 0;
      for (const s of segs) {
        plan.dmaMaps.push({ phys: s.phys, len: s.len });
        const p = mapped === 0 ? pad : 0;
        plan.iommuMaps.push({
          alloc: 0,
          iovaOff: mapped + pad - p,
          paddr: s.phys - p,
          size: alignUp(s.len + p, g),
        });
        mapped += s.len;
      }
      plan.dmaSegments.push(bytes);
      nseg = 1; // blk_rq_dma_map_coalesce
    } else {
      plan.path = "phys";
      mapEach(segs);
      nseg = nrPhysSegments;
    }
    const avg = Math.ceil(bytes / nseg);
    plan.dataPtr =
      sgl === "forced" || (sgl === "supported" && threshold > 0 && avg >= threshold) ? "sgl" : "prp";
    return plan;
  }
  // 6.12 nvme_map_data.
  const sglOk = d.sglSupported && threshold > 0;
  if (nrPhysSegments === 1 && (prpPossible || sglOk)) {
    mapEach([{ phys: first.addr, len: first.len }]);
    plan.dataPtr = prpPossible ? "prp" : "sgl";
    return plan;
  }
  plan.path = "sg";
  const sg = blkRqMapSgSegments(bvecs, d.limits);
  for (const s of sg) plan.dmaMaps.push({ phys: s.phys, len: s.len });
  if (g) {
    const r = mapSg(sg, g, 0xffffffff, 0xffffffff);
    plan.iommuMaps = r.maps;
    plan.dmaSegments = r.segs;
  } else {
    // dma_direct_map_sg never merges; swiotlb=force bounces each entry.
    for (const s of sg) {
      plan.dmaSegments.push(s.len);
      if (d.swiotlbForce) plan.bounces.push(s.len);
    }
  }
  const avg = Math.ceil(bytes / plan.dmaSegments.length);
  plan.dataPtr = sglOk && avg >= threshold ? "sgl" : "prp";
  return plan;
}

/**
 * Plans a whole O_DIRECT I/O: the bios __blkdev_direct_IO builds from the pinned pages
 * ({@link dioBios}: on 7.2 one bvec per folio-contiguous run of one extraction), each split to the
 * queue limits (bio_split_io_at), each piece one request (pieces of one bio are never merged), each
 * request mapped by {@link nvmePlanRequest}. O(pages + requests).
 * @param ranges CPU physical bytes of the I/O in VA order, with their folio sizes.
 * @throws BlockError from building or splitting bios (alignment, unsplittable).
 */
export function nvmePlanIo(d: NvmeKernelDevice, ranges: readonly DioRange[]): NvmeIoPlan {
  const release = d.release ?? DEFAULT_KERNEL_RELEASE;
  const requests: NvmeRequestPlan[] = [];
  const total = ranges.reduce((a, r) => a + r.len, 0);
  let offset = 0;
  for (const bio of dioBios(ranges, { release, logicalBlockSize: d.limits.logicalBlockSize })) {
    for (const piece of splitBio(bio, d.limits)) {
      requests.push(nvmePlanRequest({ ...d, release }, piece.list, piece.nsegs, piece.physGap, offset));
      offset += piece.list.totalBytes;
    }
  }
  if (offset !== total)
    throw new RangeError(`planned ${hex(offset)} of ${hex(total)} bytes: the bios lost bytes`);
  return { release, requests };
}
