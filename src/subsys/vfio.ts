/**
 * Mapping a VM's guest memory for device assignment, two ways on the same IOMMU domain model:
 * - {@link VfioType1Container}: drivers/vfio/vfio_iommu_type1.c — VFIO_IOMMU_MAP_DMA pins the
 *   range page at a time in batches of 512 (vfio_pin_pages_remote, VFIO_BATCH_MAX_CAPACITY), merges
 *   physically contiguous pfns into one run and calls iommu_map per run (vfio_pin_map_dma); every
 *   MAP_DMA creates one vfio_dma, at most dma_entry_limit (65,535 = U16_MAX) per container. VM_PFNMAP
 *   ranges (another device's BAR) are followed page by page (vaddr_get_pfns / follow_fault_pfn).
 *   The vfio_dma entries are indexed by IOVA ({@link IovaIntervals}, the kernel's rb-tree), so an
 *   overlap check or an unmap lookup is O(log n) even at the limit.
 * - {@link IommufdIoas}: the range path the design asks for — pinUserRange returns one entry per
 *   contiguous chunk and the list is mapped in one call, one run per entry, walking the IO page
 *   table's leaf tables in order instead of from the root per run (iommufd keeps areas in an
 *   interval tree, here the same {@link IovaIntervals}; no per-container mapping limit). Unmap is one
 *   iommu_unmap and one range unpin per area.
 * Both keep what they pinned so unmapping releases exactly that.
 */
import { checkRange, hex, PAGE_SIZE } from "../core/index.js";
import { VFIO_PIN_BATCH } from "../dma/index.js";
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
import { IovaIntervals } from "./vfio-iova-tree.js";

/** VFIO_BATCH_MAX_CAPACITY: pages pinned per batch (the dma/ page-at-a-time baseline's {@link VFIO_PIN_BATCH}). */
export const VFIO_BATCH = VFIO_PIN_BATCH;
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

/** The unmap ioctls' argument checks: page-aligned IOVA and a non-zero page-multiple size (-EINVAL). */
function checkUnmapArgs(iova: number, size: number): void {
  checkRange("iova", iova, size);
  if (size === 0 || iova % PAGE_SIZE || size % PAGE_SIZE) {
    throw new RangeError(`unmap iova ${hex(iova)}+${hex(size)} is invalid: empty or not page aligned`);
  }
}

/**
 * Records by slot with a free list, so the IOVA index holds small integers and records never move.
 * O(1) per operation.
 */
class SlotTable<T> {
  private readonly items: (T | null)[] = [];
  private readonly free: number[] = [];

  add(x: T): number {
    const s = this.free.pop();
    if (s === undefined) return this.items.push(x) - 1;
    this.items[s] = x;
    return s;
  }

  get(slot: number): T {
    return this.items[slot]!;
  }

  release(slot: number): void {
    this.items[slot] = null;
    this.free.push(slot);
  }
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
  /** The vfio_dma entries by IOVA (iommu->dma_list); slots index {@link dmas}. */
  private readonly tree = new IovaIntervals();
  private readonly dmas = new SlotTable<Type1Dma>();

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
    return this.tree.length;
  }

  /**
   * VFIO_IOMMU_MAP_DMA (vfio_dma_do_map). The overlap check comes first, then the entry limit, as
   * in the kernel: a request that overlaps is EEXIST even when the container is full.
   * Cost: O(log n) lookup, O(pages) pins, O(runs) iommu_map calls.
   * @throws RangeError for unaligned or out-of-range arguments; VfioError "EEXIST" for an IOVA
   *   overlap, "ENOSPC" when dma_entry_limit mappings exist (iommu->dma_avail is 0); PinFailed /
   *   RangeError from pinning. Nothing changes on any error.
   */
  mapDma(va: number, iova: number, size: number, opts: { write?: boolean } = {}): VfioMapStats {
    checkArgs(va, iova, size);
    const tree = this.tree;
    if (tree.findOverlap(iova, iova + size)) {
      throw new VfioError(
        "EEXIST",
        `Cannot map iova ${hex(iova)}+${hex(size)}: overlaps ${hex(tree.foundStart)}+${hex(tree.foundEnd - tree.foundStart)}`,
      );
    }
    if (tree.length >= this.dmaEntryLimit) {
      throw new VfioError(
        "ENOSPC",
        `Cannot map iova ${hex(iova)}+${hex(size)}: the container already holds dma_entry_limit ${this.dmaEntryLimit} mappings`,
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
    tree.insert(iova, iova + size, this.dmas.add(dma));
    return st;
  }

  /**
   * VFIO_IOMMU_UNMAP_DMA with the v2 rules (vfio_dma_do_unmap, iommu->v2): removes every mapping
   * inside [iova, iova + size) (iommu_unmap per run, then unpin); the range must not bisect a
   * mapping; a range holding no mapping succeeds with 0 bytes.
   * Cost: O(log n) lookups plus O(pages) per mapping removed.
   * @returns Bytes unmapped (the ioctl's returned size).
   * @throws RangeError for an empty or unaligned range; VfioError "EINVAL" when the range starts or
   *   ends inside a mapping (nothing changed).
   */
  unmapDma(iova: number, size: number): number {
    checkUnmapArgs(iova, size);
    const tree = this.tree;
    const end = iova + size;
    // vfio_find_dma(iommu, iova, 1) and vfio_find_dma(iommu, iova + size - 1, 0): bisection checks.
    if (tree.bisectedBy(iova, end)) {
      throw new VfioError(
        "EINVAL",
        `Cannot unmap iova ${hex(iova)}+${hex(size)}: bisects the mapping ${hex(tree.foundStart)}+${hex(tree.foundEnd - tree.foundStart)}`,
      );
    }
    const slots: number[] = [];
    tree.collect(iova, end, slots);
    let unmapped = 0;
    for (const slot of slots) {
      const d = this.dmas.get(slot);
      releaseRuns(this, d.runs, d.write, true);
      tree.remove(d.iova);
      this.dmas.release(slot);
      unmapped += d.size;
    }
    return unmapped;
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
  /** Areas by IOVA (iopt->area_itree); slots index {@link areas}. */
  private readonly tree = new IovaIntervals();
  private readonly areas = new SlotTable<IoasArea>();

  /** @param mm the VMM's address space; @param domain a paging IOMMU domain. */
  constructor(
    readonly mm: AddressSpace,
    readonly domain: IommuDomain,
  ) {}

  /** Areas mapped. O(1). */
  get areaCount(): number {
    return this.tree.length;
  }

  /**
   * IOMMU_IOAS_MAP with a fixed IOVA: one range pin, then the list mapped in one call
   * ({@link IommuDomain.mapPhyrs}: one run per entry, leaf tables filled in order).
   * Cost: O(log n) overlap lookup plus O(entries + leaves).
   * @throws RangeError for unaligned or out-of-range arguments; VfioError "EEXIST" on overlap;
   *   PinFailed / RangeError from pinning (nothing left pinned or mapped).
   */
  map(va: number, iova: number, size: number, opts: { write?: boolean } = {}): VfioMapStats {
    checkArgs(va, iova, size);
    const tree = this.tree;
    if (tree.findOverlap(iova, iova + size)) {
      throw new VfioError(
        "EEXIST",
        `Cannot map iova ${hex(iova)}+${hex(size)}: overlaps area ${hex(tree.foundStart)}+${hex(tree.foundEnd - tree.foundStart)}`,
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
    tree.insert(iova, iova + size, this.areas.add({ iova, size, list, write }));
    return { pinOps: list.nents, pinCalls: 1, iommuMaps: maps, trackingBytes: list.byteSize };
  }

  /**
   * IOMMU_IOAS_UNMAP (iommufd_ioas_unmap, iopt_unmap_iova_range): removes every area inside
   * [iova, iova + size), each with one iommu_unmap and one range unpin. An area crossing either end
   * of the range is ENOENT, and so is a range holding no area. The kernel finds a crossing area while
   * walking, after unmapping the areas before it; here both ends are checked first, so a refused
   * unmap changes nothing.
   * Cost: O(log n) lookups plus O(entries) per area removed.
   * @returns Bytes unmapped.
   * @throws RangeError for an empty or unaligned range; VfioError "ENOENT" (nothing changed).
   */
  unmap(iova: number, size: number): number {
    checkUnmapArgs(iova, size);
    const tree = this.tree;
    const end = iova + size;
    if (tree.bisectedBy(iova, end)) {
      throw new VfioError(
        "ENOENT",
        `Cannot unmap iova ${hex(iova)}+${hex(size)}: area ${hex(tree.foundStart)}+${hex(tree.foundEnd - tree.foundStart)} crosses the range`,
      );
    }
    const slots: number[] = [];
    if (tree.collect(iova, end, slots) === 0)
      throw new VfioError("ENOENT", `Cannot unmap iova ${hex(iova)}+${hex(size)}: no area in the range`);
    let unmapped = 0;
    for (const slot of slots) {
      const a = this.areas.get(slot);
      this.domain.unmap(a.iova, a.size);
      unpinPhyrs(this.mm, a.list, { dirty: a.write });
      tree.remove(a.iova);
      this.areas.release(slot);
      unmapped += a.size;
    }
    return unmapped;
  }
}
