/**
 * VFIO type1 as in Linux 7.2 (drivers/vfio/vfio_iommu_type1.c): a container that maps a VMM's
 * memory into one IOMMU domain the way VFIO_IOMMU_MAP_DMA does today. The kernel side of the VFIO
 * scenarios; the range path (design) and iommufd's own pinning are in iommufd.ts.
 *
 * - vfio_dma_do_map checks, in the kernel's order: an IOVA overlap (-EEXIST), dma_entry_limit
 *   (65,535 = U16_MAX, -ENOSPC), then vfio_iommu_iova_dma_valid (the range must lie inside one of
 *   the container's valid IOVA ranges, -EINVAL).
 * - vfio_pin_pages_remote returns one physically contiguous run per call, refilling a batch of
 *   VFIO_BATCH_MAX_CAPACITY (512) page pointers through vaddr_get_pfns -> pin_user_pages_remote
 *   (FOLL_LONGTERM); leftover batch pages carry into the next call. Each batch is consumed by
 *   contiguous chunks (num_pages_contiguous), so a large folio is one step, not 512.
 * - VM_PFNMAP ranges (another device's BAR) are followed, not pinned: follow_fault_pfn returns the
 *   pfn and the leaf's addr_mask, and vaddr_get_pfns returns every pfn to the end of that leaf
 *   (epfn = (pfn | ~addr_mask >> PAGE_SHIFT) + 1; min(npages, epfn - pfn)): one call per 4 KiB,
 *   2 MiB or 1 GiB leaf (huge PFNMAP).
 * - RLIMIT_MEMLOCK: pages with a struct page are charged to mm->locked_vm (vfio_lock_acct ->
 *   mm_lock_acct); reserved pfns (BARs) are not. Without CAP_IPC_LOCK, a run that would take
 *   locked_vm past the limit fails the map with -ENOMEM.
 * - Unmap (vfio_unmap_unpin): one iommu_unmap per physically contiguous chunk, then
 *   vfio_unpin_pages_remote unpins the chunk as one range (put_valid_unreserved_pfns ->
 *   unpin_user_page_range_dirty_lock, dirtying when mapped writable) unless the mapping holds
 *   reserved pfns (dma->has_rsvd: put_pfn per page); locked_vm is uncharged.
 * - Reserved pfns are BAR pfns (no struct page) and PageReserved pages: the shared zero page, which
 *   a read-only MAP_DMA of never-written memory gets; they are neither charged nor unpinned.
 * - Every run is mapped with dma->prot | domain->prot (IOMMU_CACHE on a coherent x86 domain), BARs
 *   included: type1 never asks for IOMMU_MMIO.
 * The vfio_dma entries are indexed by IOVA ({@link IovaIntervals}, the kernel's rb-tree), so an
 * overlap check or an unmap lookup is O(log n) even at the limit.
 */
import { hex, PAGE_SIZE, VFIO_BATCH_MAX_CAPACITY } from "../core/index.js";
import type { IommuDomain } from "../iommu/index.js";
import { type AddressSpace, pinUserPages, ptePfn, unpinUserPageRange, unpinUserPages } from "../mm/index.js";
import { VfioError } from "./errors.js";
import { checkMapArgs, checkUnmapArgs, mapProt, SlotTable, type VfioMapStats } from "./vfio-common.js";
import { IovaIntervals } from "./vfio-iova-tree.js";

export type { VfioMapStats } from "./vfio-common.js";

/** dma_entry_limit default (U16_MAX). */
export const VFIO_DMA_ENTRY_LIMIT = 65535;
/** The x86 IOAPIC / MSI window every Intel and AMD IOMMU group reports as reserved (IOMMU_RESV_MSI). */
export const X86_MSI_WINDOW = { start: 0xfee00000, end: 0xfeefffff } as const;

/** An inclusive IOVA range of the container (struct vfio_iova). */
export interface VfioIovaRange {
  start: number;
  end: number;
}

/** Options of a type1 container. */
export interface VfioType1Options {
  /** dma_entry_limit (1..65535). Default 65535. */
  dmaEntryLimit?: number;
  /**
   * The container's valid IOVA ranges (iommu->iova_list, inclusive ends): the domain aperture minus
   * the groups' reserved regions. Default: [0, apertureEnd] minus {@link X86_MSI_WINDOW}, where
   * apertureEnd is 2^(the page-table format's IOVA bits) - 1. An empty list accepts every IOVA,
   * as the kernel's does for an mdev-only container.
   */
  iovaRanges?: readonly VfioIovaRange[];
  /** RLIMIT_MEMLOCK in bytes. Default Infinity (RLIM_INFINITY). */
  memlockLimit?: number;
  /** CAP_IPC_LOCK at MAP_DMA time (dma->lock_cap): charge locked_vm but never refuse. Default false. */
  lockCap?: boolean;
}

/** What one VFIO_IOMMU_UNMAP_DMA did. */
export interface VfioUnmapStats {
  /** Bytes unmapped (the ioctl's returned size). */
  bytes: number;
  /** iommu_unmap calls (one per physically contiguous chunk). */
  iommuUnmaps: number;
  /** Unpin calls: unpin_user_page_range_dirty_lock per chunk, or put_pfn per page with reserved pfns. */
  unpinCalls: number;
  /** Pages uncharged from locked_vm. */
  unlockedPages: number;
}

interface Type1Dma {
  iova: number;
  size: number;
  va: number;
  /** Runs as quads [iova, pfn, npages, reserved 0/1]. */
  runs: number[];
  write: boolean;
  /** dma->has_rsvd: some run is reserved (PFNMAP). */
  hasRsvd: boolean;
  /** dma->locked_vm: pages this mapping charged. */
  locked: number;
}

/** A VFIO type1 container over one IOMMU domain (UNMANAGED: the caller picks IOVAs). */
export class VfioType1Container {
  /** dma_entry_limit. */
  readonly dmaEntryLimit: number;
  /** The valid IOVA ranges (iommu->iova_list). */
  readonly iovaRanges: readonly VfioIovaRange[];
  /** RLIMIT_MEMLOCK in pages. */
  readonly memlockLimitPages: number;
  /** CAP_IPC_LOCK. */
  readonly lockCap: boolean;
  /** The vfio_dma entries by IOVA (iommu->dma_list); slots index {@link dmas}. */
  private readonly tree = new IovaIntervals();
  private readonly dmas = new SlotTable<Type1Dma>();

  /**
   * @param mm the VMM's address space; @param domain a paging IOMMU domain.
   * @throws RangeError for a bad limit, IOVA range or memlock limit.
   */
  constructor(
    readonly mm: AddressSpace,
    readonly domain: IommuDomain,
    opts: VfioType1Options = {},
  ) {
    const lim = opts.dmaEntryLimit ?? VFIO_DMA_ENTRY_LIMIT;
    if (!Number.isInteger(lim) || lim < 1 || lim > VFIO_DMA_ENTRY_LIMIT)
      throw new RangeError(`dmaEntryLimit ${lim} is invalid: expected 1..65535`);
    this.dmaEntryLimit = lim;
    const bits = domain.format?.iovaBits ?? 48;
    const top = 2 ** Math.min(bits, 52) - 1;
    const ranges = opts.iovaRanges ?? [
      { start: 0, end: X86_MSI_WINDOW.start - 1 },
      { start: X86_MSI_WINDOW.end + 1, end: top },
    ];
    for (const r of ranges) {
      if (
        !Number.isInteger(r.start) ||
        !Number.isInteger(r.end) ||
        r.start < 0 ||
        r.end < r.start ||
        r.end >= 2 ** 52
      )
        throw new RangeError(
          `IOVA range ${hex(r.start)}-${hex(r.end)} is invalid: expected 0 <= start <= end < 2^52`,
        );
    }
    this.iovaRanges = ranges.map((r) => ({ start: r.start, end: r.end }));
    const ml = opts.memlockLimit ?? Number.POSITIVE_INFINITY;
    if (!(ml >= 0)) throw new RangeError(`memlockLimit ${String(ml)} is invalid: expected bytes >= 0`);
    this.memlockLimitPages = Math.floor(ml / PAGE_SIZE);
    this.lockCap = opts.lockCap ?? false;
  }

  /** Live vfio_dma entries. O(1). */
  get dmaCount(): number {
    return this.tree.length;
  }

  /** vfio_iommu_iova_dma_valid: [start, end] (inclusive) inside one valid range. O(ranges). */
  iovaValid(start: number, end: number): boolean {
    if (this.iovaRanges.length === 0) return true;
    return this.iovaRanges.some((r) => start >= r.start && end <= r.end);
  }

  /**
   * VFIO_IOMMU_MAP_DMA (vfio_dma_do_map -> vfio_pin_map_dma). Cost: O(log n) lookup, O(pages / 512)
   * pin calls of O(folios) each, O(runs) iommu_map calls.
   * @throws RangeError for unaligned or out-of-range arguments; VfioError "EEXIST" for an IOVA
   *   overlap, "ENOSPC" when dma_entry_limit mappings exist, "EINVAL" for an IOVA outside the
   *   valid ranges, "ENOMEM" when RLIMIT_MEMLOCK would be exceeded; PinFailed / MemError from
   *   pinning. Nothing changes on any error (locked_vm included).
   */
  mapDma(va: number, iova: number, size: number, opts: { write?: boolean } = {}): VfioMapStats {
    checkMapArgs(va, iova, size);
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
    if (!this.iovaValid(iova, iova + size - 1)) {
      throw new VfioError(
        "EINVAL",
        `Cannot map iova ${hex(iova)}+${hex(size)}: outside the container's valid IOVA ranges (vfio_iommu_iova_dma_valid)`,
      );
    }
    const write = opts.write ?? true;
    const dma: Type1Dma = { iova, size, va, runs: [], write, hasRsvd: false, locked: 0 };
    const st: VfioMapStats = {
      pinOps: 0,
      pinCalls: 0,
      iommuMaps: 0,
      trackingBytes: 8 * VFIO_BATCH_MAX_CAPACITY,
      lockedPages: 0,
    };
    const pin = new Type1Pinner(this, dma, st);
    try {
      let done = 0;
      const n = size / PAGE_SIZE;
      while (done < n) {
        const run = pin.pinPagesRemote(va + done * PAGE_SIZE, n - done);
        const runIova = iova + done * PAGE_SIZE;
        try {
          // vfio_iommu_map: dma->prot | domain->prot -- IOMMU_CACHE on a cache-coherent domain, for
          // BAR pfns too (type1 has no IOMMU_MMIO).
          this.domain.map(runIova, run.pfn * PAGE_SIZE, run.npages * PAGE_SIZE, mapProt(write, false));
        } catch (e) {
          // vfio_pin_map_dma: vfio_unpin_pages_remote(dma, iova, pfn, npage, true) on a map failure.
          if (!run.rsvd) unpinUserPageRange(this.mm, run.pfn, run.npages);
          this.mm.lockedVm -= run.charged;
          dma.locked -= run.charged;
          throw e;
        }
        dma.runs.push(runIova, run.pfn, run.npages, run.rsvd ? 1 : 0);
        st.iommuMaps++;
        done += run.npages;
      }
    } catch (e) {
      pin.releaseBatch();
      this.releaseRuns(dma);
      throw e;
    }
    tree.insert(iova, iova + size, this.dmas.add(dma));
    st.lockedPages = dma.locked;
    return st;
  }

  /**
   * VFIO_IOMMU_UNMAP_DMA with the v2 rules (vfio_dma_do_unmap, iommu->v2): removes every mapping
   * inside [iova, iova + size); the range must not bisect a mapping; a range holding no mapping
   * succeeds with 0 bytes. Cost: O(log n) lookups plus O(chunks + folios) per mapping removed.
   * @returns Bytes unmapped (the ioctl's returned size).
   * @throws RangeError for an empty or unaligned range; VfioError "EINVAL" when the range starts or
   *   ends inside a mapping (nothing changed).
   */
  unmapDma(iova: number, size: number): number {
    return this.unmapDmaStats(iova, size).bytes;
  }

  /** {@link unmapDma}, returning what it did. Same cost and errors. */
  unmapDmaStats(iova: number, size: number): VfioUnmapStats {
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
    const st: VfioUnmapStats = { bytes: 0, iommuUnmaps: 0, unpinCalls: 0, unlockedPages: 0 };
    for (const slot of slots) {
      const d = this.dmas.get(slot);
      st.iommuUnmaps += d.runs.length / 4;
      st.unlockedPages += d.locked;
      st.unpinCalls += this.releaseRuns(d);
      tree.remove(d.iova);
      this.dmas.release(slot);
      st.bytes += d.size;
    }
    return st;
  }

  /** vfio_unmap_unpin: unmaps and unpins every run, uncharges locked_vm. @returns unpin calls. */
  private releaseRuns(d: Type1Dma): number {
    let calls = 0;
    const r = d.runs;
    for (let i = 0; i < r.length; i += 4) {
      const [iova, pfn, npages, rsvd] = [r[i], r[i + 1], r[i + 2], r[i + 3]];
      this.domain.unmap(iova, npages * PAGE_SIZE);
      if (d.hasRsvd) {
        // put_pfn per page: reserved pfns are skipped, the others unpinned one by one.
        calls += npages;
        if (rsvd) continue;
        for (let k = 0; k < npages; k++) unpinUserPages(this.mm, [pfn + k], { dirty: d.write });
      } else {
        calls++;
        unpinUserPageRange(this.mm, pfn, npages, { dirty: d.write });
      }
    }
    r.length = 0;
    this.mm.lockedVm -= d.locked;
    d.locked = 0;
    return calls;
  }
}

/**
 * vfio_pin_pages_remote and its vfio_batch for one MAP_DMA: the batch of page pointers (pfns
 * here) survives between calls, as the kernel's does within vfio_pin_map_dma.
 */
class Type1Pinner {
  private batch: Float64Array = new Float64Array(0);
  private off = 0;
  private left = 0;

  constructor(
    private readonly c: VfioType1Container,
    private readonly dma: Type1Dma,
    private readonly st: VfioMapStats,
  ) {}

  /**
   * One vfio_pin_pages_remote call: pins (or follows) the longest physically contiguous run of at
   * most `npage` pages from `vaddr` and charges it to locked_vm.
   */
  pinPagesRemote(
    vaddr: number,
    npage: number,
  ): { pfn: number; npages: number; rsvd: boolean; charged: number } {
    const mm = this.c.mm;
    let base = -1;
    let rsvd = false;
    let pinned = 0;
    let lockAcct = 0;
    if (this.left > 0) {
      base = this.batch[this.off]; // leftover pages from an earlier call
      rsvd = this.reserved(base);
    }
    try {
      while (pinned < npage) {
        if (this.left === 0) {
          const addr = vaddr + pinned * PAGE_SIZE;
          const v = mm.findVma(addr);
          if (v?.kind === "pfnmap") {
            // vaddr_get_pfns on VM_PFNMAP: follow_fault_pfn, then every pfn to the leaf's end.
            const f = this.followPfn(addr, npage - pinned);
            if (base < 0) {
              base = f.pfn;
              rsvd = true;
            }
            if (f.pfn !== base + pinned || !rsvd) break;
            pinned += f.n;
            continue;
          }
          this.refill(addr, npage - pinned, v === undefined ? addr + PAGE_SIZE : v.end);
          if (base < 0) {
            base = this.batch[0];
            rsvd = this.reserved(base);
          }
        }
        // Consume the batch while contiguous (num_pages_contiguous per step).
        const b = this.batch;
        if (b[this.off] !== base + pinned || rsvd !== this.reserved(b[this.off])) break;
        let nr = 1;
        while (nr < this.left && nr < npage - pinned && b[this.off + nr] === b[this.off] + nr) nr++;
        // Reserved pages are not charged (nor, with no mdev, are pages already externally pinned).
        const acct = rsvd ? 0 : nr;
        if (acct > 0 && !this.c.lockCap && mm.lockedVm + lockAcct + acct > this.c.memlockLimitPages) {
          throw new VfioError(
            "ENOMEM",
            `Cannot map vaddr ${hex(vaddr)}: RLIMIT_MEMLOCK (${hex(this.c.memlockLimitPages * PAGE_SIZE)}) exceeded with ${mm.lockedVm + lockAcct + acct} pages locked (vfio_pin_pages_remote)`,
          );
        }
        lockAcct += acct;
        pinned += nr;
        this.off += nr;
        this.left -= nr;
        if (this.left > 0 && b[this.off] !== base + pinned) break;
      }
    } catch (e) {
      // unpin_out: the run pinned so far (the batch's leftovers are released by the caller).
      if (pinned > 0 && !rsvd) unpinUserPageRange(mm, base, pinned);
      throw e;
    }
    // out: vfio_lock_acct(dma, lock_acct).
    mm.lockedVm += lockAcct;
    this.dma.locked += lockAcct;
    this.dma.hasRsvd ||= rsvd;
    return { pfn: base, npages: pinned, rsvd, charged: lockAcct };
  }

  /**
   * is_invalid_reserved_pfn for a page GUP returned: PageReserved, which in the model only the
   * shared zero page is (FOLL_PIN took no reference on it either). O(1).
   */
  private reserved(pfn: number): boolean {
    const mem = this.c.mm.mem;
    return mem.zeroFolio >= 0 && pfn === mem.folios.head[mem.zeroFolio];
  }

  /** vfio_batch_unpin: releases batch pages pinned but not consumed. */
  releaseBatch(): void {
    if (this.left > 0) unpinUserPages(this.c.mm, this.batch.subarray(this.off, this.off + this.left));
    this.left = 0;
  }

  /** vaddr_get_pfns on ordinary memory: pin_user_pages_remote of up to a batch, inside one VMA. */
  private refill(addr: number, npage: number, vmaEnd: number): void {
    const want = Math.max(1, Math.min(VFIO_BATCH_MAX_CAPACITY, npage, (vmaEnd - addr) / PAGE_SIZE));
    this.batch = pinUserPages(this.c.mm, addr, want * PAGE_SIZE, { write: this.dma.write, longterm: true });
    this.off = 0;
    this.left = want;
    this.st.pinCalls++;
    this.st.pinOps += want;
  }

  /** follow_fault_pfn + the huge-PFNMAP run: the pfn at `addr` and the pfns left in its leaf. */
  private followPfn(addr: number, npage: number): { pfn: number; n: number } {
    const mm = this.c.mm;
    let e = mm.pt.lookup(addr);
    if (e === 0) {
      mm.fault(addr, this.dma.write); // fixup_user_fault
      e = mm.pt.lookup(addr);
    }
    const pfn = ptePfn(e) + (addr - mm.pt.lastBase) / PAGE_SIZE;
    const toLeafEnd = (mm.pt.lastBase + mm.pt.lastSize - addr) / PAGE_SIZE;
    this.st.pinCalls++;
    this.st.pinOps++;
    return { pfn, n: Math.min(npage, toLeafEnd) };
  }
}
