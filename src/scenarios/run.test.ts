import { describe, expect, test } from "vitest";
import { GiB } from "../../test/kit/index.js";
import { runScenario, SCENARIOS } from "./run.js";

describe("named scenarios run at a small size and return plain data", () => {
  test("names are stable kebab-case with one-line descriptions", () => {
    expect(SCENARIOS.map((s) => s.name)).toEqual([
      "block-odirect",
      "nvme-prp-vs-sgl",
      "rdma-mr",
      "vfio-1g",
      "vfio-thp",
      "vfio-fragmented",
      "iommufd-thp",
      "dmabuf-p2p",
      "devmem-rx",
    ]);
    for (const s of SCENARIOS) {
      expect(s.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(s.description.includes("\n")).toBe(false);
    }
  });

  for (const s of SCENARIOS) {
    test(`${s.name}: design and baseline side by side, JSON round trip, deterministic`, () => {
      const r = runScenario(s.name, { seed: 7 });
      expect(JSON.parse(JSON.stringify(r))).toEqual(r);
      expect(Object.keys(r.design).length).toBeGreaterThan(2);
      expect(Object.keys(r.ratios).length).toBeGreaterThan(0);
      for (const k of Object.keys(r.ratios)) expect(r.ratios[k]).toBe(r.baseline[k] / r.design[k]);
      expect(runScenario(s.name, { seed: 7 }).design).toEqual(r.design);
    });
  }

  test("vfio-1g at 2 GiB: 2 range pins vs 524,288 page pins, the same two 1 GiB leaves", () => {
    const r = runScenario("vfio-1g", { size: 2 * GiB });
    expect([r.design.pinOps, r.baseline.pinOps, r.baseline.pinCalls]).toEqual([2, 524288, 1024]);
    expect([r.design.leaves1G, r.baseline.leaves1G, r.design.iotlbEntriesToCover]).toEqual([2, 2, 2]);
    expect(r.ratios.pinOps).toBe(262144);
  });

  test("vfio-1g above the baseline limit derives the baseline's counts exactly and says so", () => {
    const r = runScenario("vfio-1g", { size: 3 * GiB, baselineLimit: GiB });
    expect(r.baseline.pinOps).toBe((3 * GiB) / 4096);
    expect(r.baseline.pinCalls).toBe((3 * GiB) / 4096 / 512);
    expect(r.notes[0]).toMatch(/slice/);
  });

  test("rdma-mr at 16 MiB of THP: 8 MTT entries of 2 MiB vs 4096 of 4 KiB", () => {
    const r = runScenario("rdma-mr", { size: 16 * 2 ** 20 });
    expect([r.design.pageSize, r.design.mttEntries, r.baseline.mttEntries]).toEqual([2 ** 21, 8, 4096]);
  });

  test("dmabuf-p2p tears down both importers' mappings; the baseline needs a struct page per BAR page", () => {
    const r = runScenario("dmabuf-p2p", { size: 64 * 2 ** 20 });
    expect(r.design.mappingsTornDown).toBe(2);
    expect(r.design.structPages).toBe(0);
    expect(r.baseline.structPages).toBe((128 * 2 ** 20) / 4096);
  });

  test("devmem-rx at 4 MiB: buffers used, bytes per buffer and waste follow the placement rule", () => {
    // 64 exporter pages of 64 KiB (design) vs 1024 page-sized buffers (baseline); the stream is
    // 4 MiB * 1448 / 8192 = 741,376 B. MTU 1500: 512 packets of 1448 B.
    //   design, packed 1472-B fragments: 44 per 64 KiB buffer -> ceil(512 / 44) = 12 buffers,
    //     waste 12 * 65536 - 741376 = 45,056 (57 permille), 741376 / 12 = 61,781 B per buffer;
    //   baseline, one packet per 4 KiB buffer: 512 buffers, waste 2,097,152 - 741,376 = 1,355,776
    //     (646 permille), 1448 B per buffer.
    // MTU 9000: 82 packets of 8948 B and one of 7640 B.
    //   design, 8960-B fragments: 7 per buffer -> 12 buffers (the last holds 5 + the short one),
    //     waste 45,056 again;
    //   baseline: 82 * 3 + 2 = 248 buffers, waste 1,015,808 - 741,376 = 274,432 (270 permille),
    //     741376 / 248 = 2,989 B per buffer.
    const r = runScenario("devmem-rx", { size: 4 * 2 ** 20 });
    expect(r.design).toEqual({
      netBuffers: 64,
      mtu1500BuffersUsed: 12,
      mtu1500BytesPerBuffer: 61781,
      mtu1500WasteBytes: 45056,
      mtu1500WastePermille: 57,
      mtu9000BuffersUsed: 12,
      mtu9000BytesPerBuffer: 61781,
      mtu9000WasteBytes: 45056,
      mtu9000WastePermille: 57,
    });
    expect(r.baseline).toEqual({
      netBuffers: 1024,
      mtu1500BuffersUsed: 512,
      mtu1500BytesPerBuffer: 1448,
      mtu1500WasteBytes: 1355776,
      mtu1500WastePermille: 646,
      mtu9000BuffersUsed: 248,
      mtu9000BytesPerBuffer: 2989,
      mtu9000WasteBytes: 274432,
      mtu9000WastePermille: 270,
    });
    expect(r.ratios.mtu1500BytesPerBuffer).toBeUndefined();
  });

  test("block-odirect at 8 MiB: 64 requests of 128 KiB (dma_opt_mapping_size), one IOVA and one inline SGL each", () => {
    // 7.2, behind dma-iommu: max_hw_sectors = min(NVME_MAX_BYTES, iova_rcache_range() 128 KiB) =
    // 256 sectors (drivers/nvme/host/pci.c nvme_pci_alloc_dev) -> 8 MiB / 128 KiB = 64 requests.
    // Both sides link each request into one IOVA (every seam page aligned: req_phys_gap_mask &
    // 0xfff == 0) -> one segment, an inline SGL descriptor, no list. The baseline pins 2048 pages.
    const r = runScenario("block-odirect", { size: 8 * 2 ** 20 });
    expect([r.design.requests, r.baseline.requests]).toEqual([64, 64]);
    expect([r.design.dmaSegments, r.design.descriptors, r.design.descriptorListBytes]).toEqual([64, 64, 0]);
    expect([r.baseline.entries, r.baseline.pinBytes]).toEqual([2048, 16384]);
    expect(r.design.entries).toBeGreaterThanOrEqual(1);
    expect(r.design.entries).toBeLessThanOrEqual(4); // at most one per 2 MiB THP
    expect([r.design.bvecBytes, r.design.sgBytes]).toEqual([0, 0]);
    // 7.2 builds no scatterlist: the block layer's DMA iterator feeds the driver.
    expect(r.baseline.sgBytes).toBe(0);
  });

  test("nvme-prp-vs-sgl at 8 MiB: PRPs name every 4 KiB page; SGLs one descriptor per segment", () => {
    // 7.2 dma-direct: max_sectors = min(NVME_MAX_BYTES 8 MiB, BLK_DEF_MAX_SECTORS_CAP 4 MiB) -> 2
    // requests. PRP-only: a 1024-page request takes PRP1 + 1023 listed entries, 511 + 512 over two
    // chained 4 KiB list pages: 2 * 1024 = 2048 entries, 4 list pages.
    const r = runScenario("nvme-prp-vs-sgl", { size: 8 * 2 ** 20 });
    expect([r.baseline.requests, r.baseline.descriptors, r.baseline.descriptorListBytes]).toEqual([
      2,
      2048,
      4 * 4096,
    ]);
    // SGL: 2 requests plus one more segment for each THP join at 2, 4 and 6 MiB that is not
    // physically contiguous; a request with more than one segment needs a 256-byte small-pool list.
    expect(r.design.requests).toBe(2);
    expect(r.design.descriptors).toBeGreaterThanOrEqual(2);
    expect(r.design.descriptors).toBeLessThanOrEqual(5);
    expect(r.design.descriptorListBytes / 256).toBeLessThanOrEqual(2);
    expect(r.design.descriptorListBytes % 256).toBe(0);
  });

  test("vfio-thp at 64 MiB and vfio-fragmented at 8 MiB: pins per page vs per range, same leaves", () => {
    // 32 THPs, none adjacent: 32 range entries and 32 2 MiB leaves both ways; type1 pins 16,384
    // pages in 32 batches of 512.
    const t = runScenario("vfio-thp", { size: 64 * 2 ** 20 });
    expect([t.design.pinOps, t.design.pinCalls, t.design.iommuMaps, t.design.leaves2M]).toEqual([
      32, 1, 32, 32,
    ]);
    expect([t.baseline.pinOps, t.baseline.pinCalls, t.baseline.iommuMaps, t.baseline.leaves2M]).toEqual([
      16384, 32, 32, 32,
    ]);
    // 2048 separate 4 KiB pages: both map 2048 runs as 4 KiB leaves; type1 pins in 4 batches.
    const f = runScenario("vfio-fragmented", { size: 8 * 2 ** 20 });
    expect([f.design.pinOps, f.design.pinCalls, f.design.leaves4K]).toEqual([2048, 1, 2048]);
    expect([f.baseline.pinOps, f.baseline.pinCalls, f.baseline.leaves4K]).toEqual([2048, 4, 2048]);
  });

  test("iommufd-thp at 64 MiB: the kernel's 2 pin_user_pages_fast calls of 8,192 pages vs 32 range entries", () => {
    // drivers/iommu/iommufd/pages.c: pages arrays of TEMP_MEMORY_LIMIT / 8 = 8,192 pointers, so
    // 16,384 pages take 2 calls; 32 separate THPs are 32 pfn_batch entries, one iommu_map each;
    // working memory 8,192 * 8 + 5,461 * 12 = 131,068 bytes; every page is charged to locked_vm.
    const r = runScenario("iommufd-thp", { size: 64 * 2 ** 20 });
    expect([r.design.pinOps, r.design.pinCalls, r.design.iommuMaps, r.design.leaves2M]).toEqual([
      32, 1, 32, 32,
    ]);
    expect([r.baseline.pinOps, r.baseline.pinCalls, r.baseline.iommuMaps, r.baseline.leaves2M]).toEqual([
      16384, 2, 32, 32,
    ]);
    expect([r.baseline.trackingBytes, r.baseline.lockedPages, r.design.lockedPages]).toEqual([
      131068, 16384, 16384,
    ]);
  });

  test("dmabuf-p2p at 64 MiB: 32 ranges of 2 MiB against a 128 MiB BAR's 32,768 struct pages", () => {
    // Every other 2 MiB of the BAR: 32 ranges, 32 bus-address entries per importer.
    // design bytes 16 * 32 + 16 * 64 = 1536; baseline 64 * 32768 + 2 * (32 * 32 + 16) = 2,099,232.
    const r = runScenario("dmabuf-p2p", { size: 64 * 2 ** 20 });
    expect([r.design.entries, r.baseline.entries]).toEqual([32, 32]);
    expect([r.design.metadataBytes, r.baseline.metadataBytes]).toEqual([1536, 2099232]);
  });

  test("bad names and sizes are refused", () => {
    expect(() => runScenario("nope")).toThrow(/expected one of block-odirect/);
    expect(() => runScenario("vfio-1g", { size: 3 * 2 ** 20 })).toThrow(RangeError);
    expect(() => runScenario("block-odirect", { size: 100 })).toThrow(RangeError);
  });
});
