/**
 * Expected values are worked out by hand. Kernel leaves follow drivers/iommu/iommu.c
 * iommu_pgsize() on each traced iommu:map call with the VT-d sizes 4K|2M|1G: the largest size
 * dividing iova | paddr and not above the size, and a count that stops at the next larger size's
 * boundary only when iova and paddr are congruent modulo it. Design leaves follow the congruent
 * placement documented in analyze/iommu-cost.ts congruentIovaBase() (a design choice, not kernel).
 */
import { describe, expect, it } from "vitest";
import { parseTrace } from "./parse.js";
import { NO_DMA_API_MESSAGE, summarizeTrace } from "./summary.js";

const ctx = (pid: number, us: number) =>
  `${"fio".padStart(16)}-${String(pid).padEnd(7)} [000] ..... ${(us / 1e6).toFixed(6).padStart(12)}: `;
const map = (pid: number, iova: number, paddr: number, size: number) =>
  `${ctx(pid, 1)}map: IOMMU: iova=0x${iova.toString(16).padStart(16, "0")} - 0x${(iova + size).toString(16).padStart(16, "0")} paddr=0x${paddr.toString(16).padStart(16, "0")} size=${size}`;
const mapPhys = (pid: number, dev: string, dma: number, size: number, phys: number) =>
  `${ctx(pid, 2)}dma_map_phys: ${dev} dir=TO_DEVICE dma_addr=${dma.toString(16)} size=${size} phys_addr=${phys.toString(16)} attrs=`;

const A = "0000:00:04.0";

describe("summarizeTrace() per device, kernel (traced) vs design (model)", () => {
  it("7.2 NVMe: dma_map_phys claims its own iommu maps; IOVA-API maps go to the only IOMMU device", () => {
    const text = [
      `${ctx(100, 0)}tracing_mark_write: op 1`,
      map(100, 0xfffe0000, 0x40000000, 0x20000),
      mapPhys(100, A, 0xfffe0000, 0x20000, 0x40000000),
      // one request through dma_iova_link(): three scattered pages at consecutive IOVAs, no dma: event
      map(100, 0xfffc0000, 0x50000000, 0x1000),
      map(100, 0xfffc1000, 0x50002000, 0x1000),
      map(100, 0xfffc2000, 0x50004000, 0x1000),
      map(100, 0xfffa0000, 0x60000000, 0x1000),
      mapPhys(100, A, 0xfffa0000, 0x1000, 0x60000000),
    ].join("\n");
    const s = summarizeTrace(parseTrace(text, "t"));
    expect(s.usesDmaApi).toBe(true);
    expect(s.devices).toHaveLength(1);
    const d = s.devices[0];
    expect(d.device).toBe(A);
    expect(d.iommu).toBe(true);
    expect(d.kernel).toEqual({
      mapCalls: { sg: 0, phys: 2, page: 0, resource: 0, alloc: 0 },
      iovaRuns: 1,
      sgEntriesIn: 0,
      dmaSegmentsOut: 2,
      bytesMapped: 0x20000 + 0x1000,
      scatterlistBytes: 0,
      truncatedCalls: 0,
      partialBytesCalls: 0,
      iovaAllocs: 3,
      iommuMapCalls: 5,
      iommuBytes: 0x20000 + 4 * 0x1000,
      // 128 KiB at iova 0xfffe0000 / paddr 0x40000000: 2M is above the size -> 32 x 4K; the rest 1 x 4K each.
      leaves: [{ size: 4096, count: 32 + 4 }],
      iommuAttributed: { byEvent: 2, nvmeCommand: 0, onlyDevice: 3 },
      bounces: 0,
      bounceBytes: 0,
    });
    // Three lists: the 128 KiB one, the 4 KiB one, and the IOVA-API request of three separate pages.
    expect(d.design).toEqual({
      lists: 3,
      listsUnknown: 0,
      rangeEntries: 1 + 1 + 3,
      rangeListBytes: 16 * 5,
      listsGranuleAligned: 1,
      iovas: 3,
      iommuMapCalls: 3,
      leaves: [{ size: 4096, count: 32 + 1 + 3 }],
    });
    expect(s.unattributed).toEqual({ iommuMapCalls: 0, iommuBytes: 0 });
    expect(s.markers).toBe(1);
  });

  it("IOVA-API runs go to the NVMe controller whose command preceded them, named by its PCI device when a dma: event tied them", () => {
    const setup = (pid: number, cid: number) =>
      `${ctx(pid, 1)}nvme_setup_cmd: nvme0: disk=nvme0n1, qid=1, cmdid=${cid}, nsid=1, flags=0x0, meta=0x0, cmd=(nvme_cmd_read slba=0, len=7, ctrl=0x0, dsmgmt=0, reftag=0)`;
    const issue = (pid: number) => `${ctx(pid, 4)}block_rq_issue: 259,0 R 8192 () 0 + 16 be,0,4 [fio]`;
    const run = [
      setup(7, 1),
      map(7, 0xfffc0000, 0x1000, 0x1000),
      map(7, 0xfffc1000, 0x9000, 0x1000),
      issue(7),
    ];
    // Alone, the controller is only known as nvme0.
    const alone = summarizeTrace(parseTrace(run.join("\n"), "t"));
    expect(
      alone.devices.map((d) => [d.device, d.kernel.iovaRuns, d.kernel.iommuAttributed.nvmeCommand]),
    ).toEqual([["nvme0", 1, 2]]);
    expect(alone.devices[0].design).toMatchObject({ lists: 1, rangeEntries: 2, iommuMapCalls: 1 });
    // A single-segment request of the same controller names its PCI device; the run follows it.
    const tied = [
      setup(7, 2),
      map(7, 0xfff00000, 0x20000, 0x1000),
      mapPhys(7, A, 0xfff00000, 0x1000, 0x20000),
      issue(7),
      ...run,
    ];
    const s = summarizeTrace(parseTrace(tied.join("\n"), "t"));
    expect(s.devices.map((d) => d.device)).toEqual([A]);
    expect(s.devices[0].kernel.iommuAttributed).toEqual({ byEvent: 1, nvmeCommand: 2, onlyDevice: 0 });
    expect(s.devices[0].kernel.iovaRuns).toBe(1);
  });

  it("dma-direct 7.x request: its dma_map_phys calls make one design list; a coherent allocation's map is the kernel's, not a list", () => {
    const setup = `${ctx(9, 1)}nvme_setup_cmd: nvme0: disk=nvme0n1, qid=1, cmdid=3, nsid=1, flags=0x0, meta=0x0, cmd=(nvme_cmd_write slba=0, len=15, ctrl=0x0, dsmgmt=0, reftag=0)`;
    const direct = [
      setup,
      mapPhys(9, "d", 0x10000, 0x1000, 0x10000),
      mapPhys(9, "d", 0x11000, 0x1000, 0x11000),
      mapPhys(9, "d", 0x30000, 0x2000, 0x30000),
      `${ctx(9, 3)}block_rq_issue: 259,0 WS 16384 () 0 + 32 be,0,4 [fio]`,
    ];
    const d = summarizeTrace(parseTrace(direct.join("\n"), "t")).devices[0];
    expect(d.kernel).toMatchObject({ mapCalls: { phys: 3 }, dmaSegmentsOut: 3, iommuMapCalls: 0 });
    // One request: 0x10000+0x2000 (two contiguous pages coalesced) and 0x30000+0x2000.
    expect(d.design).toMatchObject({ lists: 1, rangeEntries: 2, rangeListBytes: 32, iovas: 0 });
    const alloc = [
      map(5, 0xfffff000, 0x7000000, 0x1000),
      `${ctx(5, 2)}dma_alloc: ${A} dir=BIDIRECTIONAL dma_addr=fffff000 size=4096 virt_addr=00000000deadbeef flags=GFP_ATOMIC attrs=`,
      map(5, 0xfffe0000, 0x40000000, 0x1000),
      mapPhys(5, A, 0xfffe0000, 0x1000, 0x40000000),
    ];
    const s = summarizeTrace(parseTrace(alloc.join("\n"), "t"));
    const a = s.devices[0];
    expect(a.kernel).toMatchObject({
      mapCalls: { alloc: 1, phys: 1 },
      iommuMapCalls: 2,
      iovaAllocs: 2,
      iovaRuns: 0,
    });
    expect(a.kernel.iommuAttributed).toEqual({ byEvent: 2, nvmeCommand: 0, onlyDevice: 0 });
    expect(a.design).toMatchObject({ lists: 1, iommuMapCalls: 1 });
  });

  it("6.x dma_map_sg of 1000 pages, [TRUNCATED]: full counts, and a 2 MiB leaf once the IOVA is congruent", () => {
    const phys = Array.from({ length: 128 }, (_, i) => `0x${(0x80100000 + i * 0x1000).toString(16)}`).join(
      ",",
    );
    const text = [
      // IOVA: 1000 granules, size-aligned to 1024 granules (4 MiB) below 4 GiB -> 0xffc00000.
      map(200, 0xffc00000, 0x80100000, 1000 * 4096),
      `${ctx(200, 3)}dma_map_sg: 0000:00:05.0 dir=FROM_DEVICE nents=128/1000 ents=1/1 [TRUNCATED] dma_addrs={0xffc00000} sizes={0x3e8000} phys_addrs={${phys}} attrs=`,
    ].join("\n");
    const d = summarizeTrace(parseTrace(text, "t")).devices[0];
    expect(d.kernel).toMatchObject({
      mapCalls: { sg: 1, phys: 0, page: 0, resource: 0, alloc: 0 },
      sgEntriesIn: 1000,
      dmaSegmentsOut: 1,
      bytesMapped: 4096000,
      scatterlistBytes: 32 * 1000,
      truncatedCalls: 1,
      iovaAllocs: 1,
      iommuMapCalls: 1,
      // iova | paddr is 1 MiB aligned -> 4K; iova ^ paddr = 0x100000 mod 2M: not congruent -> all 1000 x 4K.
      leaves: [{ size: 4096, count: 1000 }],
      iommuAttributed: { byEvent: 1, nvmeCommand: 0, onlyDevice: 0 },
    });
    // Design: one entry (16 B); congruent IOVA 0xffb00000 (= paddr mod 2M): 256 x 4K up to the
    // 2 MiB boundary, 1 x 2M, then 0xe8000 bytes = 232 x 4K.
    expect(d.design).toEqual({
      lists: 1,
      listsUnknown: 0,
      rangeEntries: 1,
      rangeListBytes: 16,
      listsGranuleAligned: 1,
      iovas: 1,
      iommuMapCalls: 1,
      leaves: [
        { size: 4096, count: 256 + 232 },
        { size: 0x200000, count: 1 },
      ],
    });
  });

  it("dma-direct dma_map_sg (ents == nents) gives exact ranges; swiotlb bounces are counted; no IOMMU, no IOVA", () => {
    const text = [
      `${ctx(300, 1)}swiotlb_bounced: dev_name: 0000:00:06.0 dma_mask=ffffffff dev_addr=30000 size=8192 FORCE`,
      `${ctx(300, 2)}dma_map_sg: 0000:00:06.0 dir=TO_DEVICE nents=2/2 ents=2/2 dma_addrs={0x10000,0x30000} sizes={0x1000,0x2000} phys_addrs={0x10000,0x30000} attrs=`,
    ].join("\n");
    const d = summarizeTrace(parseTrace(text, "t")).devices[0];
    expect(d.iommu).toBe(false);
    expect(d.kernel).toMatchObject({
      sgEntriesIn: 2,
      dmaSegmentsOut: 2,
      bytesMapped: 0x3000,
      bounces: 1,
      bounceBytes: 8192,
    });
    expect(d.design).toEqual({
      lists: 1,
      listsUnknown: 0,
      rangeEntries: 2,
      rangeListBytes: 32,
      listsGranuleAligned: 0,
      iovas: 0,
      iommuMapCalls: 0,
      leaves: [],
    });
  });

  it("merged dma_map_sg with no iommu maps in the trace: the ranges are unknown and not modelled", () => {
    const text = `${ctx(1, 1)}dma_map_sg: d dir=TO_DEVICE nents=2/2 ents=1/1 dma_addrs={0x1000} sizes={0x2000} phys_addrs={0x5000,0x9000} attrs=`;
    const d = summarizeTrace(parseTrace(text, "t")).devices[0];
    expect(d.design).toMatchObject({ lists: 0, listsUnknown: 1, rangeEntries: 0 });
  });

  it("iommu maps with two IOMMU devices and no claiming event stay unattributed, and say so", () => {
    const text = [
      map(1, 0xfff00000, 0x100000, 0x1000),
      mapPhys(1, "a", 0xfff00000, 0x1000, 0x100000),
      map(2, 0xffe00000, 0x200000, 0x1000),
      mapPhys(2, "b", 0xffe00000, 0x1000, 0x200000),
      map(3, 0xffd00000, 0x300000, 0x2000),
    ].join("\n");
    const s = summarizeTrace(parseTrace(text, "t"));
    expect(s.unattributed).toEqual({ iommuMapCalls: 1, iommuBytes: 0x2000 });
    expect(s.notes).toContain("1 iommu:map calls could not be attributed to one device");
    expect(s.devices.map((d) => d.kernel.iommuMapCalls)).toEqual([1, 1]);
  });

  it("a trace without dma:, iommu: or swiotlb: events says no device used the DMA API", () => {
    const text = [
      `${ctx(1, 1)}tracing_mark_write: hello`,
      `${ctx(1, 2)}block_bio_queue: 252,0 R 0 + 8 [dd]`,
    ].join("\n");
    const s = summarizeTrace(parseTrace(text, "t"));
    expect(s.usesDmaApi).toBe(false);
    expect(s.message).toBe(NO_DMA_API_MESSAGE);
    expect(s.devices).toEqual([]);
  });

  it("an unknown page-table format is refused", () => {
    expect(() => summarizeTrace(parseTrace("", "t"), { pgtable: "nope" as never })).toThrow(RangeError);
  });
});
