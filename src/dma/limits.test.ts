import { describe, expect, test } from "vitest";
import {
  DMA_SIZE_MAX,
  dmaMaxMappingSize,
  dmaOptMappingSize,
  iovaRcacheRange,
  swiotlbMaxMappingSize,
} from "./limits.js";

describe("iova_rcache_range (drivers/iommu/iova.c): PAGE_SIZE << (IOVA_RANGE_CACHE_MAX_SIZE - 1)", () => {
  const cases: [number, number][] = [
    [4096, 128 * 1024], // 4 KiB << 5
    [16384, 512 * 1024],
    [65536, 2 * 1024 * 1024],
  ];
  for (const [page, want] of cases)
    test(`PAGE_SIZE ${page}: ${want}`, () => expect(iovaRcacheRange(page)).toBe(want));
  test("a page size that is not a power of two >= 4 KiB is refused", () => {
    expect(() => iovaRcacheRange(3000)).toThrow(/page size 3000 is invalid/);
    expect(() => iovaRcacheRange(2048)).toThrow(RangeError);
  });
});

describe("swiotlb_max_mapping_size (kernel/dma/swiotlb.c): 256 KiB less roundup(min_align_mask, IO_TLB_SIZE)", () => {
  // IO_TLB_SIZE 2048 * IO_TLB_SEGSIZE 128 = 262144; by hand.
  const cases: [number, number][] = [
    [0, 262144], // no mask
    [0xfff, 262144 - 4096], // NVMe (NVME_CTRL_PAGE_SIZE - 1): roundup(4095, 2048) = 4096 -> 252 KiB
    [0x7ff, 262144 - 2048],
    [0x3ff, 262144 - 2048], // roundup(1023, 2048) = 2048
    [0xffff, 262144 - 65536],
  ];
  for (const [mask, want] of cases)
    test(`min_align_mask 0x${mask.toString(16)}: ${want}`, () =>
      expect(swiotlbMaxMappingSize(mask)).toBe(want));
  test("a mask that is not 2^k - 1 is refused naming it", () => {
    expect(() => swiotlbMaxMappingSize(0x1000)).toThrow(/min_align_mask 4096 is invalid/);
    expect(() => swiotlbMaxMappingSize(-1)).toThrow(RangeError);
  });
});

describe("dma_max_mapping_size / dma_opt_mapping_size (kernel/dma/mapping.c)", () => {
  test("behind dma-iommu: no max, opt = iova_rcache_range 128 KiB", () => {
    expect(dmaMaxMappingSize({ kind: "iommu" })).toBe(DMA_SIZE_MAX);
    expect(dmaOptMappingSize({ kind: "iommu", minAlignMask: 0xfff })).toBe(131072);
  });
  test("dma-direct bouncing: both are swiotlb_max_mapping_size (252 KiB for NVMe)", () => {
    expect(dmaMaxMappingSize({ kind: "swiotlb", minAlignMask: 0xfff })).toBe(258048);
    expect(dmaOptMappingSize({ kind: "swiotlb", minAlignMask: 0xfff })).toBe(258048);
  });
  test("plain dma-direct: no limit", () => {
    expect(dmaOptMappingSize({ kind: "direct" })).toBe(DMA_SIZE_MAX);
  });
});
