/**
 * iommufd's own pinning path as in Linux 7.2 (drivers/iommu/iommufd/pages.c), the kernel side of
 * IOMMU_IOAS_MAP: a pfn_reader pins the user range with pin_user_pages_fast (FOLL_LONGTERM, and
 * FOLL_WRITE for a writable area) into a page array of at most TEMP_MEMORY_LIMIT bytes (64 KiB:
 * 8,192 page pointers per call, pfn_reader_user_pin), batch_from_pages folds the pages into a
 * struct pfn_batch (parallel u64 pfns[] / u32 npfns[], 12 bytes an entry, at most 64 KiB: 5,461
 * entries; batch_add_pfn_num extends the last entry while the pfns stay contiguous), and
 * batch_to_domain maps each batch entry with one iommu_map (a full batch still extends its last
 * entry with contiguous pfns, so runs are never split). IOMMU_IOAS_MAP_FILE pins a memfd's folios
 * with memfd_pin_folios instead (batch_from_folios). Unmap unpins per batch entry (batch_unpin ->
 * unpin_user_page_range_dirty_lock).
 */
import { PAGE_SIZE } from "../core/index.js";
import type { IommuDomain } from "../iommu/index.js";
import {
  type AddressSpace,
  type MappedFile,
  memfdPinFolios,
  pinUserPages,
  unpinUserPageRange,
} from "../mm/index.js";
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
 * @throws PinFailed / MemError from pinning, errors from iommu_map; everything pinned or mapped is
 *   released first.
 */
export function iommufdPinMap(
  mm: AddressSpace,
  domain: IommuDomain,
  va: number,
  iova: number,
  size: number,
  write: boolean,
): { stats: VfioMapStats; runs: number[] } {
  // pfn_reader_user_pin -> pin_user_pages_fast: a page array, one pfn per page (batch_from_pages).
  return fillDomain(mm, domain, iova, size, write, (idx, cnt) => {
    const pages = pinUserPages(mm, va + idx * PAGE_SIZE, cnt * PAGE_SIZE, { write, longterm: true });
    const runs: number[] = [];
    for (let i = 0; i < cnt; i++) runs.push(pages[i], 1);
    return { runs, pointers: cnt };
  });
}

/**
 * IOMMU_IOAS_MAP_FILE: pins `size` bytes of memfd `file` from byte `start` the way iommufd does
 * (pin_memfd_pages -> memfd_pin_folios, one folio pointer per folio, at most 8,192 pages a call;
 * batch_from_folios adds each folio's pages as one run and folio_add_pins the rest) and maps them
 * at `iova`. O(folios) per call, O(entries) iommu_map calls.
 * @returns as {@link iommufdPinMap}.
 * @throws as {@link memfdPinFolios}; errors from iommu_map; everything pinned or mapped is released first.
 */
export function iommufdPinMapFile(
  mm: AddressSpace,
  domain: IommuDomain,
  file: MappedFile,
  start: number,
  iova: number,
  size: number,
  write: boolean,
): { stats: VfioMapStats; runs: number[] } {
  const f = mm.mem.folios;
  return fillDomain(mm, domain, iova, size, write, (idx, cnt) => {
    const first = start + idx * PAGE_SIZE;
    const got = memfdPinFolios(file, first, first + cnt * PAGE_SIZE - 1);
    const runs: number[] = [];
    let off = got.offset / PAGE_SIZE;
    let left = cnt;
    for (const id of got.folios) {
      const nr = Math.min(f.npages(id) - off, left);
      if (nr > 1) mm.mem.grabFolio(id, nr - 1, "pin"); // folio_add_pins: one pin per page
      runs.push(f.head[id] + off, nr);
      left -= nr;
      off = 0;
    }
    return { runs, pointers: got.folios.length };
  });
}

/**
 * The pfn_reader / pfn_batch / batch_to_domain loop over a pinning source that returns, per call,
 * the pfn runs of up to `cnt` pages from page `idx` (each run already pinned once per page).
 */
function fillDomain(
  mm: AddressSpace,
  domain: IommuDomain,
  iova: number,
  size: number,
  write: boolean,
  pinChunk: (idx: number, cnt: number) => { runs: number[]; pointers: number },
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
  const mapped: number[] = [];
  const pfns: number[] = [];
  const npfns: number[] = [];
  let chunk: number[] = []; // pinned runs [pfn, npages] not yet in a batch
  let ci = 0;
  let pinnedEnd = 0;
  let mappedEntries = 0;
  let curIova = iova;
  try {
    while (pinnedEnd < n || ci < chunk.length) {
      pfns.length = 0;
      npfns.length = 0;
      mappedEntries = 0;
      // pfn_reader_next: fill the batch until it is full or the range is done.
      fill: while (ci < chunk.length || pinnedEnd < n) {
        if (ci >= chunk.length) {
          const cnt = Math.min(n - pinnedEnd, uCap);
          const got = pinChunk(pinnedEnd, cnt);
          chunk = got.runs;
          ci = 0;
          pinnedEnd += cnt;
          stats.pinCalls++;
          stats.pinOps += got.pointers;
        }
        // batch_add_pfn_num: extend the last entry while contiguous, else a new entry if room.
        for (; ci < chunk.length; ci += 2) {
          const pfn = chunk[ci];
          const nr = chunk[ci + 1];
          const end = pfns.length;
          if (end > 0 && pfn === pfns[end - 1] + npfns[end - 1]) npfns[end - 1] += nr;
          else if (end < bCap) {
            pfns.push(pfn);
            npfns.push(nr);
          } else break fill;
        }
      }
      // batch_to_domain: one iommu_map per entry.
      for (; mappedEntries < pfns.length; mappedEntries++) {
        const np = npfns[mappedEntries];
        domain.map(curIova, pfns[mappedEntries] * PAGE_SIZE, np * PAGE_SIZE, mapProt(write, false));
        mapped.push(curIova, pfns[mappedEntries], np);
        stats.iommuMaps++;
        curIova += np * PAGE_SIZE;
      }
    }
  } catch (e) {
    // Unwind: unmap and unpin what was mapped, unpin what was batched or pinned but not mapped.
    releaseIommufdRuns(mm, domain, mapped, false);
    for (let i = mappedEntries; i < pfns.length; i++) unpinUserPageRange(mm, pfns[i], npfns[i]);
    for (; ci < chunk.length; ci += 2) unpinUserPageRange(mm, chunk[ci], chunk[ci + 1]);
    throw e;
  }
  stats.lockedPages = n;
  return { stats, runs: mapped };
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
