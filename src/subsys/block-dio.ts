/**
 * O_DIRECT to an NVMe namespace end to end, two ways on the same machine:
 * - "range" (the design): pinUserRange -> PhyrList -> bios as zero-copy views -> split to the queue
 *   limits -> the DMA iterator (block/blk-mq-dma.c blk_rq_dma_map_iter_start): one IOVA per request
 *   through the two-step API when blk_can_dma_map_iova holds, else per-range mapping -> NVMe data
 *   pointer from [dma_addr, len] pairs;
 * - "pages" (today's kernel): pinUserPages -> struct page * array -> bvecs merged from the pages ->
 *   the same bios and splits -> blk_rq_map_sg into a scatterlist -> dma_map_sg -> NVMe data pointer.
 * Both move real bytes in data mode. Metrics count entries, representation bytes, IOMMU map calls
 * and NVMe descriptors.
 */
import { PAGE_SIZE } from "../core/index.js";
import {
  type DmaDirection,
  type DmaIovaState,
  dmaIovaDestroy,
  dmaIovaLink,
  dmaIovaSync,
  dmaIovaTryAlloc,
  dmaMap,
  dmaUnmap,
  SWIOTLB_MAX_MAPPING,
} from "../dma/index.js";
import { SG_ENTRY_BYTES, SG_TABLE_BYTES, sgSlots } from "../formats/index.js";
import { type AddressSpace, pinUserPages, pinUserRange, unpinPhyrs, unpinUserPages } from "../mm/index.js";
import { type PhyrList, type PhyrRead, phyrFromPfns } from "../phyr/index.js";
import { NVME_QUEUE_LIMITS, type QueueLimits } from "./block-limits.js";
import { blkRqFromBio, blkRqMapSg } from "./block-request.js";
import { buildBios, splitBio } from "./block-split.js";
import { type NvmeDmaInput, nvmeMapData } from "./nvme-cmd.js";
import type { NvmeController } from "./nvme-dev.js";

/** Counts from one direct I/O. */
export interface DirectIoMetrics {
  /** Entries the pin produced: ranges (range path) or pages (pages path). */
  pinEntries: number;
  /** Bytes of the pin's output: the PhyrList (range) or 8 B per page pointer (pages). */
  pinBytes: number;
  /** bio_vecs across all bios (16 B each in the pages path; views of the list in the range path). */
  bvecs: number;
  /** Bytes of bvec storage: 16 per bvec (pages path), 0 (range path: bios are list views). */
  bvecBytes: number;
  /** Requests submitted. */
  requests: number;
  /** Scatterlist entries (pages path; 0 in the range path). */
  sgEntries: number;
  /** Bytes of scatterlist tables (32 B per slot + 16 B sg_table per request). */
  sgBytes: number;
  /** DMA segments handed to the controller (sum of mapped nents). */
  dmaSegments: number;
  /** Bytes of the mapped DMA lists (16 B per [dma_addr, len] in the range path, in the sg in the pages path). */
  dmaBytes: number;
  /** IOMMU map calls made by the device's domain (0 without an IOMMU). */
  iommuMaps: number;
  /** NVMe descriptors written (PRP entries / SGL descriptors) and their list bytes. */
  descriptors: number;
  descriptorListBytes: number;
  /** Requests that used SGLs. */
  sglRequests: number;
  /** Requests mapped as one IOVA through dma_iova_try_alloc / dma_iova_link (range path). */
  iovaRequests: number;
}

/**
 * blk_can_dma_map_iova (block/blk-mq-dma.c): a request may be linked into one IOVA range when
 * (virt_boundary_mask + 1) & dma_get_merge_boundary() == 0, the merge boundary being the IOMMU
 * granule - 1 (0 without an IOMMU, where dma_iova_try_alloc then fails anyway). O(1).
 * @param granule the IOMMU granule in bytes, or 0 without an IOMMU.
 */
export function blkCanDmaMapIova(l: QueueLimits, granule: number): boolean {
  if (granule === 0) return true;
  return (l.virtBoundaryMask + 1) % granule === 0;
}

/** Options of {@link nvmeDirectIo}. */
export interface DirectIoOptions {
  /** "write" moves the buffer to the media, "read" the media to the buffer. */
  op: "read" | "write";
  /** First 512-byte LBA. */
  sector: number;
  /** "range" (design) or "pages" (baseline). */
  path: "range" | "pages";
  /** Queue limits; default {@link nvmeLimitsFor} the controller. */
  limits?: QueueLimits;
}

/**
 * The NVMe queue limits for a controller: NVME_QUEUE_LIMITS, with max_sectors capped by
 * dma_opt_mapping_size when the device bounces through swiotlb (swiotlb_max_mapping_size = 128
 * slots of 2 KiB = 256 KiB; drivers/nvme/host/pci.c sets max_hw_sectors from it). O(1).
 */
export function nvmeLimitsFor(ctrl: NvmeController): QueueLimits {
  if (!ctrl.dev.forceSwiotlb) return NVME_QUEUE_LIMITS;
  return {
    ...NVME_QUEUE_LIMITS,
    maxSectors: Math.min(NVME_QUEUE_LIMITS.maxSectors, SWIOTLB_MAX_MAPPING / 512),
  };
}

/**
 * Performs an O_DIRECT read or write of the page-aligned user buffer [va, va+len) on `ctrl`. Pins,
 * maps, executes and releases everything before returning. O(pages) for the pages path, O(ranges +
 * requests) for the range path, plus the bytes moved.
 * @throws RangeError / PinFailed from pinning; BlockError from splitting; DMA and NVMe errors. On an
 *   error everything pinned or mapped so far is released.
 */
export function nvmeDirectIo(
  mm: AddressSpace,
  ctrl: NvmeController,
  va: number,
  len: number,
  o: DirectIoOptions,
): DirectIoMetrics {
  const limits = o.limits ?? nvmeLimitsFor(ctrl);
  const sys = ctrl.sys;
  const dev = ctrl.dev;
  const dir: DmaDirection = o.op === "write" ? "to-device" : "from-device";
  const maps0 = ctrl.domain?.stats.maps ?? 0;
  const m: DirectIoMetrics = {
    pinEntries: 0,
    pinBytes: 0,
    bvecs: 0,
    bvecBytes: 0,
    requests: 0,
    sgEntries: 0,
    sgBytes: 0,
    dmaSegments: 0,
    dmaBytes: 0,
    iommuMaps: 0,
    descriptors: 0,
    descriptorListBytes: 0,
    sglRequests: 0,
    iovaRequests: 0,
  };
  // A read writes the user pages: FOLL_WRITE.
  const pinWrite = o.op === "read";
  let list: PhyrList;
  let pages: Float64Array | undefined;
  if (o.path === "range") {
    list = pinUserRange(mm, va, len, { write: pinWrite });
    m.pinEntries = list.nents;
    m.pinBytes = list.byteSize;
  } else {
    pages = pinUserPages(mm, va, len, { write: pinWrite });
    m.pinEntries = pages.length;
    m.pinBytes = 8 * pages.length;
    // bio_iov_iter_get_pages: bio_add_page merges physically contiguous pages into one bvec.
    list = phyrFromPfns(pages, { store: "wide" });
  }
  try {
    let sector = o.sector;
    for (const bio of buildBios(list, { logicalBlockSize: limits.logicalBlockSize })) {
      if (o.path === "pages") {
        m.bvecs += bio.nents;
        m.bvecBytes += 16 * bio.nents;
      } else m.bvecs += bio.nents;
      for (const piece of splitBio(bio, limits)) {
        const req = blkRqFromBio({ list: piece.list, sector, write: o.op === "write" }, limits);
        let toMap: PhyrRead = piece.list;
        if (o.path === "pages") {
          const sg = blkRqMapSg(req, limits);
          m.sgEntries += sg.nents;
          m.sgBytes += sgSlots(sg.nents) * SG_ENTRY_BYTES + SG_TABLE_BYTES;
          toMap = sg;
        }
        // The DMA iterator (range path) or dma_map_sg (pages path).
        let segs: NvmeDmaInput;
        let release: () => void;
        const port = sys.iommuOf(dev);
        let state: DmaIovaState | undefined;
        const p2p = piece.list.entry(0).provider !== 0;
        if (o.path === "range" && port && !p2p && blkCanDmaMapIova(limits, port.granule)) {
          state = dmaIovaTryAlloc(sys, dev, piece.list.entry(0).addr, piece.list.totalBytes);
        }
        if (state) {
          const st = state;
          let off = 0;
          try {
            for (const c = piece.list.cursor(); !c.done; c.nextEntry()) {
              dmaIovaLink(sys, dev, st, c.entryAddr, off, c.entryLen, dir);
              off += c.entryLen;
            }
          } catch (e) {
            dmaIovaDestroy(sys, dev, st, off, dir);
            throw e;
          }
          dmaIovaSync(st);
          segs = { addr: Float64Array.of(st.addr), len: Float64Array.of(piece.list.totalBytes) };
          release = () => dmaIovaDestroy(sys, dev, st, piece.list.totalBytes, dir);
          m.iovaRequests++;
          m.dmaSegments += 1;
          m.dmaBytes += 16;
        } else {
          const dma = dmaMap(sys, dev, toMap, dir);
          segs = dma;
          release = () => dmaUnmap(sys, dev, dma, dir);
          m.dmaSegments += dma.nents;
          if (o.path === "range") m.dmaBytes += 16 * dma.nents;
        }
        try {
          const cmd = nvmeMapData(segs, {
            sglSupported: ctrl.sglSupported,
            singlePhysSegment: req.nrPhysSegments === 1 && !p2p,
          });
          m.descriptors += cmd.descriptors;
          m.descriptorListBytes += cmd.listBytes;
          if (cmd.mode === "sgl") m.sglRequests++;
          ctrl.execute(o.op, sector, piece.list.totalBytes, cmd);
        } finally {
          release();
        }
        m.requests++;
        sector += piece.list.totalBytes / 512;
      }
    }
  } finally {
    if (pages) unpinUserPages(mm, pages, { dirty: pinWrite });
    else unpinPhyrs(mm, list, { dirty: pinWrite });
  }
  m.iommuMaps = (ctrl.domain?.stats.maps ?? 0) - maps0;
  return m;
}

/** Pages a page-aligned buffer spans (the pages path's page-array length). O(1). */
export function bufferPages(len: number): number {
  return Math.ceil(len / PAGE_SIZE);
}
