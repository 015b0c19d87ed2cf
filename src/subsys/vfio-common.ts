/**
 * What VFIO type1 and iommufd share: map statistics, argument checks, IOMMU prot bits, and the
 * slot table that keeps mapping records behind the IOVA interval index. Not re-exported by the
 * subsys index except {@link VfioMapStats}.
 */
import { checkRange, hex, PAGE_SIZE } from "../core/index.js";
import { IommuProt } from "../iommu/index.js";

/** Work done by one map call. */
export interface VfioMapStats {
  /** Pages written into a page array (type1, kernel iommufd), PFNMAP follows (type1), or range pins (design: entries returned). */
  pinOps: number;
  /** Pin calls: vaddr_get_pfns calls (type1), pin_user_pages_fast / memfd_pin_folios calls (kernel iommufd), 1 (design). */
  pinCalls: number;
  /** iommu_map calls. */
  iommuMaps: number;
  /** Bytes of the pin's working output: page-pointer and pfn-batch arrays (type1: its 4 KiB batch;
   *  kernel iommufd: its page array and pfn_batch) or the list kept afterwards (design). */
  trackingBytes: number;
  /** Pages charged to RLIMIT_MEMLOCK accounting (locked_vm) by this map: pinned pages with a struct page. */
  lockedPages: number;
}

/** IOMMU prot of a mapping: READ, WRITE when asked, MMIO for BARs (no IOMMU_CACHE), CACHE otherwise. */
export function mapProt(write: boolean, mmio: boolean): number {
  return IommuProt.READ | (write ? IommuProt.WRITE : 0) | (mmio ? IommuProt.MMIO : IommuProt.CACHE);
}

/** The map ioctls' argument checks: page-aligned vaddr, IOVA and size (-EINVAL). */
export function checkMapArgs(va: number, iova: number, size: number): void {
  checkRange("vaddr", va, size);
  checkRange("iova", iova, size);
  if (va % PAGE_SIZE || iova % PAGE_SIZE || size % PAGE_SIZE) {
    throw new RangeError(`map ${hex(va)} -> iova ${hex(iova)}+${hex(size)} is invalid: not page aligned`);
  }
}

/** The unmap ioctls' argument checks: page-aligned IOVA and a non-zero page-multiple size (-EINVAL). */
export function checkUnmapArgs(iova: number, size: number): void {
  checkRange("iova", iova, size);
  if (size === 0 || iova % PAGE_SIZE || size % PAGE_SIZE) {
    throw new RangeError(`unmap iova ${hex(iova)}+${hex(size)} is invalid: empty or not page aligned`);
  }
}

/**
 * Records by slot with a free list, so the IOVA index holds small integers and records never move.
 * O(1) per operation.
 */
export class SlotTable<T> {
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
