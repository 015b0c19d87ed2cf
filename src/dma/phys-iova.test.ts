import { describe, expect, it } from "vitest";
import { GiB } from "../../test/kit/index.js";
import { DmaApiError, IommuFault } from "../core/index.js";
import { IommuDomain } from "../iommu/index.js";
import { MachineMemory } from "../mem/index.js";
import { PhyrList } from "../phyr/index.js";
import { dmaRead, dmaWrite } from "./access.js";
import { dmaIovaDestroy, dmaIovaLink, dmaIovaSync, dmaIovaTryAlloc, dmaIovaUnlink } from "./iova.js";
import type { DmaList } from "./list.js";
import { dmaMap } from "./map.js";
import { dmaMapPhys, dmaUnmapPhys } from "./phys.js";
import { DmaSystem } from "./system.js";
import { dmaUnmap } from "./unmap.js";

function sys(size = 2 * GiB): DmaSystem {
  return new DmaSystem({ memory: new MachineMemory({ nodes: [{ start: 0, size }] }) });
}

describe("dmaMapPhys / dmaUnmapPhys", () => {
  it("maps one range (identity without IOMMU, IOVA with one) and unmaps by address", () => {
    const s = sys();
    const direct = s.addDevice({ name: "0000:01:00.0" });
    expect(dmaMapPhys(s, direct, 0x5000, 0x100, "to-device")).toBe(0x5000);
    const dom = new IommuDomain({ type: "dma" });
    const dev = s.addDevice({ name: "0000:02:00.0" }, dom);
    const dma = dmaMapPhys(s, dev, 0x7010, 0x2000, "bidirectional");
    expect(dma % 0x1000).toBe(0x10);
    s.memory.writePhys(0x8000, Uint8Array.of(1, 2, 3));
    expect(dmaRead(s, dev, dma + 0xff0, 3)).toEqual(Uint8Array.of(1, 2, 3));
    expect(() => dmaUnmapPhys(s, dev, dma, 0x1000, "bidirectional")).toThrow(/different size/);
    expect(() => dmaUnmapPhys(s, dev, dma + 0x1000, 0x2000)).toThrow(/has not mapped \[device address=/);
    dmaUnmapPhys(s, dev, dma, 0x2000, "bidirectional");
    dmaUnmapPhys(s, direct, 0x5000, 0x100, "to-device");
    expect(() => dmaRead(s, dev, dma, 1)).toThrow(IommuFault);
    s.debug.checkNoLeaks();
    dom.checkValid();
  });
});

describe("two-step IOVA API", () => {
  it("dma_iova_try_alloc returns undefined without an IOMMU", () => {
    const s = sys();
    expect(dmaIovaTryAlloc(s, s.addDevice({ name: "0000:01:00.0" }), 0x1000, 0x1000)).toBeUndefined();
  });

  // drivers/iommu/dma-iommu.c dma_iova_try_alloc: iova_off = iova_offset(iovad, phys), then
  // iommu_dma_alloc_iova(iova_align(size + iova_off)): a 4 MiB buffer starting 4 KiB into a 2 MiB
  // page gets the size-aligned 2^32 - 4 MiB, not an IOVA congruent with phys modulo 2 MiB.
  it.each([
    // [phys, size, expected state.addr]
    [0x40201000, 0x400000, 2 ** 32 - 0x400000],
    [0x40201234, 0x400000, 2 ** 32 - 0x800000 + 0x234], // 4 MiB + 0x234 rounds to 0x401000: 8 MiB-aligned
    [0x40200000, 0x200000, 2 ** 32 - 0x200000],
  ])("dma_iova_try_alloc(phys %s, size %s) keeps only the in-granule offset: addr %s", (phys, size, want) => {
    const s = sys();
    const dom = new IommuDomain({ type: "dma" });
    const dev = s.addDevice({ name: "0000:0a:00.0" }, dom);
    const st = dmaIovaTryAlloc(s, dev, phys, size)!;
    expect(st.addr).toBe(want);
  });

  it("links ranges into one IOVA range, enforces the merge boundary, unlinks exactly", () => {
    const s = sys();
    const dom = new IommuDomain({ type: "dma" });
    const dev = s.addDevice({ name: "0000:03:00.0" }, dom);
    const st = dmaIovaTryAlloc(s, dev, 0x10200, 0x3000)!;
    expect(st.addr % 0x1000).toBe(0x200);
    dmaIovaLink(s, dev, st, 0x10200, 0, 0xe00); // first range may start mid-granule
    expect(() => dmaIovaLink(s, dev, st, 0x40100, 0xe00, 0x100)).toThrow(/merge boundary 0xfff/);
    dmaIovaLink(s, dev, st, 0x40000, 0xe00, 0x1000);
    dmaIovaLink(s, dev, st, 0x90000, 0x1e00, 0x1200);
    dmaIovaSync(st);
    expect(st.syncs).toBe(1);
    s.memory.writePhys(0x90000, Uint8Array.of(9, 8, 7));
    expect(dmaRead(s, dev, st.addr + 0x1e00, 3)).toEqual(Uint8Array.of(9, 8, 7));
    dmaWrite(s, dev, st.addr + 0xe00, Uint8Array.of(5));
    expect(s.memory.readPhys(0x40000, 1)).toEqual(Uint8Array.of(5));
    expect(() => dmaIovaUnlink(s, dev, st, 0xe00, 0x800)).toThrow(DmaApiError);
    dmaIovaUnlink(s, dev, st, 0xe00, 0x1000);
    expect(() => dmaRead(s, dev, st.addr + 0xe00, 1)).toThrow(IommuFault);
    expect(() => dmaIovaDestroy(s, dev, st, 0x3000)).toThrow(/mapped_len 0x3000 but 0x2000 linked/);
    dmaIovaDestroy(s, dev, st, 0x2000);
    s.debug.checkNoLeaks();
    dom.checkValid();
  });
});

describe("a 64 GiB buffer of 1 GiB pages", () => {
  it("IOMMU: one DmaList entry, 64 leaf entries of 1 GiB; no IOMMU: the same list object", () => {
    const s = sys(130 * GiB);
    // 64 non-contiguous 1 GiB pages (every other GiB from 2 GiB), as pinning hugetlb memory yields.
    const l = new PhyrList({ store: "compact" });
    for (let i = 0; i < 64; i++) l.append((2 + 2 * i) * GiB, GiB, 1);
    const plain = s.addDevice({ name: "0000:01:00.0" });
    expect(dmaMap(s, plain, l)).toBe(l);
    dmaUnmap(s, plain, l);
    const dom = new IommuDomain({ type: "dma" });
    const dev = s.addDevice({ name: "0000:02:00.0" }, dom);
    const m = dmaMap(s, dev, l, "bidirectional") as DmaList;
    expect(m.kind).toBe("iommu-single");
    expect(m.nents).toBe(1);
    expect(m.totalBytes).toBe(64 * GiB);
    expect(dom.pgtable!.leafCount(GiB)).toBe(64);
    expect(dom.pgtable!.leafCount(4096)).toBe(0);
    // IOTLB reach: touching one byte per page fills 64 entries that cover all 64 GiB
    const e = m.entry(0);
    for (let i = 0; i < 64; i++) dmaRead(s, dev, e.addr + i * GiB + 123, 1);
    // 64 IOTLB entries (of the default 128) hold the translation of every byte: reach 64 GiB.
    expect(dom.iotlb.validCount).toBe(64);
    expect(dom.iotlb.reach).toBe(64 * GiB);
    const misses = dom.iotlb.misses;
    for (let i = 0; i < 64; i++) dmaRead(s, dev, e.addr + i * GiB + GiB - 1, 1);
    expect(dom.iotlb.misses).toBe(misses); // the other end of every page hits
    dmaUnmap(s, dev, m);
    expect(dom.pgtable!.leafCount(GiB)).toBe(0);
    dom.checkValid();
    s.debug.checkNoLeaks();
  });
});
