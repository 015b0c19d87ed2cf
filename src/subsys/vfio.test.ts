import { describe, expect, test } from "vitest";
import { GiB, MiB } from "../../test/kit/index.js";
import { IommuDomain, IommuProt } from "../iommu/index.js";
import { MachineMemory } from "../mem/index.js";
import { AddressSpace, pinUserRange, unpinPhyrs } from "../mm/index.js";
import { VfioError } from "./errors.js";
import { IommufdIoas } from "./iommufd.js";
import { VFIO_DMA_ENTRY_LIMIT, VfioType1Container } from "./vfio.js";

const GUEST_IOVA = 0x100000000;
const P = 4096;
const BAR = 0x380000000000;

/** What an IO page table holds, to compare before and after a refused call. */
function tableState(d: IommuDomain) {
  const pt = d.pgtable!;
  return {
    mappedBytes: pt.mappedBytes,
    ptes: pt.pteCount,
    tables: pt.tableCount,
    leaves: pt.leafCounts(),
    maps: d.stats.maps,
    unmaps: d.stats.unmaps,
  };
}

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
    // Writable DMA marks the pages dirty when it unpins them (unpin_user_pages_dirty_lock); dirty
    // them once first, so that afterwards the memory state must come back exactly.
    unpinPhyrs(mm, pinUserRange(mm, v.start, 8 * MiB, { write: true }), { dirty: true });
    const digest = mem.digest();
    const d1 = dom();
    const d2 = dom();
    const t1 = new VfioType1Container(mm, d1);
    const a = t1.mapDma(v.start, GUEST_IOVA, 8 * MiB);
    const io = new IommufdIoas(mm, d2);
    const b = io.map(v.start, GUEST_IOVA, 8 * MiB);
    expect(a.pinOps).toBe(2048);
    expect(a.iommuMaps).toBe(b.iommuMaps);
    expect(b.pinOps).toBe(b.iommuMaps);
    expect(d1.pgtable!.leafCounts()).toEqual(d2.pgtable!.leafCounts());
    // Both hold pins now: the memory state differs from before mapping.
    expect(mem.digest()).not.toBe(digest);
    expect(io.unmap(GUEST_IOVA, 8 * MiB)).toBe(8 * MiB);
    expect(() => io.unmap(GUEST_IOVA, 8 * MiB)).toThrow(VfioError);
    expect(t1.unmapDma(GUEST_IOVA, 8 * MiB)).toBe(8 * MiB);
    // Every pin released, nothing else changed.
    expect(mem.digest()).toBe(digest);
    expect([d1.pgtable!.mappedBytes, d2.pgtable!.mappedBytes]).toEqual([0, 0]);
    mem.checkValid();
  });

  test("the real default dma_entry_limit: 65,535 BAR pages map, the 65,536th is ENOSPC and nothing changes", () => {
    // 65,536 single-page mappings of a PFNMAP BAR. A BAR needs no pinning (type1 follows the pfn,
    // vaddr_get_pfns -> follow_fault_pfn, and takes no reference), so each MAP_DMA is one pfn follow
    // and one 4 KiB iommu_map: the cheapest real mapping. Pinning 65,535 anon pages would also work
    // but adds a folio per page to the memory model for nothing this test checks.
    const { mem, mm, dom } = vm();
    const n = VFIO_DMA_ENTRY_LIMIT + 1;
    const v = mm.mmap({ kind: "pfnmap", len: n * P, phys: BAR, provider: 1 });
    mm.populate(v.start, n * P, true);
    const d = dom();
    const c = new VfioType1Container(mm, d);
    expect(c.dmaEntryLimit).toBe(65535);
    for (let i = 0; i < VFIO_DMA_ENTRY_LIMIT; i++) c.mapDma(v.start + i * P, GUEST_IOVA + i * P, P);
    expect(c.dmaCount).toBe(65535);
    expect(d.pgtable!.mappedBytes).toBe(65535 * P);
    const digest = mem.digest();
    const table = tableState(d);
    const last = GUEST_IOVA + VFIO_DMA_ENTRY_LIMIT * P;
    let err: unknown;
    try {
      c.mapDma(v.start + VFIO_DMA_ENTRY_LIMIT * P, last, P);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VfioError);
    expect((err as VfioError).code).toBe("ENOSPC");
    expect((err as VfioError).message).toMatch(/dma_entry_limit 65535/);
    expect(c.dmaCount).toBe(65535);
    expect(tableState(d)).toEqual(table);
    expect(d.iovaToPhys(last)).toBe(-1);
    expect(mem.digest()).toBe(digest);
    // An overlapping request is EEXIST even when full (vfio_find_dma is checked before dma_avail).
    expect(() => c.mapDma(v.start, GUEST_IOVA + 100 * P, P)).toThrow(/overlaps 0x100064000\+0x1000/);
    // One UNMAP_DMA over the whole range removes all 65,535; then the 65,536th fits.
    expect(c.unmapDma(GUEST_IOVA, n * P)).toBe(65535 * P);
    expect([c.dmaCount, d.pgtable!.mappedBytes]).toEqual([0, 0]);
    c.mapDma(v.start + VFIO_DMA_ENTRY_LIMIT * P, last, P);
    expect(d.iovaToPhys(last + 0x123)).toBe(BAR + VFIO_DMA_ENTRY_LIMIT * P + 0x123);
    expect(mem.pfnmapPins.size).toBe(0);
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

  test("UNMAP_DMA follows the v2 rules: whole mappings inside the range, EINVAL when it bisects one", () => {
    // Mappings (offsets from GUEST_IOVA): A = 0x1000+0x2000, B = 0x3000+0x1000, C = 0x6000+0x2000.
    // Expected by hand from vfio_dma_do_unmap (iommu->v2): the range may not start inside a mapping
    // (vfio_find_dma(iova, 1) must start at iova) nor end inside one (the mapping holding
    // iova + size - 1 must end at iova + size); every mapping inside is removed; none is success, 0.
    const cases: { at: number; size: number; want: number | "EINVAL"; left: number[] }[] = [
      { at: 0x1000, size: 0x3000, want: 0x3000, left: [0x6000] }, // A + B exactly
      { at: 0x2000, size: 0x2000, want: "EINVAL", left: [0x1000, 0x3000, 0x6000] }, // starts inside A
      { at: 0x3000, size: 0x4000, want: "EINVAL", left: [0x1000, 0x3000, 0x6000] }, // ends inside C
      { at: 0x1000, size: 0x1000, want: "EINVAL", left: [0x1000, 0x3000, 0x6000] }, // first half of A
      { at: 0x4000, size: 0x2000, want: 0, left: [0x1000, 0x3000, 0x6000] }, // the hole between B and C
      { at: 0x3000, size: 0x3000, want: 0x1000, left: [0x1000, 0x6000] }, // B, then the hole
      { at: 0x0, size: 0x10000, want: 0x5000, left: [] }, // all three
    ];
    for (const k of cases) {
      const { mem, mm, dom } = vm();
      const v = mm.mmap({ kind: "anon", len: 8 * P });
      mm.populate(v.start, 8 * P, true);
      const d = dom();
      const c = new VfioType1Container(mm, d);
      c.mapDma(v.start, GUEST_IOVA + 0x1000, 0x2000);
      c.mapDma(v.start + 2 * P, GUEST_IOVA + 0x3000, 0x1000);
      c.mapDma(v.start + 4 * P, GUEST_IOVA + 0x6000, 0x2000);
      const digest = mem.digest();
      const table = tableState(d);
      if (k.want === "EINVAL") {
        expect(() => c.unmapDma(GUEST_IOVA + k.at, k.size)).toThrow(/bisects the mapping/);
        expect(mem.digest()).toBe(digest);
        expect(tableState(d)).toEqual(table);
      } else expect(c.unmapDma(GUEST_IOVA + k.at, k.size)).toBe(k.want);
      expect(c.dmaCount).toBe(k.left.length);
      for (const off of [0x1000, 0x3000, 0x6000])
        expect(d.iovaToPhys(GUEST_IOVA + off) >= 0).toBe(k.left.includes(off));
      mem.checkValid();
    }
    const { mm, dom } = vm();
    const c = new VfioType1Container(mm, dom());
    expect(() => c.unmapDma(GUEST_IOVA, 0)).toThrow(RangeError);
    expect(() => c.unmapDma(GUEST_IOVA + 1, P)).toThrow(RangeError);
  });

  test("IOAS unmap takes every area inside the range; a crossing area or an empty range is ENOENT", () => {
    // Areas A = 0x0+0x2000 and B = 0x2000+0x2000 (offsets from GUEST_IOVA). By hand from
    // iopt_unmap_iova_range / iommufd_ioas_unmap: an area reaching outside the range is ENOENT; no
    // area unmapped is ENOENT; otherwise the bytes of the areas removed.
    const cases: { at: number; size: number; want: number | "ENOENT"; left: number }[] = [
      { at: 0x0, size: 0x4000, want: 0x4000, left: 0 },
      { at: 0x0, size: 0x2000, want: 0x2000, left: 1 },
      { at: 0x1000, size: 0x3000, want: "ENOENT", left: 2 }, // starts inside A
      { at: 0x0, size: 0x3000, want: "ENOENT", left: 2 }, // ends inside B
      { at: 0x4000, size: 0x1000, want: "ENOENT", left: 2 }, // nothing there
    ];
    for (const k of cases) {
      const { mem, mm, dom } = vm();
      const v = mm.mmap({ kind: "anon", len: 4 * P });
      mm.populate(v.start, 4 * P, true);
      const d = dom();
      const io = new IommufdIoas(mm, d);
      io.map(v.start, GUEST_IOVA, 0x2000);
      io.map(v.start + 2 * P, GUEST_IOVA + 0x2000, 0x2000);
      const digest = mem.digest();
      const table = tableState(d);
      if (k.want === "ENOENT") {
        let err: unknown;
        try {
          io.unmap(GUEST_IOVA + k.at, k.size);
        } catch (e) {
          err = e;
        }
        expect((err as VfioError).code).toBe("ENOENT");
        expect(mem.digest()).toBe(digest);
        expect(tableState(d)).toEqual(table);
      } else expect(io.unmap(GUEST_IOVA + k.at, k.size)).toBe(k.want);
      expect(io.areaCount).toBe(k.left);
      mem.checkValid();
    }
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

  test("another device's BAR mapped for P2P: one MMIO range in the IOAS, one huge-PFNMAP follow in type1", () => {
    const { mem, mm, dom } = vm();
    const bar = BAR;
    const IOVA = 0x200000000;
    const v = mm.mmap({ kind: "pfnmap", len: 2 * MiB, phys: bar, provider: 1 });
    mm.populate(v.start, 2 * MiB, true);
    const digest = mem.digest();
    const d2 = dom();
    const io = new IommufdIoas(mm, d2);
    const b = io.map(v.start, IOVA, 2 * MiB);
    expect(b.pinOps).toBe(1);
    expect(d2.iovaToPhys(IOVA + 0x1234)).toBe(bar + 0x1234);
    // The model's range pin counts the PFNMAP pages against the provider (no struct page to pin).
    expect(mem.pfnmapPins.get(1)).toBe(512);
    const d1 = dom();
    const t1 = new VfioType1Container(mm, d1);
    const a = t1.mapDma(v.start, IOVA, 2 * MiB);
    // Huge PFNMAP (vaddr_get_pfns, 7.2): the BAR is one 2 MiB PMD leaf, so one follow_fault_pfn
    // returns min(npages, epfn - pfn) = 512 pfns; nothing is charged to locked_vm (reserved pfns).
    expect([a.pinOps, a.pinCalls, a.iommuMaps, a.lockedPages]).toEqual([1, 1, 1, 0]);
    expect(d1.iovaToPhys(IOVA + 0x1234)).toBe(bar + 0x1234);
    // type1 follows the pfns and takes no pin of its own.
    expect(mem.pfnmapPins.get(1)).toBe(512);
    // The design maps the BAR as MMIO (uncached); type1 maps it with dma->prot | domain->prot, which
    // is IOMMU_CACHE on a coherent domain (vfio_iommu_map: type1 has no IOMMU_MMIO).
    for (const [d, kind] of [
      [d1, IommuProt.CACHE],
      [d2, IommuProt.MMIO],
    ] as const) {
      expect(d.pgtable!.lookup(IOVA + 0x1234)).toBe(true);
      expect(d.pgtable!.found.prot).toBe(IommuProt.READ | IommuProt.WRITE | kind);
      expect(d.translate("0000:01:00.0", IOVA + 0x1000, "write")).toBe(bar + 0x1000);
    }
    // A read-only MAP_DMA of another BAR page range: READ only, a device write faults.
    const d3 = dom();
    new VfioType1Container(mm, d3).mapDma(v.start, IOVA, 16 * P, { write: false });
    expect(d3.pgtable!.lookup(IOVA)).toBe(true);
    expect(d3.pgtable!.found.prot).toBe(IommuProt.READ | IommuProt.CACHE);
    expect(d3.tryTranslate("0000:01:00.0", IOVA, "read")).toBe(bar);
    expect(d3.tryTranslate("0000:01:00.0", IOVA, "write")).toBe(-1);
    expect(d3.faults.at(-1)?.reason).toBe("no-write");
    expect(io.unmap(IOVA, 2 * MiB)).toBe(2 * MiB);
    expect(t1.unmapDma(IOVA, 2 * MiB)).toBe(2 * MiB);
    expect([d1.pgtable!.mappedBytes, d2.pgtable!.mappedBytes]).toEqual([0, 0]);
    // No pin count left for the BAR, and no struct page behind it to hold one.
    expect(mem.pfnmapPins.size).toBe(0);
    const pg = mem.pfnToPage(bar / P + 1);
    expect([pg.folio, pg.refcount, pg.pincount]).toEqual([-1, 0, 0]);
    expect(mem.digest()).toBe(digest);
    mem.checkValid();
  });
});
