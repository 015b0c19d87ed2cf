/**
 * IO page-table formats: how many levels, how many index bits per level, and at which levels a
 * leaf may sit. Level 1 is the lowest table (entries map one granule); level `levels` is the
 * highest root the format can grow to. Linux 7.2 (core/kernel.ts KERNEL_MODEL):
 *
 * - VT-d (drivers/iommu/intel/iommu.c): a DMA domain is first-stage when the unit is in scalable
 *   mode with ecap FLTS (intel_iommu_domain_alloc_paging_flags tries
 *   intel_iommu_domain_alloc_first_stage first), else second-stage. First stage is the generic_pt
 *   x86_64 format: 4 levels (hw_max_vasz_lg2 48, 57 with cap FL5LP), 9 bits per level, leaves at
 *   4 KiB, 2 MiB and 1 GiB, PT_FEAT_SIGN_EXTEND, so DMA IOVAs stay in the lower half: below 2^47.
 *   Second stage (fmt/vtdss.h) has the same geometry and leaves with a 48-bit aperture. The
 *   model's "x86-4level" is the first stage (what current Intel servers get); "x86-5level" the
 *   57-bit variant. Both gather IOTLB invalidations as ranges (PT_FEAT_FLUSH_RANGE).
 * - AMD IOMMU v1 (drivers/iommu/amd/iommu.c amd_iommu_domain_alloc_paging_v1, the default
 *   amd_iommu_pgtable = PD_MODE_V1; drivers/iommu/generic_pt/fmt/amdv1.h): starting_level 2, so a
 *   new domain has 3 levels (512 GiB) and PT_FEAT_DYNAMIC_TOP grows the top on demand
 *   (iommu_pt.h increase_top); 9 bits per level; a page of any power-of-two size sits at the
 *   level whose entries are the largest not above it, written as replicated entries. The model
 *   assumes EFR HATS = 0 (amd_iommu_hpt_level 4: hw_max_vasz_lg2 = min(64, 3 * 9 + 21) = 48).
 * - ARM LPAE (drivers/iommu/io-pgtable-arm.c, not converted to generic_pt in 7.2): granule 4 KiB
 *   (9 bits, blocks at 2 MiB and 1 GiB), 16 KiB (11 bits, block at 32 MiB) or 64 KiB (13 bits,
 *   block at 512 MiB), 48-bit input; invalidations gathered per page (iommu_iotlb_gather_add_page).
 *   arm_lpae_restrict_pgsizes picks the granule equal to PAGE_SIZE when the SMMU supports it.
 */
import { PGSIZE_AMD_V1, PGSIZE_ARM_4K, PGSIZE_ARM_16K, PGSIZE_ARM_64K, PGSIZE_X86 } from "./pgsize.js";

/** Names of the built-in formats. */
export type IoPgtableFormatName =
  | "x86-4level"
  | "x86-5level"
  | "amd-v1"
  | "arm-lpae-4k"
  | "arm-lpae-16k"
  | "arm-lpae-64k";

/** One page-table format. */
export interface IoPgtableFormat {
  readonly name: IoPgtableFormatName;
  /** log2 of the granule (the level-1 page size). */
  readonly granuleShift: number;
  /** Index bits per table (a table has 2^bitsPerLevel 8-byte entries). */
  readonly bitsPerLevel: number;
  /** Number of levels. */
  readonly levels: number;
  /** Input (IOVA) bits covered. */
  readonly iovaBits: number;
  /** Supported page sizes. */
  readonly pgsizeBitmap: number;
  /** True when sizes between level sizes are written as replicated entries (AMD v1). */
  readonly replicate: boolean;
  /** Levels of a new table; below `levels` when the top grows on demand (AMD v1: 3). */
  readonly startLevels: number;
  /** IOVA bits DMA may use (domain aperture): 47 for sign-extended VT-d first stage. */
  readonly apertureBits: number;
  /**
   * How unmap gathers IOTLB invalidations: `range` (generic_pt gather_range_pages with
   * PT_FEAT_FLUSH_RANGE: iommu_iotlb_gather_add_range, one range per unmap) or `page`
   * (iommu_iotlb_gather_add_page: a new page size or a disjoint range syncs first).
   */
  readonly gather: "range" | "page";
}

const FORMATS: Record<IoPgtableFormatName, IoPgtableFormat> = {
  "x86-4level": fmt("x86-4level", 12, 9, 4, 48, PGSIZE_X86, false, 4, 47, "range"),
  "x86-5level": fmt("x86-5level", 12, 9, 5, 57, PGSIZE_X86, false, 5, 56, "range"),
  "amd-v1": fmt("amd-v1", 12, 9, 4, 48, PGSIZE_AMD_V1, true, 3, 48, "range"),
  "arm-lpae-4k": fmt("arm-lpae-4k", 12, 9, 4, 48, PGSIZE_ARM_4K, false, 4, 48, "page"),
  "arm-lpae-16k": fmt("arm-lpae-16k", 14, 11, 4, 48, PGSIZE_ARM_16K, false, 4, 48, "page"),
  "arm-lpae-64k": fmt("arm-lpae-64k", 16, 13, 3, 48, PGSIZE_ARM_64K, false, 3, 48, "page"),
};

function fmt(
  name: IoPgtableFormatName,
  granuleShift: number,
  bitsPerLevel: number,
  levels: number,
  iovaBits: number,
  pgsizeBitmap: number,
  replicate: boolean,
  startLevels: number,
  apertureBits: number,
  gather: "range" | "page",
): IoPgtableFormat {
  return Object.freeze({
    name,
    granuleShift,
    bitsPerLevel,
    levels,
    iovaBits,
    pgsizeBitmap,
    replicate,
    startLevels,
    apertureBits,
    gather,
  });
}

/**
 * The built-in format of that name.
 * @throws RangeError for an unknown name.
 */
export function ioPgtableFormat(name: IoPgtableFormatName): IoPgtableFormat {
  const f = FORMATS[name];
  if (f === undefined) {
    throw new RangeError(
      `page-table format ${JSON.stringify(name)} is invalid: expected one of ${Object.keys(FORMATS).join(", ")}`,
    );
  }
  return f;
}

/** log2 of the bytes one entry of `level` (1-based from the bottom) maps. O(1). */
export function levelShift(f: IoPgtableFormat, level: number): number {
  return f.granuleShift + f.bitsPerLevel * (level - 1);
}
