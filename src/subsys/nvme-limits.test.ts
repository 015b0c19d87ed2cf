import { describe, expect, test } from "vitest";
import { nvmeMaxHwSectors, nvmeMaxSegs, nvmeQueueLimits } from "./nvme-limits.js";

const KiB = 1024;

describe("NVMe PCI queue limits (drivers/nvme/host/pci.c nvme_pci_alloc_dev, core.c nvme_set_ctrl_limits)", () => {
  // max_hw_sectors = min(NVME_MAX_BYTES >> 9 = 16384, dma_opt >> 9[, MDTS]); max_sectors = min(hw,
  // BLK_DEF_MAX_SECTORS_CAP); max_segments = min(hw / 8 + 1, NVME_MAX_SEGS). Worked out by hand.
  const cases: {
    name: string;
    o: Parameters<typeof nvmeQueueLimits>[0];
    want: [maxSectors: number, maxSegments: number, virt: number];
  }[] = [
    {
      name: "7.2 behind dma-iommu with SGLs: 128 KiB, 33 segments, no virt boundary (the lab's sysfs)",
      o: { sglSupported: true, dmaOptMappingSize: 128 * KiB },
      want: [256, 33, 0],
    },
    {
      name: "7.2 behind dma-iommu, PRP-only: the 4 KiB virt boundary stays",
      o: { sglSupported: false, dmaOptMappingSize: 128 * KiB },
      want: [256, 33, 0xfff],
    },
    {
      name: "7.2 swiotlb forced: 252 KiB = 504 sectors, 504 / 8 + 1 = 64 segments",
      o: { sglSupported: true, dmaOptMappingSize: 252 * KiB },
      want: [504, 64, 0],
    },
    {
      name: "7.2 dma-direct: hw 16384 (8 MiB) capped to 8192 (4 MiB), segments min(2049, 256)",
      o: { sglSupported: true, dmaOptMappingSize: Number.POSITIVE_INFINITY },
      want: [8192, 256, 0],
    },
    {
      name: "7.2 dma-direct with MDTS 512 KiB (QEMU's default MDTS 7): 1024 sectors, 129 segments",
      o: { sglSupported: false, dmaOptMappingSize: Number.POSITIVE_INFINITY, mdtsBytes: 512 * KiB },
      want: [1024, 129, 0xfff],
    },
    {
      name: "6.12 dma-direct: capped to BLK_DEF_MAX_SECTORS_CAP 2560, NVME_MAX_SEGS 128, virt boundary always",
      o: { sglSupported: true, dmaOptMappingSize: Number.POSITIVE_INFINITY, release: "6.12" },
      want: [2560, 128, 0xfff],
    },
    {
      name: "6.12 behind dma-iommu: 128 KiB as on 7.2",
      o: { sglSupported: true, dmaOptMappingSize: 128 * KiB, release: "6.12" },
      want: [256, 33, 0xfff],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const l = nvmeQueueLimits(c.o);
      expect([l.maxSectors, l.maxSegments, l.virtBoundaryMask]).toEqual(c.want);
      expect([l.maxSegmentSize, l.segBoundaryMask, l.logicalBlockSize]).toEqual([
        0xffffffff, 0xffffffff, 512,
      ]);
    });
  }
  test("NVME_MAX_SEGS: 256 on 7.2 (one SGL descriptor page), 128 on 6.12", () => {
    expect([nvmeMaxSegs("7.2"), nvmeMaxSegs("6.12")]).toEqual([256, 128]);
  });
  test("bad inputs are refused naming the value", () => {
    expect(() => nvmeMaxHwSectors({ sglSupported: true, dmaOptMappingSize: 100 })).toThrow(
      /dma_opt_mapping_size 100 is invalid/,
    );
    expect(() => nvmeMaxHwSectors({ sglSupported: true, dmaOptMappingSize: 4096, mdtsBytes: 100 })).toThrow(
      /MDTS 100 bytes is invalid/,
    );
  });
});
