/**
 * Constants and small enums of the physical memory model (docs/kernel-fidelity.md, GUP and memory management).
 *
 * Sizes follow x86-64 SPARSEMEM_VMEMMAP: 128 MiB sections (SECTION_SIZE_BITS 27,
 * arch/x86/include/asm/sparsemem.h), 2 MiB subsections (SUBSECTION_SHIFT 21,
 * include/linux/mmzone.h), buddy orders 0..10 (MAX_PAGE_ORDER 10, include/linux/mmzone.h),
 * 2 MiB pageblocks (pageblock_order = HPAGE_PMD_ORDER 9).
 */
import { PAGE_SIZE } from "../core/index.js";

/** include/linux/mmzone.h: MAX_PAGE_ORDER (orders 0..10, largest buddy block 4 MiB). */
export const MAX_ORDER = 10;
/** Pages in the largest buddy block. */
export const MAX_ORDER_PAGES = 1024;
/** arch/x86/include/asm/sparsemem.h: SECTION_SIZE_BITS. */
export const SECTION_SHIFT = 27;
/** 128 MiB. */
export const SECTION_SIZE = 2 ** SECTION_SHIFT;
/** Frames per section: 32768. */
export const PAGES_PER_SECTION = SECTION_SIZE / PAGE_SIZE;
/** include/linux/mmzone.h: SUBSECTION_SHIFT. */
export const SUBSECTION_SHIFT = 21;
/** 2 MiB: hotplug and ZONE_DEVICE granularity. */
export const SUBSECTION_SIZE = 2 ** SUBSECTION_SHIFT;
/** Frames per subsection: 512. */
export const PAGES_PER_SUBSECTION = 512;
/** Subsections per section: 64. */
export const SUBSECTIONS_PER_SECTION = 64;
/** include/linux/pageblock-flags.h: pageblock_order on x86-64 (HPAGE_PMD_ORDER). */
export const PAGEBLOCK_ORDER = 9;
/** Frames per pageblock: 512. */
export const PAGEBLOCK_PAGES = 512;
/** include/linux/mm.h: GUP_PIN_COUNTING_BIAS, what FOLL_PIN adds to a small folio's refcount. */
export const GUP_PIN_COUNTING_BIAS = 1024;
/** First frame above 4 GiB: the end of ZONE_DMA32. */
export const DMA32_END_PFN = 2 ** 32 / PAGE_SIZE;

/** Memory zones (include/linux/mmzone.h enum zone_type; ZONE_DMA below 16 MiB is folded into DMA32). */
export const Zone = { DMA32: 0, NORMAL: 1, MOVABLE: 2, DEVICE: 3 } as const;
/** A zone number. */
export type ZoneId = (typeof Zone)[keyof typeof Zone];
/** Zone names as /proc/zoneinfo prints them, indexed by zone number. */
export const ZONE_NAMES = ["DMA32", "Normal", "Movable", "Device"] as const;

/** Migrate types (include/linux/mmzone.h enum migratetype, values as in the kernel with CONFIG_CMA). */
export const MigrateType = {
  UNMOVABLE: 0,
  MOVABLE: 1,
  RECLAIMABLE: 2,
  HIGHATOMIC: 3,
  CMA: 4,
  ISOLATE: 5,
} as const;
/** A migrate type number. */
export type MigrateTypeId = (typeof MigrateType)[keyof typeof MigrateType];
/** Migrate type names, indexed by number. */
export const MIGRATE_NAMES = ["Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA", "Isolate"] as const;

/** Per-folio flag bits (a subset of include/linux/page-flags.h that the model needs). */
export const FolioFlag = {
  /** Anonymous memory (PageAnon). */
  ANON: 1,
  /** Page-cache memory of a file. */
  FILE: 2,
  /** A transparent huge page (folio_test_pmd_mappable on an anon/file THP). */
  THP: 4,
  /** A hugetlbfs folio (folio_test_hugetlb). */
  HUGETLB: 8,
  /** Written to: dirty (folio_mark_dirty). */
  DIRTY: 16,
  /** ZONE_DEVICE folio owned by a pgmap. */
  DEVICE: 32,
  /** Kernel-owned (slab, page tables): never migrated. */
  KERNEL: 64,
  /** Free in a hugetlb pool (refcount 0). */
  POOL_FREE: 128,
} as const;

/** Section number of a frame. O(1). */
export function pfnToSection(pfn: number): number {
  return Math.floor(pfn / PAGES_PER_SECTION);
}
