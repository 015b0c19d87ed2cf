import { describe, expect, it } from "vitest";
import { GiB, MiB } from "../../test/kit/index.js";
import { MemError } from "../core/index.js";
import { ageMemory, FolioFlag, MAX_ORDER, MachineMemory, MigrateType, Zone } from "./index.js";

describe("sparse per-frame state", () => {
  it("a 512 GiB machine costs no per-frame memory until a folio is placed", () => {
    const mem = new MachineMemory({
      nodes: [
        { start: 0, size: 256 * GiB },
        { start: 256 * GiB, size: 256 * GiB },
      ],
    });
    expect(mem.folios.sections.size).toBe(0);
    expect(mem.folios.capacity).toBe(0);
    // Untouched memory is one lazy span per area, not 2^27 list entries.
    for (const a of mem.areas) expect(a.lazy.length).toBeLessThanOrEqual(2);
    expect(mem.freePages).toBe((512 * GiB) / 4096);
    const id = mem.allocFolio(0, { node: 1 });
    // One 128 MiB section gets a frame map (32768 Int32 = 128 KiB); nothing else does.
    expect(mem.folios.sections.size).toBe(1);
    expect(mem.folios.head[id] * 4096).toBeGreaterThanOrEqual(256 * GiB);
    expect(mem.pfnToPage((500 * GiB) / 4096)).toMatchObject({ valid: true, state: "free", node: 1 });
    mem.checkValid();
  });
});

describe("buddy zones and NUMA nodes", () => {
  it("prefers the asked node and falls back to the next one when it is full", () => {
    const mem = new MachineMemory({
      nodes: [
        { start: 0, size: 64 * MiB },
        { start: 64 * MiB, size: 64 * MiB },
      ],
    });
    // Node 1 holds 64 MiB = 16 max-order (4 MiB) blocks.
    for (let i = 0; i < 16; i++) {
      const id = mem.allocFolio(MAX_ORDER, { node: 1 });
      expect(mem.folios.node[id]).toBe(1);
    }
    const spill = mem.allocFolio(0, { node: 1 });
    expect(mem.folios.node[spill]).toBe(0);
    expect(mem.folios.head[spill] * 4096).toBeLessThan(64 * MiB);
    mem.checkValid();
  });

  it("keeps unmovable allocations out of ZONE_MOVABLE and CMA; CMA is a movable allocation's last resort", () => {
    // 512 MiB: top 256 MiB ZONE_MOVABLE; 16 MiB CMA below it; DMA32 non-CMA = 240 MiB = 60 blocks of 4 MiB.
    const mem = new MachineMemory({
      nodes: [{ start: 0, size: 512 * MiB }],
      movable: 256 * MiB,
      cma: 16 * MiB,
    });
    for (let i = 0; i < 60; i++) mem.allocFolio(MAX_ORDER, { movable: false });
    const before = mem.digest();
    expect(() => mem.allocFolio(0, { movable: false })).toThrow(MemError);
    expect(mem.digest()).toBe(before);
    // Movable: ZONE_MOVABLE first (64 blocks), then CMA (4 blocks), then NOMEM.
    // (The id is taken first: allocFolio may grow, and so replace, the folio table's arrays.)
    for (let i = 0; i < 64; i++) {
      const id = mem.allocFolio(MAX_ORDER);
      expect(mem.folios.zone[id]).toBe(Zone.MOVABLE);
    }
    for (let i = 0; i < 4; i++) {
      const id = mem.allocFolio(MAX_ORDER);
      expect(mem.folios.mt[id]).toBe(MigrateType.CMA);
    }
    expect(() => mem.allocFolio(0)).toThrow(/no free block/);
    expect(mem.freePages).toBe(0);
    mem.checkValid();
  });

  it("an explicit CMA request takes CMA first", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: 256 * MiB }], cma: 16 * MiB });
    const id = mem.allocFolio(0, { cma: true });
    expect(mem.folios.mt[id]).toBe(MigrateType.CMA);
    // CMA sits at the top of node 0's highest zone: [240 MiB, 256 MiB).
    expect(mem.folios.head[id] * 4096).toBeGreaterThanOrEqual(240 * MiB);
  });
});

describe("seeded aging", () => {
  it("is deterministic per seed and fragments free memory into small blocks", () => {
    const aged = (seed: number) => {
      const mem = new MachineMemory({ nodes: [{ start: 0, size: 128 * MiB }], seed });
      const kept = ageMemory(mem, { steps: 5000, keep: 0.5 });
      mem.checkValid();
      return { mem, kept };
    };
    const a = aged(3);
    const b = aged(3);
    expect(a.mem.digest()).toBe(b.mem.digest());
    expect(a.kept.length).toBe(b.kept.length);
    expect(aged(4).mem.digest()).not.toBe(a.mem.digest());
    // Every kept folio is a kernel (unmovable) allocation.
    for (const id of a.kept) {
      expect(a.mem.folios.flags[id]).toBe(FolioFlag.KERNEL);
      expect(a.mem.folios.mt[id]).toBe(MigrateType.UNMOVABLE);
    }
    const counts = a.mem.area(0, Zone.DMA32, false).counts();
    // Fresh: 32 max-order blocks and nothing smaller. Aged: small free blocks appear, max-order ones are lost.
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[MAX_ORDER]).toBeLessThan(32);
  });
});

describe("hugetlb pools", () => {
  it("hands out 2 MiB and 1 GiB pages until the pool is empty and takes them back at refcount 0", () => {
    const mem = new MachineMemory({
      nodes: [{ start: 0, size: 2 * GiB }],
      hugetlb: { pages2M: 2, pages1G: 1 },
    });
    const g = mem.allocHugetlb("1G");
    expect(mem.folios.order[g]).toBe(18);
    expect(mem.folios.head[g] % 262144).toBe(0);
    const a = mem.allocHugetlb("2M");
    mem.allocHugetlb("2M");
    expect(mem.folios.order[a]).toBe(9);
    const before = mem.digest();
    expect(() => mem.allocHugetlb("2M")).toThrow(/pool is empty/);
    expect(mem.digest()).toBe(before);
    mem.putFolio(a);
    expect(mem.folios.flags[a]).toBe(FolioFlag.HUGETLB | FolioFlag.POOL_FREE);
    expect(mem.folios.ref[a]).toBe(0);
    expect(mem.hugetlbFree["2M"]).toEqual([a]);
    mem.checkValid();
  });
});
