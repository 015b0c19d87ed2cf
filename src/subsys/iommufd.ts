/**
 * An iommufd IOAS (drivers/iommu/iommufd/ioas.c, io_pagetable.c) over one IOMMU domain, with two
 * ways to pin what IOMMU_IOAS_MAP maps:
 * - "kernel": iommufd as in Linux 7.2 (iommufd-pages.ts): pin_user_pages_fast into a page array,
 *   batch_from_pages into a pfn_batch, one iommu_map per batch entry;
 * - "design" (the default): the phyr range pin -- pinUserRange returns one entry per contiguous
 *   chunk and the list is mapped in one call, one run per entry, leaf tables filled in order
 *   ({@link IommuDomain.mapPhyrs}); unmap is one iommu_unmap and one range unpin per area.
 * Areas are kept in an interval index by IOVA (iopt->area_itree, here {@link IovaIntervals}); there
 * is no per-IOAS mapping limit. Both paths keep what they pinned so unmapping releases exactly that.
 */
import { hex, PAGE_SIZE } from "../core/index.js";
import type { IommuDomain } from "../iommu/index.js";
import { type AddressSpace, type MappedFile, pinFileRange, pinUserRange, unpinPhyrs } from "../mm/index.js";
import { PhyrFlag, type PhyrList } from "../phyr/index.js";
import { VfioError } from "./errors.js";
import { iommufdPinMap, iommufdPinMapFile, releaseIommufdRuns } from "./iommufd-pages.js";
import { checkMapArgs, checkUnmapArgs, mapProt, SlotTable, type VfioMapStats } from "./vfio-common.js";
import { IovaIntervals } from "./vfio-iova-tree.js";

/** Which pinning path an IOAS uses: the kernel's today, or the phyr range pin. */
export type IoasPinPath = "kernel" | "design";

interface IoasArea {
  iova: number;
  size: number;
  write: boolean;
  /** Design path: the pinned list. */
  list: PhyrList | null;
  /** Kernel path: mapped runs [iova, pfn, npages] per batch entry. */
  runs: number[];
}

/** An iommufd IOAS over one IOMMU domain. */
export class IommufdIoas {
  /** The pinning path. */
  readonly pinPath: IoasPinPath;
  /** Areas by IOVA (iopt->area_itree); slots index {@link areas}. */
  private readonly tree = new IovaIntervals();
  private readonly areas = new SlotTable<IoasArea>();

  /**
   * @param mm the VMM's address space; @param domain a paging IOMMU domain;
   * @param opts pinPath: "design" (default) or "kernel".
   * @throws RangeError for an unknown pin path.
   */
  constructor(
    readonly mm: AddressSpace,
    readonly domain: IommuDomain,
    opts: { pinPath?: IoasPinPath } = {},
  ) {
    const p = opts.pinPath ?? "design";
    if (p !== "kernel" && p !== "design")
      throw new RangeError(`pinPath ${JSON.stringify(p)} is invalid: expected "kernel" or "design"`);
    this.pinPath = p;
  }

  /** Areas mapped. O(1). */
  get areaCount(): number {
    return this.tree.length;
  }

  /** iopt_check_iova()'s -EEXIST (drivers/iommu/iommufd/io_pagetable.c): a fixed IOVA range must not overlap a mapped area. O(log n). */
  private checkNoOverlap(iova: number, size: number): void {
    const tree = this.tree;
    if (tree.findOverlap(iova, iova + size)) {
      throw new VfioError(
        "EEXIST",
        `Cannot map iova ${hex(iova)}+${hex(size)}: overlaps area ${hex(tree.foundStart)}+${hex(tree.foundEnd - tree.foundStart)}`,
      );
    }
  }

  /**
   * IOMMU_IOAS_MAP with a fixed IOVA. Kernel path: O(pages) page-array fills and O(batch entries)
   * iommu_map calls; design path: one range pin, O(entries + leaves). Plus an O(log n) overlap lookup.
   * @throws RangeError for unaligned or out-of-range arguments; VfioError "EEXIST" on overlap;
   *   PinFailed / RangeError from pinning (nothing left pinned or mapped).
   */
  map(va: number, iova: number, size: number, opts: { write?: boolean } = {}): VfioMapStats {
    checkMapArgs(va, iova, size);
    const tree = this.tree;
    this.checkNoOverlap(iova, size);
    const write = opts.write ?? true;
    if (this.pinPath === "kernel") {
      const { stats, runs } = iommufdPinMap(this.mm, this.domain, va, iova, size, write);
      tree.insert(iova, iova + size, this.areas.add({ iova, size, write, list: null, runs }));
      return stats;
    }
    return this.mapDesign(iova, size, write, pinUserRange(this.mm, va, size, { write, longterm: true }));
  }

  /**
   * IOMMU_IOAS_MAP_FILE (iopt_map_file_pages): maps `size` bytes of memfd `file` from byte `start`.
   * Kernel path: memfd_pin_folios in calls of up to 8,192 pages, one pfn_batch entry per folio run,
   * one iommu_map per entry; design path: the range pin of the file, mapped in one call.
   * Cost: O(folios + entries) plus an O(log n) overlap lookup.
   * @throws RangeError for unaligned or out-of-range arguments; VfioError "EEXIST" on overlap;
   *   PinFailed / MemError from pinning (nothing left pinned or mapped).
   */
  mapFile(
    file: MappedFile,
    start: number,
    iova: number,
    size: number,
    opts: { write?: boolean } = {},
  ): VfioMapStats {
    checkMapArgs(start, iova, size);
    const tree = this.tree;
    this.checkNoOverlap(iova, size);
    const write = opts.write ?? true;
    if (this.pinPath === "kernel") {
      const { stats, runs } = iommufdPinMapFile(this.mm, this.domain, file, start, iova, size, write);
      tree.insert(iova, iova + size, this.areas.add({ iova, size, write, list: null, runs }));
      return stats;
    }
    return this.mapDesign(iova, size, write, pinFileRange(file, start, size));
  }

  /** The design path after the pin: map the list in one call, record the area. */
  private mapDesign(iova: number, size: number, write: boolean, list: PhyrList): VfioMapStats {
    const tree = this.tree;
    let maps: number;
    try {
      // One run per entry, leaf tables filled in order (all-or-nothing).
      maps = this.domain.mapPhyrs(iova, list, mapProt(write, false), mapProt(write, true));
    } catch (e) {
      unpinPhyrs(this.mm, list);
      throw e;
    }
    tree.insert(iova, iova + size, this.areas.add({ iova, size, write, list, runs: [] }));
    let locked = 0;
    for (const c = list.cursor(); !c.done; c.nextEntry())
      if (!(c.flags & PhyrFlag.MMIO)) locked += c.entryLen;
    return {
      pinOps: list.nents,
      pinCalls: 1,
      iommuMaps: maps,
      trackingBytes: list.byteSize,
      lockedPages: locked / PAGE_SIZE,
    };
  }

  /**
   * IOMMU_IOAS_UNMAP (iommufd_ioas_unmap, iopt_unmap_iova_range): removes every area inside
   * [iova, iova + size). An area crossing either end of the range is ENOENT, and so is a range
   * holding no area. The kernel finds a crossing area while walking, after unmapping the areas
   * before it; here both ends are checked first, so a refused unmap changes nothing.
   * Cost: O(log n) lookups plus O(entries + folios) per area removed.
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
      if (a.list) {
        this.domain.unmap(a.iova, a.size);
        unpinPhyrs(this.mm, a.list, { dirty: a.write });
      } else releaseIommufdRuns(this.mm, this.domain, a.runs, a.write);
      tree.remove(a.iova);
      this.areas.release(slot);
      unmapped += a.size;
    }
    return unmapped;
  }
}
