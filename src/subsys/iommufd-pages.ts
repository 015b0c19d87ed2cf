/**
 * iommufd's own pinning path as in Linux 7.2 (drivers/iommu/iommufd/pages.c), the kernel side of
 * IOMMU_IOAS_MAP: a pfn_reader pins the user range with pin_user_pages_fast (FOLL_LONGTERM, and
 * FOLL_WRITE for a writable area) into a page array of at most TEMP_MEMORY_LIMIT bytes (64 KiB:
 * 8,192 page pointers per call, pfn_reader_user_pin), batch_from_pages folds the pages into a
 * struct pfn_batch (parallel u64 pfns[] / u32 npfns[], 12 bytes an entry, at most 64 KiB: 5,461
 * entries; batch_add_pfn_num extends the last entry while the pfns stay contiguous), and
 * batch_to_domain maps each batch entry with one iommu_map. A contiguous run that crosses a full
 * batch is mapped as two. Unmap unpins per batch entry (batch_unpin ->
 * unpin_user_page_range_dirty_lock).
 */
import { PAGE_SIZE } from "../core/index.js";
import type { IommuDomain } from "../iommu/index.js";
import { type AddressSpace, pinUserPages, unpinUserPageRange, unpinUserPages } from "../mm/index.js";
import { mapProt, type VfioMapStats } from "./vfio-common.js";

/** drivers/iommu/iommufd/pages.c TEMP_MEMORY_LIMIT: the largest page array or pfn_batch allocation. */
export const IOMMUFD_TEMP_MEMORY_LIMIT = 65536;
/** Page pointers per pin_user_pages_fast call: TEMP_MEMORY_LIMIT / sizeof(struct page *). */
export const IOMMUFD_UPAGES_MAX = IOMMUFD_TEMP_MEMORY_LIMIT / 8;
/** pfn_batch entries: TEMP_MEMORY_LIMIT / (sizeof(unsigned long) + sizeof(u32)). */
export const IOMMUFD_BATCH_MAX = Math.floor(IOMMUFD_TEMP_MEMORY_LIMIT / 12);

/**
 * Pins `[va, va+size)` the way iommufd does and maps it at `iova` (iopt_fill_domains_pages over
 * one domain). O(pages) for the page arrays, O(entries) iommu_map calls.
 * @returns the stats and the mapped runs as triples [iova, pfn, npages], one per batch entry.
 * @throws PinFailed / MemError from pinning, IommuFault-style errors from iommu_map; everything
 *   pinned or mapped is released first.
 */
export function iommufdPinMap(
  mm: AddressSpace,
  domain: IommuDomain,
  va: number,
  iova: number,
  size: number,
  write: boolean,
): { stats: VfioMapStats; runs: number[] } {
  const n = size / PAGE_SIZE;
  const uCap = Math.min(n, IOMMUFD_UPAGES_MAX);
  const bCap = Math.min(n, IOMMUFD_BATCH_MAX);
  const stats: VfioMapStats = {
    pinOps: 0,
    pinCalls: 0,
    iommuMaps: 0,
    trackingBytes: uCap * 8 + bCap * 12,
    lockedPages: 0,
  };
  const runs: number[] = [];
  const pfns: number[] = [];
  const npfns: number[] = [];
  let upages: Float64Array = new Float64Array(0);
  let upStart = 0;
  let upEnd = 0;
  let idx = 0;
  let mappedEntries = 0;
  let curIova = iova;
  try {
    while (idx < n) {
      pfns.length = 0;
      npfns.length = 0;
      mappedEntries = 0;
      // pfn_reader_next: fill the batch until it is full or the range is done.
      fill: while (idx < n) {
        if (idx >= upEnd) {
          const cnt = Math.min(n - idx, uCap);
          upages = pinUserPages(mm, va + idx * PAGE_SIZE, cnt * PAGE_SIZE, { write, longterm: true });
          upStart = idx;
          upEnd = idx + cnt;
          stats.pinCalls++;
          stats.pinOps += cnt;
        }
        // batch_from_pages: batch_add_pfn per page until the batch is full.
        while (idx < upEnd) {
          const pfn = upages[idx - upStart];
          const end = pfns.length;
          if (end > 0 && pfn === pfns[end - 1] + npfns[end - 1]) npfns[end - 1]++;
          else if (end < bCap) {
            pfns.push(pfn);
            npfns.push(1);
          } else break fill;
          idx++;
        }
      }
      // batch_to_domain: one iommu_map per entry.
      for (; mappedEntries < pfns.length; mappedEntries++) {
        const np = npfns[mappedEntries];
        domain.map(curIova, pfns[mappedEntries] * PAGE_SIZE, np * PAGE_SIZE, mapProt(write, false));
        runs.push(curIova, pfns[mappedEntries], np);
        stats.iommuMaps++;
        curIova += np * PAGE_SIZE;
      }
    }
  } catch (e) {
    // Unwind: unmap and unpin what was mapped, unpin what was batched or pinned but not mapped.
    releaseIommufdRuns(mm, domain, runs, false);
    for (let i = mappedEntries; i < pfns.length; i++) unpinUserPageRange(mm, pfns[i], npfns[i]);
    if (idx < upEnd) unpinUserPages(mm, upages.subarray(idx - upStart, upEnd - upStart));
    throw e;
  }
  stats.lockedPages = n;
  return { stats, runs };
}

/**
 * Unmaps and unpins runs from {@link iommufdPinMap} (iopt_area_unfill_domain: iommu_unmap, then
 * batch_unpin per entry). O(runs + folios). @returns unpin calls (one per run).
 */
export function releaseIommufdRuns(
  mm: AddressSpace,
  domain: IommuDomain,
  runs: number[],
  dirty: boolean,
): number {
  for (let i = 0; i < runs.length; i += 3) {
    domain.unmap(runs[i], runs[i + 2] * PAGE_SIZE);
    unpinUserPageRange(mm, runs[i + 1], runs[i + 2], { dirty });
  }
  const calls = runs.length / 3;
  runs.length = 0;
  return calls;
}
