import { describe, expect, test } from "vitest";
import { PinFailed } from "../core/index.js";
import { DmaDebug, DmaSystem } from "../dma/index.js";
import { MachineMemory } from "../mem/index.js";
import { AddressSpace } from "../mm/index.js";
import { addDevice, buildMachine } from "./machine.js";
import { ibDeregMr, ibRegUserMr } from "./rdma-mr.js";
import { PGSZ_4K_2M_1G } from "./rdma-pgsz.js";

const MiB = 2 ** 20;

describe("ibRegUserMr", () => {
  test("a THP-backed buffer registers with 2 MiB pages through dma-direct", () => {
    const m = buildMachine({ seed: 8, ramBytes: 2 ** 29, thp: "always" });
    const { dev } = addDevice(m, "0000:07:00.0");
    const v = m.mm.mmap({ kind: "anon", len: 16 * MiB, hugepage: true });
    const mr = ibRegUserMr(m.sys, m.mm, dev, v.start, 16 * MiB, PGSZ_4K_2M_1G);
    expect(mr.pgsz).toBe(2 * MiB);
    expect(mr.mttEntries).toBe(8);
    ibDeregMr(m.sys, m.mm, dev, mr);
    m.sys.debug.checkNoLeaks();
    m.mem.checkValid();
  });
  test("through an IOMMU the single IOVA lets the MR use the largest page the VA allows", () => {
    const m = buildMachine({ seed: 8, ramBytes: 2 ** 29, thp: "never" });
    const { dev } = addDevice(m, "0000:07:00.0", { iommu: true });
    const v = m.mm.mmap({ kind: "anon", len: 4 * MiB });
    const mr = ibRegUserMr(m.sys, m.mm, dev, v.start, 4 * MiB, PGSZ_4K_2M_1G);
    expect(mr.dma.nents).toBe(1);
    expect(mr.pgsz).toBeGreaterThanOrEqual(4096);
    ibDeregMr(m.sys, m.mm, dev, mr);
    m.sys.debug.checkNoLeaks();
  });
  test("unpinnable memory is refused with nothing pinned or mapped", () => {
    const m = buildMachine({ seed: 8, ramBytes: 2 ** 29 });
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
