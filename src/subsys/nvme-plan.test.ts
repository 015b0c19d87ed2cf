import { describe, expect, test } from "vitest";
import { PhyrList } from "../phyr/index.js";
import { DEFAULT_QUEUE_LIMITS, type QueueLimits } from "./block-limits.js";
import type { KernelRelease } from "./kernel-release.js";
import { nvmeQueueLimits } from "./nvme-limits.js";
import { type NvmeKernelDevice, nvmePlanIo, nvmePlanRequest } from "./nvme-plan.js";

const KiB = 1024;
type R = { addr: number; len: number };
const list = (rs: R[]) => PhyrList.fromRanges(rs, { store: "wide" });
const dev = (o: {
  release?: KernelRelease;
  sgl?: boolean;
  iommu?: boolean;
  swiotlb?: boolean;
  limits?: QueueLimits;
}): NvmeKernelDevice => ({
  release: o.release ?? "7.2",
  sglSupported: o.sgl ?? true,
  iommu: o.iommu === false ? null : { granule: 4096 },
  swiotlbForce: o.swiotlb ?? false,
  limits: o.limits ?? { ...DEFAULT_QUEUE_LIMITS, maxSegmentSize: 0xffffffff },
});

describe("7.2 nvme_map_data: setup_data_simple, the IOVA iterator or dma_map_phys per segment", () => {
  // Expected plans worked out by hand from drivers/nvme/host/pci.c nvme_map_data,
  // nvme_pci_setup_data_simple, nvme_pci_use_sgls, nvme_pci_avg_seg_size and block/blk-mq-dma.c
  // blk_dma_map_iter_start / blk_rq_dma_map_iova / blk_map_iter_next; dma-iommu __iommu_dma_map.
  test("one 128 KiB segment behind dma-iommu: one dma_map_phys, one 128 KiB iommu_map, an inline SGL", () => {
    const p = nvmePlanRequest(dev({}), list([{ addr: 0x2000000, len: 128 * KiB }]), 1, 0);
    expect([p.path, p.dmaMaps.length, p.dmaSegments, p.dataPtr]).toEqual(["simple", 1, [131072], "sgl"]);
    expect(p.iommuMaps).toEqual([{ alloc: 0, iovaOff: 0, paddr: 0x2000000, size: 131072 }]);
  });
  test("one 8 KiB segment at a page start fits PRP1 + PRP2 even with SGLs", () => {
    const p = nvmePlanRequest(dev({}), list([{ addr: 0x10000, len: 0x2000 }]), 1, 0);
    expect([p.path, p.dataPtr]).toEqual(["simple", "prp"]);
  });
  test("a single segment 0x200 into a page maps from the granule start, one granule more", () => {
    const p = nvmePlanRequest(dev({}), list([{ addr: 0x10200, len: 0x2000 }]), 1, 0);
    // iova_offset 0x200: iommu_map(paddr 0x10000, iova_align(0x2000 + 0x200) = 0x3000); spans 3 pages -> SGL.
    expect(p.iommuMaps).toEqual([{ alloc: 0, iovaOff: 0, paddr: 0x10000, size: 0x3000 }]);
    expect(p.dataPtr).toBe("sgl");
  });
  test("a PRP-only controller's 12 KiB segment goes through the iterator (dma-direct: one dma_map_phys)", () => {
    const p = nvmePlanRequest(
      dev({ sgl: false, iommu: false }),
      list([{ addr: 0x10000, len: 0x3000 }]),
      1,
      0,
    );
    expect([p.path, p.dmaMaps, p.iommuMaps, p.dataPtr]).toEqual([
      "phys",
      [{ phys: 0x10000, len: 0x3000 }],
      [],
      "prp",
    ]);
  });
  test("two scattered pages behind dma-iommu: one IOVA, one dma_iova_link -> iommu_map each", () => {
    const p = nvmePlanRequest(
      dev({}),
      list([
        { addr: 0x10000, len: 0x1000 },
        { addr: 0x30000, len: 0x1000 },
      ]),
      2,
      0,
    );
    expect([p.path, p.dmaSegments, p.dataPtr]).toEqual(["iova", [0x2000], "prp"]); // avg 8 KiB < 32 KiB
    expect(p.iommuMaps).toEqual([
      { alloc: 0, iovaOff: 0, paddr: 0x10000, size: 0x1000 },
      { alloc: 0, iovaOff: 0x1000, paddr: 0x30000, size: 0x1000 },
    ]);
  });
  test("a first segment 0x200 into its page: the next link sits at state.addr + 0xe00 = IOVA + 0x1000", () => {
    const p = nvmePlanRequest(
      dev({}),
      list([
        { addr: 0x10200, len: 0xe00 },
        { addr: 0x30000, len: 0x1000 },
      ]),
      2,
      0,
    );
    expect(p.iommuMaps).toEqual([
      { alloc: 0, iovaOff: 0, paddr: 0x10000, size: 0x1000 },
      { alloc: 0, iovaOff: 0x1000, paddr: 0x30000, size: 0x1000 },
    ]);
    expect(p.dmaSegments).toEqual([0x1e00]);
  });
  test("a seam 0x600 into a page: no IOVA (req_phys_gap_mask & 0xfff), dma_map_phys each, SGLs forced", () => {
    const p = nvmePlanRequest(
      dev({}),
      list([
        { addr: 0x10000, len: 0x600 },
        { addr: 0x30000, len: 0x1000 },
      ]),
      2,
      0x200,
    );
    expect([p.path, p.dmaSegments, p.dataPtr]).toEqual(["phys", [0x600, 0x1000], "sgl"]);
    expect(p.iommuMaps).toEqual([
      { alloc: 0, iovaOff: 0, paddr: 0x10000, size: 0x1000 },
      { alloc: 1, iovaOff: 0, paddr: 0x30000, size: 0x1000 },
    ]);
  });
  test("two physically contiguous bvecs are two segments but one iterator segment: one link", () => {
    const p = nvmePlanRequest(
      dev({}),
      list([
        { addr: 0x100000, len: 0x1000 },
        { addr: 0x101000, len: 0x1000 },
      ]),
      2,
      0,
    );
    expect([p.path, p.dmaMaps]).toEqual(["iova", [{ phys: 0x100000, len: 0x2000 }]]);
    expect(p.iommuMaps).toEqual([{ alloc: 0, iovaOff: 0, paddr: 0x100000, size: 0x2000 }]);
  });
  test("dma-direct with swiotlb forced bounces each mapping", () => {
    const p = nvmePlanRequest(
      dev({ iommu: false, swiotlb: true }),
      list([
        { addr: 0x10000, len: 0x1000 },
        { addr: 0x30000, len: 0x1000 },
      ]),
      2,
      0,
    );
    expect([p.path, p.bounces, p.iommuMaps]).toEqual(["phys", [0x1000, 0x1000], []]);
  });
});

describe("6.12 nvme_map_data: prp/sgl_simple or blk_rq_map_sg + dma_map_sg", () => {
  // Worked out from 6.12 drivers/nvme/host/pci.c nvme_map_data, drivers/iommu/dma-iommu.c
  // iommu_dma_map_sg / __finalise_sg, drivers/iommu/iommu.c iommu_map_sg.
  const d = dev({ release: "6.12" });
  test("one 128 KiB segment with SGLs: nvme_setup_sgl_simple (one dma_map_page)", () => {
    const p = nvmePlanRequest(d, list([{ addr: 0x2000000, len: 128 * KiB }]), 1, 0);
    expect([p.path, p.dataPtr, p.iommuMaps.length]).toEqual(["simple", "sgl", 1]);
  });
  test("two scattered pages: one IOVA, two iommu_map calls, one merged DMA segment", () => {
    const p = nvmePlanRequest(
      d,
      list([
        { addr: 0x10000, len: 0x1000 },
        { addr: 0x30000, len: 0x1000 },
      ]),
      2,
      0,
    );
    expect([p.path, p.dmaSegments, p.dataPtr]).toEqual(["sg", [0x2000], "prp"]);
    expect(p.iommuMaps).toEqual([
      { alloc: 0, iovaOff: 0, paddr: 0x10000, size: 0x1000 },
      { alloc: 0, iovaOff: 0x1000, paddr: 0x30000, size: 0x1000 },
    ]);
  });
  test("an entry ending mid-granule is not merged with the next (__finalise_sg)", () => {
    const p = nvmePlanRequest(
      d,
      list([
        { addr: 0x10000, len: 0x600 },
        { addr: 0x30000, len: 0x1000 },
      ]),
      2,
      0x200,
    );
    expect(p.dmaSegments).toEqual([0x600, 0x1000]);
  });
  test("dma-direct: dma_direct_map_sg never merges", () => {
    const p = nvmePlanRequest(
      dev({ release: "6.12", iommu: false }),
      list([
        { addr: 0x10000, len: 0x1000 },
        { addr: 0x30000, len: 0x1000 },
      ]),
      2,
      0,
    );
    expect([p.path, p.dmaSegments, p.iommuMaps]).toEqual(["sg", [0x1000, 0x1000], []]);
  });
});

describe("nvmePlanIo: a whole O_DIRECT op", () => {
  test("7.2, 2 MiB of one hugetlb page behind dma-iommu: 16 requests, the last through the IOVA path", () => {
    const limits = nvmeQueueLimits({ sglSupported: true, dmaOptMappingSize: 128 * KiB });
    const plan = nvmePlanIo(dev({ limits }), [
      { addr: 0x2000000, len: 2 * 1024 * KiB, folioBytes: 2 * 1024 * KiB },
    ]);
    expect(plan.requests.map((r) => r.bytes)).toEqual(Array(16).fill(131072));
    expect(plan.requests.map((r) => r.path)).toEqual([...Array(15).fill("simple"), "iova"]);
    expect(plan.requests[15].nrPhysSegments).toBe(2);
    expect(plan.requests[15].iommuMaps).toEqual([{ alloc: 0, iovaOff: 0, paddr: 0x21e0000, size: 131072 }]);
  });
  test("6.12, the same op: 16 single-segment requests (bvecs merge across extractions)", () => {
    const limits = nvmeQueueLimits({ sglSupported: true, dmaOptMappingSize: 128 * KiB, release: "6.12" });
    const plan = nvmePlanIo(dev({ limits, release: "6.12" }), [
      { addr: 0x2000000, len: 2 * 1024 * KiB, folioBytes: 2 * 1024 * KiB },
    ]);
    expect(plan.requests.map((r) => r.path)).toEqual(Array(16).fill("simple"));
  });
});
