import { describe, expect, test } from "vitest";
import { PhyrList } from "../phyr/index.js";
import { NvmeError } from "./errors.js";
import { type NvmeMapOptions, nvmeMapData } from "./nvme-cmd.js";

type R = { addr: number; len: number };
const mk = (rs: R[]) => PhyrList.fromRanges(rs, { store: "wide" });
const pages = (n: number, len: number) =>
  mk(Array.from({ length: n }, (_, i) => ({ addr: 0x100000 + i * 0x100000, len })));

describe("nvmeMapData follows 7.2 nvme_map_data / nvme_pci_use_sgls / nvme_pci_avg_seg_size, and 6.12 beside it", () => {
  // Expected modes worked out by hand from drivers/nvme/host/pci.c (7.2 and 6.12).
  const cases: { name: string; segs: PhyrList; o: NvmeMapOptions; v72: string; v612: string }[] = [
    {
      name: "one 12 KiB segment with sgl_threshold 0: 7.2 inline SGL (threshold not consulted), 6.12 a PRP list",
      segs: pages(1, 0x3000),
      o: { sglSupported: true, sglThreshold: 0, singlePhysSegment: true },
      v72: "sgl",
      v612: "prp",
    },
    {
      name: "two 4 KiB segments with a seam gap inside the controller page: 7.2 forces SGLs",
      segs: pages(2, 0x1000),
      o: { sglSupported: true, physGap: 0x200 },
      v72: "sgl",
      v612: "prp",
    },
    {
      name: "a page-aligned gap forces nothing: average 4 KiB -> PRPs",
      segs: pages(2, 0x1000),
      o: { sglSupported: true, physGap: 0x1000 },
      v72: "prp",
      v612: "prp",
    },
    {
      name: "2 DMA segments of 64 KiB from 8 physical segments: 7.2 averages over 8 (16 KiB, PRP), 6.12 over 2",
      segs: pages(2, 0x10000),
      o: { sglSupported: true, nrPhysSegments: 8 },
      v72: "prp",
      v612: "sgl",
    },
    {
      name: "one coalesced IOVA range of 128 KiB from 32 segments: average over 1 -> SGL",
      segs: pages(1, 0x20000),
      o: { sglSupported: true, nrPhysSegments: 32 },
      v72: "sgl",
      v612: "sgl",
    },
    {
      name: "a PRP-only controller's single 12 KiB segment: a PRP list either way",
      segs: pages(1, 0x3000),
      o: { sglSupported: false, singlePhysSegment: true },
      v72: "prp",
      v612: "prp",
    },
    {
      name: "the admin queue never uses SGLs, gap or not",
      segs: pages(2, 0x1000),
      o: { sglSupported: true, ioQueue: false, physGap: 0x200 },
      v72: "prp",
      v612: "prp",
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      expect(nvmeMapData(c.segs, { ...c.o, release: "7.2" }).mode).toBe(c.v72);
      expect(nvmeMapData(c.segs, { ...c.o, release: "6.12" }).mode).toBe(c.v612);
    });
  }
  test("7.2 describes at most one descriptor page of SGL segments (NVME_MAX_SEGS 256, no chaining)", () => {
    const many = pages(257, 0x10000);
    expect(() => nvmeMapData(many, { sglSupported: true })).toThrow(NvmeError);
    expect(() => nvmeMapData(many, { sglSupported: true })).toThrow(/257 DMA segments.*at most 256/);
    const p = nvmeMapData(pages(256, 0x10000), { sglSupported: true });
    expect([p.mode, p.lists.length, p.chains, p.listBytes]).toEqual(["sgl", 1, 0, 4096]);
  });
});
