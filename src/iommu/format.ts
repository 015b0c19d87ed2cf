/**
 * IO page-table formats: how many levels, how many index bits per level, and at which levels a
 * leaf may sit. Level 1 is the lowest table (entries map one granule); level `levels` is the root.
 *
 * - x86 VT-d second stage (drivers/iommu/intel/iommu.h): 4 KiB granule, 9 bits per level, 4 levels
 *   (48-bit) or 5 levels (57-bit), leaves at 4 KiB, 2 MiB (level 2) and 1 GiB (level 3).
 * - AMD IOMMU v1 (drivers/iommu/amd/io_pgtable.c): 9 bits per level; a page of any power-of-two
 *   size sits at the level whose entries are the largest not above it, written as
 *   2^(log2(size) - levelShift) identical entries (PAGE_SIZE_PTE_COUNT).
 * - ARM LPAE (drivers/iommu/io-pgtable-arm.c): granule 4 KiB (9 bits, blocks at 2 MiB and 1 GiB),
 *   16 KiB (11 bits, block at 32 MiB) or 64 KiB (13 bits, block at 512 MiB), 48-bit input.
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
}

const FORMATS: Record<IoPgtableFormatName, IoPgtableFormat> = {
  "x86-4level": fmt("x86-4level", 12, 9, 4, 48, PGSIZE_X86, false),
  "x86-5level": fmt("x86-5level", 12, 9, 5, 57, PGSIZE_X86, false),
  // AMD v1 with 5 levels covers 57 bits, more than our 2^52 address limit.
  "amd-v1": fmt("amd-v1", 12, 9, 5, 57, PGSIZE_AMD_V1, true),
  "arm-lpae-4k": fmt("arm-lpae-4k", 12, 9, 4, 48, PGSIZE_ARM_4K, false),
  "arm-lpae-16k": fmt("arm-lpae-16k", 14, 11, 4, 48, PGSIZE_ARM_16K, false),
  "arm-lpae-64k": fmt("arm-lpae-64k", 16, 13, 3, 48, PGSIZE_ARM_64K, false),
};

function fmt(
  name: IoPgtableFormatName,
  granuleShift: number,
  bitsPerLevel: number,
  levels: number,
  iovaBits: number,
  pgsizeBitmap: number,
  replicate: boolean,
): IoPgtableFormat {
  return Object.freeze({ name, granuleShift, bitsPerLevel, levels, iovaBits, pgsizeBitmap, replicate });
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
