/**
 * Mapping a VM's guest memory for device assignment, two ways on the same IOMMU domain model:
 * - {@link VfioType1Container}: drivers/vfio/vfio_iommu_type1.c — VFIO_IOMMU_MAP_DMA pins the
 *   range page at a time in batches of 512 (vfio_pin_pages_remote, VFIO_BATCH_MAX_CAPACITY), merges
 *   physically contiguous pfns into one run and calls iommu_map per run (vfio_pin_map_dma); every
 *   MAP_DMA creates one vfio_dma, at most dma_entry_limit (65,535 = U16_MAX) per container. VM_PFNMAP
 *   ranges (another device's BAR) are followed page by page (vaddr_get_pfns / follow_fault_pfn).
 * - {@link IommufdIoas}: the range path the design asks for — pinUserRange returns one entry per
 *   contiguous chunk and the list is mapped in one call, one run per entry, walking the IO page
 *   table's leaf tables in order instead of from the root per run (iommufd keeps areas in an
 *   interval tree; no per-container mapping limit). Unmap is one iommu_unmap and one range unpin.
 * Both keep what they pinned so unmapping releases exactly that.
 */
import { checkRange, hex, PAGE_SIZE } from "../core/index.js";
import { type IommuDomain, IommuProt } from "../iommu/index.js";
import {
  type AddressSpace,
  pinUserPages,
  pinUserRange,
  ptePfn,
  unpinPhyrs,
  unpinUserPages,
} from "../mm/index.js";
import type { PhyrList } from "../phyr/index.js";
import { VfioError } from "./errors.js";

/** VFIO_BATCH_MAX_CAPACITY: pages pinned per batch. */
export const VFIO_BATCH = 512;
/** dma_entry_limit default (U16_MAX). */
export const VFIO_DMA_ENTRY_LIMIT = 65535;

/** Work done by one map call. */
export interface VfioMapStats {
  /** Per-page pin (or pfn follow) operations (type1) or range pins (iommufd: entries returned). */
  pinOps: number;
  /** Pin calls (batches for type1, 1 for iommufd). */
  pinCalls: number;
  /** iommu_map calls. */
  iommuMaps: number;
  /** Bytes of the pin's working output: 8 B per page pointer per batch (type1's batch array is reused,
   *  so this is the 4 KiB batch) plus the tracking kept afterwards (type1: none; iommufd: the list). */
  trackingBytes: number;
}

interface Type1Dma {
  iova: number;
  size: number;
  va: number;
  /** Runs as triples [iova, pfn, npages]; pfn -1 for PFNMAP runs (nothing pinned). */
  runs: number[];
  write: boolean;
}

function prot(write: boolean, mmio: boolean): number {
  return IommuProt.READ | (write ? IommuProt.WRITE : 0) | (mmio ? IommuProt.MMIO : IommuProt.CACHE);
}

function checkArgs(va: number, iova: number, size: number): void {
  checkRange("vaddr", va, size);
  checkRange("iova", iova, size);
  if (va % PAGE_SIZE || iova % PAGE_SIZE || size % PAGE_SIZE) {
    throw new RangeError(`map ${hex(va)} -> iova ${hex(iova)}+${hex(size)} is invalid: not page aligned`);
  }
}

/** A VFIO type1 container over one IOMMU domain (UNMANAGED: the caller picks IOVAs). */
export class VfioType1Container {
  /** dma_entry_limit. */
  readonly dmaEntryLimit: number;
  private readonly dmas: Type1Dma[] = [];

  /**
   * @param mm the VMM's address space; @param domain a paging IOMMU domain.
   * @throws RangeError for a bad limit.
   */
  constructor(
    readonly mm: AddressSpace,
    readonly domain: IommuDomain,
    opts: { dmaEntryLimit?: number } = {},
  ) {
    const lim = opts.dmaEntryLimit ?? VFIO_DMA_ENTRY_LIMIT;
    if (!Number.isInteger(lim) || lim < 1 || lim > VFIO_DMA_ENTRY_LIMIT)
      throw new RangeError(`dmaEntryLimit ${lim} is invalid: expected 1..65535`);
    this.dmaEntryLimit = lim;
  }

  /** Live vfio_dma entries. O(1). */
  get dmaCount(): number {
    return this.dmas.length;
  }

  /**
   * VFIO_IOMMU_MAP_DMA. O(pages) pins plus O(runs) iommu_map calls.
   * @throws VfioError "ENOSPC" when dma_entry_limit mappings exist (reported, nothing changed),
   *   "EEXIST" for an IOVA overlap; PinFailed / RangeError from pinning (everything undone).
   */
  mapDma(va: number, iova: number, size: number, opts: { write?: boolean } = {}): VfioMapStats {
    checkArgs(va, iova, size);
    if (this.dmas.length >= this.dmaEntryLimit) {
      throw new VfioError(
        "ENOSPC",
        `Cannot map iova ${hex(iova)}+${hex(size)}: the container already holds dma_entry_limit ${this.dmaEntryLimit} mappings`,
      );
    }
    for (const d of this.dmas) {
      if (iova < d.iova + d.size && d.iova < iova + size)
        throw new VfioError(
          "EEXIST",
          `Cannot map iova ${hex(iova)}+${hex(size)}: overlaps ${hex(d.iova)}+${hex(d.size)}`,
        );
    }
    const write = opts.write ?? true;
    const dma: Type1Dma = { iova, size, va, runs: [], write };
    const st: VfioMapStats = { pinOps: 0, pinCalls: 0, iommuMaps: 0, trackingBytes: 8 * VFIO_BATCH };
    const pfnmap = this.mm.findVma(va)?.kind === "pfnmap";
    let runIova = iova;
    let runPfn = -1;
    let runPages = 0;
    const flush = (): void => {
      if (runPages === 0) return;
      this.domain.map(runIova, runPfn * PAGE_SIZE, runPages * PAGE_SIZE, prot(write, pfnmap));
      dma.runs.push(runIova, pfnmap ? -1 : runPfn, runPages);
      st.iommuMaps++;
      runIova += runPages * PAGE_SIZE;
      runPages = 0;
    };
    try {
      const n = size / PAGE_SIZE;
      for (let done = 0; done < n; ) {
        const want = Math.min(VFIO_BATCH, n - done);
        const a = va + done * PAGE_SIZE;
        let batch: ArrayLike<number>;
        if (pfnmap) {
          const b = new Float64Array(want);
          for (let i = 0; i < want; i++) {
            const e = this.mm.pt.lookup(a + i * PAGE_SIZE);
            b[i] = ptePfn(e) + (a + i * PAGE_SIZE - this.mm.pt.lastBase) / PAGE_SIZE;
          }
          batch = b;
        } else batch = pinUserPages(this.mm, a, want * PAGE_SIZE, { write, longterm: true });
        st.pinCalls++;
        st.pinOps += want;
        for (let i = 0; i < want; i++) {
          const pfn = batch[i];
          if (runPages > 0 && pfn === runPfn + runPages) runPages++;
          else {
            flush();
            runPfn = pfn;
            runPages = 1;
          }
        }
        // Runs stay open across batches; record pages pinned so far for undo.
        done += want;
      }
      flush();
    } catch (e) {
      undoPartial(this, dma, runPfn, runPages, pfnmap);
      throw e;
    }
    this.dmas.push(dma);
    return st;
  }

  /**
   * VFIO_IOMMU_UNMAP_DMA of exactly one earlier mapping: iommu_unmap per run, then unpin. O(pages).
   * @throws VfioError "ENOENT" when no mapping starts at iova with that size (nothing changed).
   */
  unmapDma(iova: number, size: number): void {
    const i = this.dmas.findIndex((d) => d.iova === iova && d.size === size);
    if (i < 0) throw new VfioError("ENOENT", `Cannot unmap iova ${hex(iova)}+${hex(size)}: no such mapping`);
    const d = this.dmas[i];
    releaseRuns(this, d.runs, d.write, true);
    this.dmas.splice(i, 1);
  }
}

/** Undoes a partial type1 map: unmaps mapped runs, unpins every pinned page (mapped or pending). */
function undoPartial(
  c: VfioType1Container,
  dma: Type1Dma,
  runPfn: number,
  runPages: number,
  pfnmap: boolean,
): void {
  releaseRuns(c, dma.runs, dma.write, true);
  if (runPages > 0 && !pfnmap) {
    const pfns = new Float64Array(runPages);
    for (let i = 0; i < runPages; i++) pfns[i] = runPfn + i;
    unpinUserPages(c.mm, pfns);
  }
}

function releaseRuns(c: VfioType1Container, runs: number[], write: boolean, unmap: boolean): void {
  for (let r = 0; r < runs.length; r += 3) {
    const [iova, pfn, npages] = [runs[r], runs[r + 1], runs[r + 2]];
    if (unmap) c.domain.unmap(iova, npages * PAGE_SIZE);
    if (pfn < 0) continue;
    for (let off = 0; off < npages; off += VFIO_BATCH) {
      const k = Math.min(VFIO_BATCH, npages - off);
      const pfns = new Float64Array(k);
      for (let i = 0; i < k; i++) pfns[i] = pfn + off + i;
      unpinUserPages(c.mm, pfns, { dirty: write });
    }
  }
  runs.length = 0;
}

interface IoasArea {
  iova: number;
  size: number;
  list: PhyrList;
  write: boolean;
}

/** An iommufd IOAS over one IOMMU domain, mapping by ranges. */
export class IommufdIoas {
  private readonly areas: IoasArea[] = [];

  /** @param mm the VMM's address space; @param domain a paging IOMMU domain. */
  constructor(
    readonly mm: AddressSpace,
    readonly domain: IommuDomain,
  ) {}

  /** Areas mapped. O(1). */
  get areaCount(): number {
    return this.areas.length;
  }

  /**
   * IOMMU_IOAS_MAP with a fixed IOVA: one range pin, then the list mapped in one call
   * ({@link IommuDomain.mapPhyrs}: one run per entry, leaf tables filled in order). O(entries + leaves).
   * @throws VfioError "EEXIST" on overlap; PinFailed / RangeError from pinning (nothing left pinned
   *   or mapped).
   */
  map(va: number, iova: number, size: number, opts: { write?: boolean } = {}): VfioMapStats {
    checkArgs(va, iova, size);
    for (const a of this.areas) {
      if (iova < a.iova + a.size && a.iova < iova + size)
        throw new VfioError(
          "EEXIST",
          `Cannot map iova ${hex(iova)}+${hex(size)}: overlaps area ${hex(a.iova)}+${hex(a.size)}`,
        );
    }
    const write = opts.write ?? true;
    const list = pinUserRange(this.mm, va, size, { write, longterm: true });
    let maps: number;
    try {
      // One run per entry, leaf tables filled in order (all-or-nothing).
      maps = this.domain.mapPhyrs(iova, list, prot(write, false), prot(write, true));
    } catch (e) {
      unpinPhyrs(this.mm, list);
      throw e;
    }
    this.areas.push({ iova, size, list, write });
    return { pinOps: list.nents, pinCalls: 1, iommuMaps: maps, trackingBytes: list.byteSize };
  }

  /**
   * IOMMU_IOAS_UNMAP of one area: one iommu_unmap, then one range unpin. O(entries).
   * @throws VfioError "ENOENT" when no area starts at iova with that size.
   */
  unmap(iova: number, size: number): void {
    const i = this.areas.findIndex((a) => a.iova === iova && a.size === size);
    if (i < 0) throw new VfioError("ENOENT", `Cannot unmap iova ${hex(iova)}+${hex(size)}: no such area`);
    const a = this.areas[i];
    this.domain.unmap(iova, size);
    unpinPhyrs(this.mm, a.list, { dirty: a.write });
    this.areas.splice(i, 1);
  }
}
