/**
 * O_DIRECT to an NVMe namespace end to end, two ways on the same machine:
 * - "range" (the design): pinUserRange -> PhyrList -> bios as zero-copy views -> split to the queue
 *   limits -> the DMA iterator (block/blk-mq-dma.c blk_rq_dma_map_iter_start): one IOVA per request
 *   through the two-step API when blk_can_dma_map_iova holds, else per-range mapping -> NVMe data
 *   pointer from [dma_addr, len] pairs;
 * - "pages" (the kernel's way, of the release followed): pinUserPages -> struct page * array ->
 *   bvecs merged from the pages -> the same bios and splits -> on 7.2 the DMA iterator as
 *   drivers/nvme/host/pci.c nvme_map_data drives it (one dma_map_phys for a single-segment
 *   request, else one IOVA with a dma_iova_link per segment when blk_can_dma_map_iova holds, else
 *   one dma_map_phys per segment), on 6.12 blk_rq_map_sg into a scatterlist -> dma_map_sg ->
 *   NVMe data pointer.
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
  dmaLimitInputOf,
  dmaMap,
  dmaOptMappingSize,
  dmaUnmap,
} from "../dma/index.js";
import { SG_ENTRY_BYTES, SG_TABLE_BYTES, sgSlots } from "../formats/index.js";
import { type AddressSpace, pinUserPages, pinUserRange, unpinPhyrs, unpinUserPages } from "../mm/index.js";
import { PhyrList, type PhyrRead, phyrFromPfns } from "../phyr/index.js";
import { type DioRange, dioBios } from "./block-dio-bios.js";
import { physGapHits, type QueueLimits } from "./block-limits.js";
import { blkRqFromBio, blkRqMapSg } from "./block-request.js";
import { buildBios, splitBio } from "./block-split.js";
import { DEFAULT_KERNEL_RELEASE, type KernelRelease } from "./kernel-release.js";
import { NVME_CTRL_PAGE_SIZE, type NvmeDmaInput, nvmeMapData } from "./nvme-cmd.js";
import type { NvmeController } from "./nvme-dev.js";
import { nvmeQueueLimits } from "./nvme-limits.js";
import { blkMapIterSegments } from "./nvme-plan.js";

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
 * blk_can_dma_map_iova (block/blk-mq-dma.c, Linux 7.2): a request may be linked into one IOVA
 * range when `req_phys_gap_mask(req) & dma_get_merge_boundary(dev)` is 0: its lowest seam gap
 * (bio_split_io_at's bi_bvec_gap_bit, see bvecSegGap) lies at or above the IOMMU granule. The merge
 * boundary is the granule - 1 behind dma-iommu, 0 without an IOMMU (where dma_iova_try_alloc then
 * fails anyway). O(1).
 * @param physGap the request's lowest seam gap (a power of two below PAGE_SIZE) or 0.
 * @param granule the IOMMU granule in bytes, or 0 without an IOMMU.
 */
export function blkCanDmaMapIova(physGap: number, granule: number): boolean {
  if (granule === 0) return true;
  return !physGapHits(physGap, granule - 1);
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
  /** Kernel release the "pages" path and the default limits follow; default "7.2". */
  release?: KernelRelease;
}

/**
 * The NVMe queue limits the kernel sets for a controller (nvmeQueueLimits): max_hw_sectors capped
 * by dma_opt_mapping_size (drivers/nvme/host/pci.c nvme_pci_alloc_dev): 128 KiB behind dma-iommu
 * (iova_rcache_range), 252 KiB when dma-direct bounces (swiotlb_max_mapping_size with NVMe's
 * min_align_mask NVME_CTRL_PAGE_SIZE - 1), else NVME_MAX_BYTES 8 MiB; then max_sectors at most
 * BLK_DEF_MAX_SECTORS_CAP, max_segments and the virt boundary of the release. O(1).
 */
export function nvmeLimitsFor(
  ctrl: NvmeController,
  release: KernelRelease = DEFAULT_KERNEL_RELEASE,
): QueueLimits {
  const d = dmaLimitInputOf(ctrl.sys, ctrl.dev, NVME_CTRL_PAGE_SIZE - 1);
  return nvmeQueueLimits({
    sglSupported: ctrl.sglSupported,
    dmaOptMappingSize: dmaOptMappingSize(d),
    release,
  });
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
  const release = o.release ?? DEFAULT_KERNEL_RELEASE;
  const limits = o.limits ?? nvmeLimitsFor(ctrl, release);
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
  // A read writes the user pages: FOLL_WRITE. The NVMe queue supports P2PDMA (nvme-pci sets
  // BLK_FEAT_PCI_P2PDMA when dma_pci_p2pdma_supported()), so block/bio.c __bio_iov_iter_get_pages
  // extracts with ITER_ALLOW_P2PDMA, i.e. FOLL_PCI_P2PDMA: P2P pages may be pinned.
  const pinWrite = o.op === "read";
  let list: PhyrList;
  let pages: Float64Array | undefined;
  if (o.path === "range") {
    list = pinUserRange(mm, va, len, { write: pinWrite, p2pdma: true });
    m.pinEntries = list.nents;
    m.pinBytes = list.byteSize;
  } else {
    pages = pinUserPages(mm, va, len, { write: pinWrite, p2pdma: true });
    m.pinEntries = pages.length;
    m.pinBytes = 8 * pages.length;
    // bio_iov_iter_get_pages: bio_add_page merges physically contiguous pages into one bvec.
    list = phyrFromPfns(pages, { store: "wide" });
  }
  try {
    let sector = o.sector;
    // The kernel's bios (dioBios: on 7.2 one bvec per folio-contiguous run of one extraction); the
    // design's bios are views of the range list.
    const bios =
      o.path === "pages" && pages
        ? dioBios(pageRanges(mm, pages), { release, logicalBlockSize: limits.logicalBlockSize })
        : buildBios(list, { logicalBlockSize: limits.logicalBlockSize });
    for (const bio of bios) {
      if (o.path === "pages") {
        m.bvecs += bio.nents;
        m.bvecBytes += 16 * bio.nents;
      } else m.bvecs += bio.nents;
      for (const piece of splitBio(bio, limits)) {
        const req = blkRqFromBio({ list: piece.list, sector, write: o.op === "write" }, limits);
        const port = sys.iommuOf(dev);
        const p2p = piece.list.entry(0).provider !== 0;
        const kernel72 = o.path === "pages" && release === "7.2";
        let toMap: PhyrRead = piece.list;
        if (o.path === "pages" && release === "6.12") {
          const sg = blkRqMapSg(req, limits);
          m.sgEntries += sg.nents;
          m.sgBytes += sgSlots(sg.nents) * SG_ENTRY_BYTES + SG_TABLE_BYTES;
          toMap = sg;
        }
        // 7.2 nvme_map_data: a single-segment request takes setup_data_simple (one dma_map_phys)
        // unless the controller is PRP-only and the segment spans more than two controller pages.
        const first = piece.list.entry(0);
        const simple =
          kernel72 &&
          req.nrPhysSegments === 1 &&
          !p2p &&
          (ctrl.sglSupported || (first.addr % NVME_CTRL_PAGE_SIZE) + first.len <= 2 * NVME_CTRL_PAGE_SIZE);
        // The DMA iterator (range path; 7.2 pages path) or dma_map_sg (6.12 pages path).
        let segs: NvmeDmaInput;
        let release_: () => void;
        let state: DmaIovaState | undefined;
        const iterator = o.path === "range" || (kernel72 && !simple);
        if (iterator && port && !p2p && blkCanDmaMapIova(piece.physGap, port.granule)) {
          state = dmaIovaTryAlloc(sys, dev, first.addr, piece.list.totalBytes);
        }
        if (state) {
          const st = state;
          let off = 0;
          // The design links each list entry; the kernel each blk_map_iter_next segment.
          const parts = kernel72 ? blkMapIterSegments(piece.list, limits) : null;
          try {
            if (parts) {
              for (const s of parts) {
                dmaIovaLink(sys, dev, st, s.phys, off, s.len, dir);
                off += s.len;
              }
            } else {
              for (const c = piece.list.cursor(); !c.done; c.nextEntry()) {
                dmaIovaLink(sys, dev, st, c.entryAddr, off, c.entryLen, dir);
                off += c.entryLen;
              }
            }
          } catch (e) {
            dmaIovaDestroy(sys, dev, st, off, dir);
            throw e;
          }
          dmaIovaSync(st);
          segs = { addr: Float64Array.of(st.addr), len: Float64Array.of(piece.list.totalBytes) };
          release_ = () => dmaIovaDestroy(sys, dev, st, piece.list.totalBytes, dir);
          m.iovaRequests++;
          m.dmaSegments += 1;
          m.dmaBytes += 16;
        } else if (kernel72 && !simple) {
          // One dma_map_phys per iterator segment (each its own IOVA behind dma-iommu); NVMe keeps
          // the [dma_addr, len] pairs to unmap (nvme_pci_prp_save_mapping's dma_vecs).
          const parts = blkMapIterSegments(piece.list, limits);
          const maps: PhyrRead[] = [];
          const addr = new Float64Array(parts.length);
          const len = new Float64Array(parts.length);
          try {
            for (let i = 0; i < parts.length; i++) {
              const one = PhyrList.fromRanges([{ addr: parts[i].phys, len: parts[i].len }], {
                store: "wide",
              });
              const dma = dmaMap(sys, dev, one, dir);
              maps.push(dma);
              addr[i] = dma.entry(0).addr;
              len[i] = parts[i].len;
            }
          } catch (e) {
            for (const d of maps) dmaUnmap(sys, dev, d, dir);
            throw e;
          }
          segs = { addr, len };
          release_ = () => {
            for (const d of maps) dmaUnmap(sys, dev, d, dir);
          };
          m.dmaSegments += parts.length;
          m.dmaBytes += 16 * parts.length;
        } else {
          const dma = dmaMap(sys, dev, toMap, dir);
          segs = dma;
          release_ = () => dmaUnmap(sys, dev, dma, dir);
          m.dmaSegments += dma.nents;
          if (o.path === "range" || kernel72) m.dmaBytes += 16 * dma.nents;
        }
        try {
          const cmd = nvmeMapData(segs, {
            sglSupported: ctrl.sglSupported,
            singlePhysSegment: req.nrPhysSegments === 1 && !p2p,
            physGap: piece.physGap,
            release,
          });
          m.descriptors += cmd.descriptors;
          m.descriptorListBytes += cmd.listBytes;
          if (cmd.mode === "sgl") m.sglRequests++;
          ctrl.execute(o.op, sector, piece.list.totalBytes, cmd);
        } finally {
          release_();
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

/** Each pinned page as a DioRange with the size of its folio (mm.mem's folio table). O(pages). */
function pageRanges(mm: AddressSpace, pages: Float64Array): DioRange[] {
  const f = mm.mem.folios;
  const out: DioRange[] = new Array(pages.length);
  for (let i = 0; i < pages.length; i++) {
    const id = f.folioOfPfn(pages[i]);
    out[i] = {
      addr: pages[i] * PAGE_SIZE,
      len: PAGE_SIZE,
      folioBytes: PAGE_SIZE * 2 ** (id < 0 ? 0 : f.order[id]),
    };
  }
  return out;
}

/** Pages a page-aligned buffer spans (the pages path's page-array length). O(1). */
export function bufferPages(len: number): number {
  return Math.ceil(len / PAGE_SIZE);
}
