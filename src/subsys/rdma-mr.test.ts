import { describe, expect, test } from "vitest";
import { MiB } from "../../test/kit/index.js";
import { PinFailed } from "../core/index.js";
import { DmaDebug, DmaSystem } from "../dma/index.js";
import { MachineMemory } from "../mem/index.js";
import { AddressSpace } from "../mm/index.js";
import { ibDeregMr, ibRegUserMr } from "./rdma-mr.js";
import { PGSZ_4K_2M_1G } from "./rdma-pgsz.js";
import { addDevice, buildTestbed } from "./testbed.js";

describe("ibRegUserMr", () => {
  test("a THP-backed buffer registers with 2 MiB pages through dma-direct", () => {
    const m = buildTestbed({ seed: 8, ramBytes: 2 ** 29, thp: "always" });
    const { dev } = addDevice(m, "0000:07:00.0");
    const v = m.mm.mmap({ kind: "anon", len: 16 * MiB, hugepage: true });
    const mr = ibRegUserMr(m.sys, m.mm, dev, v.start, 16 * MiB, PGSZ_4K_2M_1G);
    expect(mr.pgsz).toBe(2 * MiB);
    expect(mr.mttEntries).toBe(8);
    ibDeregMr(m.sys, m.mm, dev, mr);
    m.sys.debug.checkNoLeaks();
    m.mem.checkValid();
  });
  test("through an IOMMU scattered 4 KiB pages become one IOVA and the MR uses 2 MiB pages", () => {
    const m = buildTestbed({ seed: 8, ramBytes: 2 ** 29, thp: "never" });
    const { dev } = addDevice(m, "0000:07:00.0", { iommu: true });
    // VA 4 MiB-aligned; 4 KiB pages interleaved with another VMA's, so no two are adjacent.
    const v = m.mm.mmap({ kind: "anon", len: 4 * MiB, start: 0x7f0000000000 });
    const w = m.mm.mmap({ kind: "anon", len: 4 * MiB });
    for (let off = 0; off < 4 * MiB; off += 4096) {
      m.mm.fault(v.start + off, true);
      m.mm.fault(w.start + off, true);
    }
    // dma-direct: 1024 segments; the VA/PA agreement is only 4 KiB -> 4 KiB pages, 1024 entries.
    const { dev: direct } = addDevice(m, "0000:08:00.0");
    const d = ibRegUserMr(m.sys, m.mm, direct, v.start, 4 * MiB, PGSZ_4K_2M_1G);
    expect([d.dma.nents, d.pgsz, d.mttEntries]).toEqual([1024, 4096, 1024]);
    ibDeregMr(m.sys, m.mm, direct, d);
    // IOMMU: one IOVA of 4 MiB, size-aligned (dma-iommu allocates size-aligned IOVAs), so IOVA - VA
    // is a multiple of 4 MiB; bits_per(4 MiB - 1) = 22 leaves 1 GiB in the mask: ctz = 22 -> 2 MiB
    // pages, 2 entries.
    const mr = ibRegUserMr(m.sys, m.mm, dev, v.start, 4 * MiB, PGSZ_4K_2M_1G);
    expect(mr.dma.nents).toBe(1);
    expect(mr.dma.entry(0).addr % (4 * MiB)).toBe(0);
    expect([mr.pgsz, mr.mttEntries]).toEqual([2 * MiB, 2]);
    ibDeregMr(m.sys, m.mm, dev, mr);
    m.sys.debug.checkNoLeaks();
  });
  test("unpinnable memory is refused with nothing pinned or mapped", () => {
    const m = buildTestbed({ seed: 8, ramBytes: 2 ** 29 });
    const { dev } = addDevice(m, "0000:07:00.0");
    const v = m.mm.mmap({ kind: "anon", len: MiB, write: false });
    m.mm.populate(v.start, MiB);
    const digest = m.mem.digest() + m.mm.digest();
    expect(() => ibRegUserMr(m.sys, m.mm, dev, 0x10000, 4096, PGSZ_4K_2M_1G)).toThrow(PinFailed);
    expect(() => ibRegUserMr(m.sys, m.mm, dev, v.start, MiB, PGSZ_4K_2M_1G)).toThrow(/read-only/);
    expect(() => ibRegUserMr(m.sys, m.mm, dev, v.start, MiB, 2 ** 30, { write: false })).toThrow(
      /no page size/,
    );
    expect(m.mem.digest() + m.mm.digest()).toBe(digest);
    m.sys.debug.checkNoLeaks();
  });
  test("fsdax memory cannot be registered (FOLL_LONGTERM refuses it); a partly-dax range pins nothing", () => {
    const mem = new MachineMemory({
      nodes: [{ start: 0, size: 2 ** 29 }],
      pmem: [{ start: 2 ** 33, size: 64 * MiB, type: "FS_DAX" }],
    });
    const sys = new DmaSystem({ memory: mem, debug: new DmaDebug(true) });
    const dev = sys.addDevice({ name: "0000:07:00.0" });
    const mm = new AddressSpace(mem, { thp: "never" });
    const anon = mm.mmap({ kind: "anon", len: MiB });
    const dax = mm.mmap({ kind: "dax", pgmap: 0, len: 4 * MiB, start: anon.end });
    mm.populate(anon.start, MiB, true);
    const before = mem.digest() + mm.digest();
    expect(() => ibRegUserMr(sys, mm, dev, dax.start, 4 * MiB, PGSZ_4K_2M_1G)).toThrow(/fsdax/);
    // The anon half pins first; the dax half then fails and the anon pins are dropped again.
    expect(() => ibRegUserMr(sys, mm, dev, anon.start, 2 * MiB, PGSZ_4K_2M_1G)).toThrow(PinFailed);
    expect(mem.digest() + mm.digest()).toBe(before);
    sys.debug.checkNoLeaks();
    mem.checkValid();
    mm.checkValid();
  });
});
