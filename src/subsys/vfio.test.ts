import { describe, expect, test } from "vitest";
import { IommuDomain } from "../iommu/index.js";
import { MachineMemory } from "../mem/index.js";
import { AddressSpace } from "../mm/index.js";
import { VfioError } from "./errors.js";
import { IommufdIoas, VfioType1Container } from "./vfio.js";

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const GUEST_IOVA = 0x100000000;

function vm(o: { pages1G?: number; thp?: "never" | "always" } = {}) {
  const mem = new MachineMemory({
    nodes: [{ start: 0, size: (o.pages1G ?? 0) * GiB + GiB }],
    seed: 3,
    hugetlb: { pages1G: o.pages1G ?? 0 },
    pciWindows: [{ start: 0x380000000000, size: 0x100000000, name: "PCI Bus 0000:00" }],
  });
  const mm = new AddressSpace(mem, { thp: o.thp ?? "never" });
  const dom = () => new IommuDomain({ type: "dma", name: "vfio" });
  return { mem, mm, dom };
}

describe("VFIO type1 vs iommufd range mapping of guest memory", () => {
  test("2 GiB of 1 GiB pages: 524,288 page pins vs 2 range entries, same 1 GiB leaves", () => {
    const { mem, mm, dom } = vm({ pages1G: 2 });
    const v = mm.mmap({ kind: "hugetlb", hugeSize: "1G", len: 2 * GiB });
    mm.populate(v.start, 2 * GiB, true);
    const d1 = dom();
    const d2 = dom();
    const t1 = new VfioType1Container(mm, d1);
    const io = new IommufdIoas(mm, d2);
    const a = t1.mapDma(v.start, GUEST_IOVA, 2 * GiB);
    const b = io.map(v.start, GUEST_IOVA, 2 * GiB);
    expect([a.pinOps, a.pinCalls]).toEqual([524288, 1024]);
    expect([b.pinOps, b.pinCalls, b.iommuMaps]).toEqual([2, 1, 2]);
    expect(a.iommuMaps).toBeLessThanOrEqual(2);
    expect(d1.pgtable!.leafCount(GiB)).toBe(2);
    expect(d2.pgtable!.leafCount(GiB)).toBe(2);
    for (let off = 0; off < 2 * GiB; off += 0x12345000)
      expect(d1.iovaToPhys(GUEST_IOVA + off)).toBe(d2.iovaToPhys(GUEST_IOVA + off));
    mem.checkValid();
    t1.unmapDma(GUEST_IOVA, 2 * GiB);
    io.unmap(GUEST_IOVA, 2 * GiB);
    expect(d1.pgtable!.mappedBytes).toBe(0);
    expect(d2.pgtable!.mappedBytes).toBe(0);
    mem.checkValid();
    mm.checkValid();
  });

  test("fragmented 4 KiB memory: type1 maps one run per contiguous pfn run, like the range list's entries", () => {
    const { mem, mm, dom } = vm();
    // Interleave two areas' faults so neither is physically contiguous.
    const v = mm.mmap({ kind: "anon", len: 8 * MiB });
    const w = mm.mmap({ kind: "anon", len: 8 * MiB });
    for (let off = 0; off < 8 * MiB; off += 4096) {
      mm.fault(v.start + off, true);
      if ((off / 4096) % 3 === 0) mm.fault(w.start + off, true);
    }
    const digest = mem.digest();
    const d1 = dom();
    const d2 = dom();
    const a = new VfioType1Container(mm, d1).mapDma(v.start, GUEST_IOVA, 8 * MiB);
    const io = new IommufdIoas(mm, d2);
    const b = io.map(v.start, GUEST_IOVA, 8 * MiB);
    expect(a.pinOps).toBe(2048);
    expect(a.iommuMaps).toBe(b.iommuMaps);
    expect(b.pinOps).toBe(b.iommuMaps);
    expect(d1.pgtable!.leafCounts()).toEqual(d2.pgtable!.leafCounts());
    io.unmap(GUEST_IOVA, 8 * MiB);
    expect(() => io.unmap(GUEST_IOVA, 8 * MiB)).toThrow(VfioError);
    mem.checkValid();
    void digest;
  });

  test("the container's dma_entry_limit is reported when hit, and nothing changes", () => {
    const { mem, mm, dom } = vm();
    const v = mm.mmap({ kind: "anon", len: 64 * 4096 });
    mm.populate(v.start, 64 * 4096, true);
    const c = new VfioType1Container(mm, dom(), { dmaEntryLimit: 4 });
    for (let i = 0; i < 4; i++) c.mapDma(v.start + i * 4096, GUEST_IOVA + i * 4096, 4096);
    const digest = mem.digest();
    expect(() => c.mapDma(v.start + 4 * 4096, GUEST_IOVA + 4 * 4096, 4096)).toThrow(/dma_entry_limit 4/);
    expect(c.dmaCount).toBe(4);
    expect(mem.digest()).toBe(digest);
    expect(() => new VfioType1Container(mm, dom(), { dmaEntryLimit: 65536 })).toThrow(RangeError);
  });

  test("overlapping IOVAs and unpinnable memory are refused with nothing left pinned or mapped", () => {
    const { mem, mm, dom } = vm();
    const v = mm.mmap({ kind: "anon", len: 16 * 4096 });
    mm.populate(v.start, 16 * 4096, true);
    const d = dom();
    const io = new IommufdIoas(mm, d);
    io.map(v.start, GUEST_IOVA, 8 * 4096);
    const digest = mem.digest();
    expect(() => io.map(v.start + 8 * 4096, GUEST_IOVA + 4096, 4096)).toThrow(/overlaps/);
    expect(() => io.map(0x1000, GUEST_IOVA + GiB, 4096)).toThrow(/outside any VMA/);
    const c = new VfioType1Container(mm, dom());
    expect(() => c.mapDma(0x1000, GUEST_IOVA, 4096)).toThrow(/outside any VMA/);
    expect(mem.digest()).toBe(digest);
    expect(io.areaCount).toBe(1);
  });

  test("another device's BAR mapped for P2P: one MMIO range in the IOAS, 4 KiB follows page by page in type1", () => {
    const { mem, mm, dom } = vm();
    const bar = 0x380000000000;
    const v = mm.mmap({ kind: "pfnmap", len: 2 * MiB, phys: bar, provider: 1 });
    mm.populate(v.start, 2 * MiB, true);
    const d2 = dom();
    const io = new IommufdIoas(mm, d2);
    const b = io.map(v.start, 0x200000000, 2 * MiB);
    expect(b.pinOps).toBe(1);
    expect(d2.iovaToPhys(0x200000000 + 0x1234)).toBe(bar + 0x1234);
    const d1 = dom();
    const a = new VfioType1Container(mm, d1).mapDma(v.start, 0x200000000, 2 * MiB);
    expect(a.pinOps).toBe(512);
    expect(d1.iovaToPhys(0x200000000 + 0x1234)).toBe(bar + 0x1234);
    io.unmap(0x200000000, 2 * MiB);
    mem.checkValid();
  });
});
