import { describe, expect, test } from "vitest";
import {
  iommuPgsize,
  minPageSize,
  PGSIZE_AMD_V1,
  PGSIZE_ARM_16K,
  PGSIZE_ARM_64K,
  PGSIZE_X86,
  pgsizeHas,
  pgsizeList,
} from "./pgsize.js";

const K = 1024;
const M = 1024 * K;
const G = 1024 * M;

// Expected values worked out by hand from drivers/iommu/iommu.c iommu_pgsize:
// candidates <= size and <= alignment of (iova | paddr), take the largest; if iova and paddr are
// congruent modulo the next larger supported size and offset-to-boundary + that size fits in size,
// the count stops at the boundary.
const cases: [string, number, number, number, number, number, number][] = [
  // name, bitmap, iova, paddr, size, pgsize, count
  ["x86 one 4K page", PGSIZE_X86, 0, 0, 4 * K, 4 * K, 1],
  ["x86 aligned 2M", PGSIZE_X86, 0, 0, 2 * M, 2 * M, 1],
  ["x86 4K-offset congruent stops at the 2M boundary", PGSIZE_X86, 0x1000, 0x1000, 4 * M, 4 * K, 511],
  ["x86 4K-offset not congruent: all 4K", PGSIZE_X86, 0x1000, 0x3000, 4 * M, 4 * K, 1024],
  ["x86 boundary exactly reachable", PGSIZE_X86, 0x1000, 0x201000, 0x3ff000, 4 * K, 511],
  ["x86 boundary one page short", PGSIZE_X86, 0x1000, 0x201000, 0x3fe000, 4 * K, 1022],
  ["x86 1G pages, no larger size", PGSIZE_X86, 0x40000000, 0x80000000, 2 * G, G, 2],
  ["x86 2M pages, not congruent modulo 1G", PGSIZE_X86, 0, 0x200000, G + 2 * M, 2 * M, 513],
  ["x86 2M pages up to the 1G boundary", PGSIZE_X86, 0x200000, 0x40200000, 2 * G, 2 * M, 511],
  ["AMD 8K page, 16K does not fit", PGSIZE_AMD_V1, 0, 0, 12 * K, 8 * K, 1],
  ["AMD skips 512G: 256G pages", PGSIZE_AMD_V1, 2 ** 39, 2 ** 39, 2 ** 40, 2 ** 38, 4],
  ["ARM 16K granule stops at 32M", PGSIZE_ARM_16K, 0x4000, 0x4000, 64 * M, 16 * K, 2047],
  ["ARM 64K granule 512M block", PGSIZE_ARM_64K, 0, 512 * M, 512 * M, 512 * M, 1],
];

describe("iommuPgsize() follows iommu_pgsize", () => {
  test.each(cases)("%s", (_name, bitmap, iova, paddr, size, pgsize, count) => {
    expect(iommuPgsize(bitmap, iova, paddr, size)).toEqual({ pgsize, count });
  });

  test("throws a RangeError naming the inputs when no size fits", () => {
    expect(() => iommuPgsize(PGSIZE_X86, 0x800, 0, 4 * K)).toThrow(/iova 0x800.*no supported page size/);
    expect(() => iommuPgsize(PGSIZE_ARM_64K, 0, 0, 4 * K)).toThrow(RangeError);
  });
});

describe("page-size bitmaps", () => {
  test("x86 and ARM bitmaps list their sizes", () => {
    expect(pgsizeList(PGSIZE_X86)).toEqual([4 * K, 2 * M, G]);
    expect(pgsizeList(PGSIZE_ARM_16K)).toEqual([16 * K, 32 * M]);
    expect(pgsizeList(PGSIZE_ARM_64K)).toEqual([64 * K, 512 * M]);
    expect(minPageSize(PGSIZE_ARM_64K)).toBe(64 * K);
  });

  // generic_pt/fmt/amdv1.h amdv1pt_possible_sizes per level 0..3 of a 48-bit table (iommu_pt.h
  // get_info with PT_FEAT_DYNAMIC_TOP stops at the level whose item size reaches max_vasz_lg2).
  test("AMD v1 has every power of two from 4K to 2^47 except 512G, using bits above 32", () => {
    const list = pgsizeList(PGSIZE_AMD_V1);
    expect(list.length).toBe(35);
    expect(list[0]).toBe(4 * K);
    expect(list[list.length - 1]).toBe(2 ** 47);
    expect(pgsizeHas(PGSIZE_AMD_V1, 2 ** 39)).toBe(false);
    expect(pgsizeHas(PGSIZE_AMD_V1, 2 ** 40)).toBe(true);
    expect(pgsizeHas(PGSIZE_AMD_V1, 3 * K)).toBe(false);
  });
});
