/**
 * Baselines: the kernel's current ways of DMA-mapping the same memory, run beside dmaMap() on the
 * same input (ARCHITECTURE.md, "Three ways phyr meets memory"). Both really map: their results are
 * reachable by the device through the same access path as dmaMap()'s, and both are undone by their
 * own unmap.
 *
 * - Scatterlist (dma_map_sg on dma-direct): GUP's struct page * array, merged by
 *   sg_alloc_table_from_pages() into a chained scatterlist (formats/scatterlist.ts), then
 *   dma_direct_map_sg() (kernel/dma/direct.c) walks every entry -- phys_to_dma(), dma_capable() --
 *   and writes sg->dma_address and sg_dma_len() into the table. The table is new storage even when
 *   dma == phys, which is what dmaMap()'s identity return avoids. dma-direct devices only: IOMMU
 *   devices are modelled by dmaMap()'s iommu_dma_map_sg path, and this baseline does not bounce (a
 *   not-capable entry is a DMA_MASK error).
 * - Page at a time (vfio type1's granularity, drivers/vfio/vfio_iommu_type1.c): the buffer's pages
 *   are gathered in batches of 512 (VFIO_BATCH_MAX_CAPACITY, the page array vfio_pin_pages_remote
 *   fills), and every 4 KiB page gets its own iommu_map(), so the IO page table holds 4 KiB leaves
 *   only. (vfio_pin_map_dma merges physically contiguous pfns before iommu_map; this baseline is the
 *   unmerged page-at-a-time case the phyr discussion measures against.) Unmap goes per physically
 *   contiguous run, as vfio_unmap_unpin does.
 */
import { DmaApiError, hex, PAGE_SIZE, VFIO_BATCH_MAX_CAPACITY } from "../core/index.js";
import {
  pagePointerArray,
  SG_CHAIN,
  SG_END,
  type SgTable,
  sgAllocTableFromPages,
  totalPagesTouched,
} from "../formats/index.js";
import type { PhyrRead } from "../phyr/index.js";
import { type DmaDevice, mappingsOf } from "./device.js";
import { dmaCapable, dmaLimit, physToDma, rangeInOneRegion } from "./direct.js";
import { type IommuPort, protOf } from "./iommu-port.js";
import type { BaselineRecord } from "./mappings.js";
import { type DmaSystem, RangeClass } from "./system.js";
import { checkDirection, type DmaDirection } from "./types.js";

/** u32 words per struct scatterlist slot (32 B). */
const SLOT = 8;
const P32 = 0x100000000;
/** High u32 of x86-64 VMEMMAP_START (4-level paging), as formats/scatterlist.ts writes page_link. */
const VMEMMAP_HI = 0xffffea00;

/**
 * The scatterlist the kernel builds for a pinned buffer: the struct page * array of every page the
 * list touches (GUP's output), merged by sg_alloc_table_from_pages(). The list must look like a
 * pinned VA range: only the first entry may start, and only the last may end, inside a page.
 * O(pages).
 * @throws RangeError naming the entry that starts or ends mid-page in the interior.
 */
export function sgTableFromList(list: PhyrRead): SgTable {
  const pages = new Float64Array(totalPagesTouched(list));
  const c = list.cursor();
  let k = 0;
  for (let i = 0; !c.done; c.nextEntry(), i++) {
    const addr = c.entryAddr;
    const end = addr + c.entryLen;
    if ((i > 0 && addr % PAGE_SIZE !== 0) || (i < list.nents - 1 && end % PAGE_SIZE !== 0)) {
      throw new RangeError(
        `entry ${i} ${hex(addr)}+${hex(c.entryLen)} is invalid for a page array: interior entries must start and end on pages`,
      );
    }
    for (let pfn = Math.floor(addr / PAGE_SIZE); pfn * PAGE_SIZE < end; pfn++) pages[k++] = pfn;
  }
  return sgAllocTableFromPages(pagePointerArray(pages), list.entry(0).addr % PAGE_SIZE, list.totalBytes);
}

/**
 * Calls `fn(chunk, word)` for every data slot of a chained table, in order (sg_next()). O(nents).
 */
function forEachSg(sgt: SgTable, fn: (chunk: Uint32Array, w: number) => void): void {
  let seen = 0;
  for (const chunk of sgt.chunks) {
    for (let w = 0; w < chunk.length && seen < sgt.origNents; w += SLOT) {
      if ((chunk[w] & SG_CHAIN) !== 0) break; // chain link: the next chunk follows
      fn(chunk, w);
      seen++;
      if ((chunk[w] & SG_END) !== 0) return;
    }
  }
}

/**
 * The CPU physical address of one slot: page_to_phys(sg_page(sg)) + sg->offset. Inlines
 * formats' pfnOfPagePtr without its validity checks: the table was built here, and the checks cost
 * the baseline ~8 ns per entry (measured), which would flatter the design.
 */
function slotPhys(chunk: Uint32Array, w: number): number {
  const lo = chunk[w] - (chunk[w] & 3); // page_link without SG_CHAIN / SG_END
  const pfn = (((chunk[w + 1] - VMEMMAP_HI) >>> 0) * P32 + lo) / 64; // sizeof(struct page)
  return pfn * PAGE_SIZE + chunk[w + 2];
}

/**
 * True when `sgt` is mapped on `dev` or on any device of `sys` (a table's dma fields hold one
 * mapping). O(devices).
 */
function mappedAnywhere(sys: DmaSystem, dev: DmaDevice, sgt: SgTable): boolean {
  if (mappingsOf(dev).baselineOf(sgt)) return true;
  for (const d of sys.devices.values()) if (mappingsOf(d).baselineOf(sgt)) return true;
  return false;
}

/**
 * dma_map_sg() on a dma-direct device (dma_direct_map_sg): per entry, the page check
 * (is_pci_p2pdma_page; here the model's classification), phys_to_dma() and dma_capable(), then
 * sg->dma_address and sg_dma_len() are written into the table. Never merges:
 * returns nents == orig_nents. Checks every entry before writing any, so an error leaves the table
 * and the machine unchanged. O(nents).
 * @param sgt a table from {@link sgTableFromList} (its dma fields are written).
 * @returns the mapped entry count.
 * @throws RangeError when `dev` has an IOMMU domain or the table is already mapped; DmaApiError
 *   NO_MEMORY naming the first entry that is not memory (P2P and device-private pages are not
 *   handled by this baseline), DMA_MASK naming the first the device cannot reach (no bounce).
 */
export function dmaMapSgDirect(
  sys: DmaSystem,
  dev: DmaDevice,
  sgt: SgTable,
  dir: DmaDirection = "bidirectional",
): number {
  checkDirection(dir);
  if (sys.iommuOf(dev)) {
    throw new RangeError(
      `Cannot map a scatterlist for ${dev.name} with the baseline: the device has an IOMMU domain (dma-direct only)`,
    );
  }
  if (mappedAnywhere(sys, dev, sgt))
    throw new RangeError(`scatterlist for ${dev.name} is invalid: already mapped`);
  // First pass: is_pci_p2pdma_page() per entry (the model's page classification) and dma_capable().
  let bad = -1;
  let memory = true;
  let what = "";
  let i = 0;
  forEachSg(sgt, (chunk, w) => {
    if (bad >= 0) return;
    const phys = slotPhys(chunk, w);
    const len = chunk[w + 3];
    const dma = rangeInOneRegion(dev, phys, len) ? physToDma(dev, phys) : -1;
    memory = sys.classify(phys, len) === RangeClass.MEMORY;
    if (!memory || !dmaCapable(dev, dma, len)) {
      bad = i;
      what = `${hex(phys)}+${hex(len)}`;
    }
    i++;
  });
  if (bad >= 0) {
    throw memory
      ? new DmaApiError(
          "DMA_MASK",
          `Cannot map ${what} for ${dev.name}: scatterlist entry ${bad} is beyond DMA mask ${hex(dmaLimit(dev))} (the baseline does not bounce)`,
        )
      : new DmaApiError(
          "NO_MEMORY",
          `Cannot map ${what} for ${dev.name}: scatterlist entry ${bad} is not memory (the baseline maps RAM and addressable device memory only)`,
        );
  }
  const ranges = sys.debug.enabled ? new Float64Array(2 * sgt.origNents) : undefined;
  let k = 0;
  forEachSg(sgt, (chunk, w) => {
    const dma = physToDma(dev, slotPhys(chunk, w));
    chunk[w + 4] = dma % P32;
    chunk[w + 5] = Math.floor(dma / P32);
    chunk[w + 6] = chunk[w + 3];
    if (ranges) {
      ranges[2 * k] = dma;
      ranges[2 * k + 1] = chunk[w + 3];
    }
    k++;
  });
  mappingsOf(dev).addBaseline(sgt, { dir, iova: 0, size: 0 });
  if (ranges) {
    let size = 0;
    for (let j = 1; j < ranges.length; j += 2) size += ranges[j];
    sys.debug.add(sgt, {
      device: dev.name,
      type: "list",
      dmaAddr: ranges[0],
      size,
      dir,
      phys: slotPhys(sgt.chunks[0], 0),
      ranges,
    });
  }
  return sgt.origNents;
}

/**
 * dma_unmap_sg() on dma-direct: clears every entry's dma fields and forgets the mapping. O(nents).
 * @throws DmaApiError DMA_NOT_MAPPED (also logged by the debug checker) when `sgt` is not mapped
 *   for `dev`, DMA_WRONG_DIR for another direction; nothing changes.
 */
export function dmaUnmapSgDirect(
  sys: DmaSystem,
  dev: DmaDevice,
  sgt: SgTable,
  dir: DmaDirection = "bidirectional",
): void {
  checkDirection(dir);
  takeRecord(sys, dev, sgt, dir, "unmap a scatterlist");
  forEachSg(sgt, (chunk, w) => {
    chunk[w + 4] = 0;
    chunk[w + 5] = 0;
    chunk[w + 6] = 0;
  });
}

/** The DMA addresses written into a mapped table, as [dma, len] pairs. O(nents). */
export function sgDmaRanges(sgt: SgTable): number[] {
  const out: number[] = [];
  forEachSg(sgt, (chunk, w) => out.push(chunk[w + 4] + chunk[w + 5] * P32, chunk[w + 6]));
  return out;
}

/** What {@link iommuMapPageAtATime} did. */
export interface PageAtATimeMapping {
  /** Start of the one IOVA range the buffer occupies (the device address of its first byte). */
  readonly iova: number;
  /** Bytes mapped (the list's total, page aligned). */
  readonly size: number;
  /** Pages mapped, one iommu_map() each. */
  readonly iommuMaps: number;
  /** Pin batches of up to {@link VFIO_BATCH_MAX_CAPACITY} pages. */
  readonly batches: number;
}

/**
 * Maps a pinned buffer into `dev`'s IOMMU domain page at a time: one IOVA range for the buffer,
 * pages gathered 512 at a time, one iommu_map() of PAGE_SIZE per page. The IOMMU trusts the caller
 * (as iommu_map does): entries are not classified. O(pages) iommu_map calls.
 * @param list page-aligned entries (a pinned VA range, as VFIO_IOMMU_MAP_DMA requires).
 * @returns the mapping, to pass to {@link iommuUnmapPageAtATime}.
 * @throws RangeError when `dev` has no paging IOMMU domain, the granule exceeds PAGE_SIZE, or an
 *   entry is not page aligned; IovaExhausted; any IOMMU error after undoing what was mapped.
 */
export function iommuMapPageAtATime(
  sys: DmaSystem,
  dev: DmaDevice,
  list: PhyrRead,
  dir: DmaDirection = "bidirectional",
): PageAtATimeMapping {
  checkDirection(dir);
  const port = sys.iommuOf(dev);
  if (!port || port.granule > PAGE_SIZE) {
    throw new RangeError(
      `Cannot map page at a time for ${dev.name}: ${port ? `IOMMU granule ${hex(port.granule)} exceeds PAGE_SIZE` : "the device has no IOMMU domain"}`,
    );
  }
  const c0 = list.cursor();
  for (let i = 0; !c0.done; c0.nextEntry(), i++) {
    if (c0.entryAddr % PAGE_SIZE !== 0 || c0.entryLen % PAGE_SIZE !== 0) {
      throw new RangeError(
        `entry ${i} ${hex(c0.entryAddr)}+${hex(c0.entryLen)} is invalid for page-at-a-time mapping: not page aligned`,
      );
    }
  }
  const size = list.totalBytes;
  const iova = port.allocIova(size, dmaLimit(dev));
  const prot = protOf(dir, false);
  const batch = new Float64Array(VFIO_BATCH_MAX_CAPACITY);
  let mapped = 0;
  let batches = 0;
  let fill = 0;
  const flush = () => {
    for (let i = 0; i < fill; i++) {
      port.map(iova + mapped, batch[i], PAGE_SIZE, prot);
      mapped += PAGE_SIZE;
    }
    batches++;
    fill = 0;
  };
  try {
    const c = list.cursor();
    for (; !c.done; c.nextEntry()) {
      const end = c.entryAddr + c.entryLen;
      for (let a = c.entryAddr; a < end; a += PAGE_SIZE) {
        batch[fill++] = a;
        if (fill === VFIO_BATCH_MAX_CAPACITY) flush();
      }
    }
    if (fill > 0) flush();
  } catch (e) {
    if (mapped > 0) port.unmap(iova, mapped);
    port.freeIova(iova, size);
    throw e;
  }
  const m: PageAtATimeMapping = { iova, size, iommuMaps: size / PAGE_SIZE, batches };
  mappingsOf(dev).addBaseline(m, { dir, iova, size });
  sys.debug.add(m, {
    device: dev.name,
    type: "list",
    dmaAddr: iova,
    size,
    dir,
    phys: list.entry(0).addr,
    ranges: Float64Array.of(iova, size),
  });
  return m;
}

/**
 * Unmaps a page-at-a-time mapping the way vfio_unmap_unpin does: one iommu_unmap() per physically
 * contiguous run (found with iommu_iova_to_phys page by page), then frees the IOVA. O(pages).
 * @throws DmaApiError DMA_NOT_MAPPED / DMA_DOUBLE_UNMAP when `m` is not live on `dev`; nothing changes.
 */
export function iommuUnmapPageAtATime(
  sys: DmaSystem,
  dev: DmaDevice,
  m: PageAtATimeMapping,
  dir: DmaDirection = "bidirectional",
): void {
  checkDirection(dir);
  const rec = takeRecord(sys, dev, m, dir, "unmap a page-at-a-time mapping");
  const port = sys.iommuOf(dev)!;
  let off = 0;
  while (off < rec.size) {
    const phys = iovaPhys(port, dev, rec.iova + off);
    let len = PAGE_SIZE;
    while (off + len < rec.size && iovaPhys(port, dev, rec.iova + off + len) === phys + len) len += PAGE_SIZE;
    port.unmap(rec.iova + off, len);
    off += len;
  }
  port.freeIova(rec.iova, rec.size);
}

/** iommu_iova_to_phys through the page table (no IOTLB fill, no fault record). */
function iovaPhys(port: IommuPort, dev: DmaDevice, iova: number): number {
  const p = port.iovaToPhys(iova);
  if (p < 0) throw new DmaApiError("DMA_NOT_MAPPED", `${dev.name}: IOVA ${hex(iova)} is not mapped`);
  return p;
}

/** Finds, checks and forgets the record of a baseline mapping. */
function takeRecord(
  sys: DmaSystem,
  dev: DmaDevice,
  key: object,
  dir: DmaDirection,
  what: string,
): BaselineRecord {
  const maps = mappingsOf(dev);
  const rec = maps.baselineOf(key);
  if (!rec) {
    const double = sys.debug.wasUnmapped(key);
    throw sys.debug.violation(
      double ? "DMA_DOUBLE_UNMAP" : "DMA_NOT_MAPPED",
      dev.name,
      `${dev.name}: device driver tries to ${what} ${double ? "it has already unmapped" : "it has not mapped"}`,
    );
  }
  if (rec.dir !== dir) {
    throw sys.debug.violation(
      "DMA_WRONG_DIR",
      dev.name,
      `${dev.name}: device driver tries to ${what} with different direction [mapped as ${rec.dir}] [unmapped as ${dir}]`,
    );
  }
  maps.dropBaseline(key);
  sys.debug.remove(dev.name, key);
  return rec;
}
