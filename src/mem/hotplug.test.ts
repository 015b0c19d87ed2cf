import { describe, expect, it } from "vitest";
import { GiB, MiB } from "../../test/kit/index.js";
import { MemError } from "../core/index.js";
import { FolioFlag, hotAddMemory, hotRemoveMemory, MachineMemory } from "./index.js";

describe("pfn_valid per subsection (mm/sparse.c)", () => {
  it("covers a pgmap's subsections and a hot-added section, and nothing beside them", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }] });
    // A 2 MiB pgmap at 64 GiB: its section (64 GiB .. +128 MiB) is present but only subsection 0 is.
    mem.addPgmap({ type: "GENERIC", start: 64 * GiB, size: 2 * MiB });
    const pfn = (64 * GiB) / 4096;
    expect(mem.pfnToPage(pfn).valid).toBe(true);
    expect(mem.pfnToPage(pfn + 511).valid).toBe(true);
    expect(mem.pfnToPage(pfn + 512).valid).toBe(false);
    expect(mem.pfnToPage(pfn - 1).valid).toBe(false);
    hotAddMemory(mem, 8 * GiB, 128 * MiB);
    expect(mem.pfnToPage((8 * GiB) / 4096)).toMatchObject({ valid: true, state: "free" });
    expect(mem.pfnToPage((8 * GiB + 128 * MiB) / 4096).valid).toBe(false);
    hotRemoveMemory(mem, 8 * GiB, 128 * MiB);
    expect(mem.pfnToPage((8 * GiB) / 4096).valid).toBe(false);
    mem.checkValid();
  });
});

describe("hot-remove (mm/memory_hotplug.c offline_pages)", () => {
  it("dissolves a free 1 GiB hugetlb page; its frames outside the removed section stay free", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: 2 * GiB }], hugetlb: { pages1G: 1 } });
    const id = mem.hugetlbFree["1G"][0];
    const head = mem.folios.head[id];
    const free0 = mem.freePages;
    hotRemoveMemory(mem, head * 4096, 128 * MiB);
    // 262,144 frames leave the pool; 32,768 of them (one section) go offline, 229,376 become free.
    expect(mem.hugetlbTotal["1G"]).toBe(0);
    expect(mem.freePages).toBe(free0 + 229376);
    expect(mem.ramPages).toBe((2 * GiB) / 4096 - 32768);
    expect(mem.pfnToPage(head + 32768)).toMatchObject({ valid: true, state: "free" });
    mem.checkValid();
  });

  it("migrates movable folios out and refuses an in-use hugetlb page, changing nothing", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: 2 * GiB }], hugetlb: { pages2M: 1 } });
    const owner = mem.registerOwner({ folioMoved: () => {} });
    hotAddMemory(mem, 4 * GiB, 128 * MiB, { movable: true });
    const ids = [0, 9, 3].map((o) => mem.allocFolio(o, { owner, flags: FolioFlag.ANON }));
    for (const id of ids) expect(mem.folios.head[id] * 4096).toBeGreaterThanOrEqual(4 * GiB);
    hotRemoveMemory(mem, 4 * GiB, 128 * MiB);
    // The three folios (orders 0, 9, 3) live on below 2 GiB.
    expect(mem.folios.live).toBe(4);
    mem.folios.forEachLive((id) => {
      expect(mem.folios.head[id] * 4096).toBeLessThan(2 * GiB);
    });
    const h = mem.allocHugetlb("2M", owner);
    const sec = Math.floor(mem.folios.head[h] / 32768) * 128 * MiB;
    const before = mem.digest();
    let err: unknown;
    try {
      hotRemoveMemory(mem, sec, 128 * MiB);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MemError);
    expect((err as MemError).code).toBe("OFFLINE_UNMOVABLE");
    expect((err as MemError).pfn).toBe(mem.folios.head[h]);
    expect(mem.digest()).toBe(before);
    mem.checkValid();
  });
});
