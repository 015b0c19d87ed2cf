import { describe, expect, it } from "vitest";
import { GiB, MiB } from "../../test/kit/index.js";
import { MemError } from "../core/index.js";
import {
  FolioFlag,
  GUP_PIN_COUNTING_BIAS,
  hotAddMemory,
  hotRemoveMemory,
  MachineMemory,
  MigrateType,
  PGMAP_TYPES,
  Zone,
} from "./index.js";

describe("MachineMemory layout", () => {
  const mem = new MachineMemory({
    nodes: [
      { start: 0, size: 3 * GiB },
      { start: 4 * GiB, size: 4 * GiB },
    ],
    movable: 1 * GiB,
    cma: 64 * MiB,
    reserved: [{ start: 3 * GiB, size: 16 * MiB }],
    pciWindows: [{ start: 0xc0000000 + 256 * MiB, size: 256 * MiB, name: "PCI Bus 0000:00" }],
    pmem: [{ start: 16 * GiB, size: 2 * GiB }],
    hugetlb: { pages2M: 2, pages1G: 1 },
  });

  it("prints /proc/iomem", () => {
    expect(mem.iomem.format()).toBe(
      [
        "00000000-bfffffff : System RAM",
        "c0000000-c0ffffff : Reserved",
        "d0000000-dfffffff : PCI Bus 0000:00",
        "100000000-1ffffffff : System RAM",
        "400000000-47fffffff : Persistent Memory",
        "",
      ].join("\n"),
    );
    mem.checkValid();
  });

  it("places zones by address: DMA32 below 4 GiB, NORMAL above, MOVABLE at the top, CMA in node 0", () => {
    expect(mem.area(0, Zone.DMA32, false).freePages + mem.area(0, Zone.DMA32, true).freePages).toBe(
      (3 * GiB) / 4096,
    );
    // hugetlb pools are taken from ZONE_NORMAL first: node 1's (4..7 GiB), 1 GiB + 2 x 2 MiB.
    expect(mem.area(1, Zone.NORMAL, false).freePages).toBe((3 * GiB) / 4096 - 262144 - 1024);
    expect(mem.area(0, Zone.DMA32, true).freePages).toBe((64 * MiB) / 4096);
    expect(mem.area(1, Zone.MOVABLE, false).freePages).toBe(GiB / 4096);
    expect(mem.hugetlbTotal).toEqual({ "2M": 2, "1G": 1 });
  });

  it("answers pfnToPage across the whole map", () => {
    expect(mem.pfnToPage(0x10).state).toBe("free");
    expect(mem.pfnToPage(0x10).zone).toBe(Zone.DMA32);
    expect(mem.pfnToPage((3 * GiB + 4096) / 4096)).toMatchObject({ valid: false, state: "hole" }); // Reserved, not RAM
    expect(mem.pfnToPage((0xd0000000 + 4096) / 4096).valid).toBe(false); // PCI window: no struct page
    expect(mem.pfnToPage((16 * GiB) / 4096)).toMatchObject({
      valid: true,
      state: "device",
      zone: Zone.DEVICE,
      pgmap: 0,
    });
    const huge = mem.hugetlbFree["1G"][0];
    const p = mem.pfnToPage(mem.folios.head[huge] + 12345);
    expect(p).toMatchObject({ state: "folio", order: 18, refcount: 0, head: mem.folios.head[huge] });
    expect(mem.pfnToPage((7 * GiB + 5 * 4096) / 4096)).toMatchObject({ state: "free", zone: Zone.MOVABLE });
    expect(mem.pfnToPage((3 * GiB - 4096) / 4096).migratetype).toBe(MigrateType.CMA);
  });
});

describe("pgmaps", () => {
  it("refuses a pgmap for a 4 KiB BAR with the subsection reason", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }] });
    const before = mem.digest();
    let err: unknown;
    try {
      mem.addPgmap({ type: "PCI_P2PDMA", start: 0xfe000000, size: 4096, provider: 1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MemError);
    expect((err as MemError).code).toBe("PGMAP_UNALIGNED");
    expect((err as Error).message).toMatch(/0xfe000000\+0x1000.*2 MiB subsections.*4 KiB BAR/);
    expect(mem.digest()).toBe(before);
  });

  it("accepts every type on subsection-aligned ranges and refuses sharing a subsection", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }] });
    PGMAP_TYPES.forEach((type, i) => {
      mem.addPgmap({
        type,
        start: 8 * GiB + i * 4 * MiB,
        size: 4 * MiB,
        provider: type === "PCI_P2PDMA" ? 2 : 0,
      });
    });
    expect(mem.pgmaps.length).toBe(5);
    const before = mem.digest();
    expect(() => mem.addPgmap({ type: "GENERIC", start: 8 * GiB + 2 * MiB, size: 2 * MiB })).toThrow(
      /already holds/,
    );
    expect(() => mem.addPgmap({ type: "GENERIC", start: 0, size: 2 * MiB })).toThrow(MemError);
    expect(() => mem.addPgmap({ type: "PCI_P2PDMA", start: 9 * GiB, size: 2 * MiB })).toThrow(/provider/);
    expect(mem.digest()).toBe(before);
    mem.checkValid();
  });

  it("allocDeviceFolio refuses a pgmap id that names no pgmap and a bad order, changing nothing", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }] });
    expect(() => mem.allocDeviceFolio(5, 0)).toThrow(
      new RangeError("pgmap id 5 is invalid: no pgmap was added"),
    );
    mem.addPgmap({ type: "GENERIC", start: 8 * GiB, size: 4 * MiB });
    const before = mem.digest();
    expect(() => mem.allocDeviceFolio(5, 0)).toThrow(new RangeError("pgmap id 5 is invalid: expected 0..0"));
    expect(() => mem.allocDeviceFolio(-1, 0)).toThrow(/pgmap id -1 is invalid/);
    expect(() => mem.allocDeviceFolio(0, 1.5)).toThrow(/order 1.5 is invalid/);
    expect(() => mem.allocDeviceFolio(0, 99)).toThrow(/order 99 is invalid/);
    expect(mem.digest()).toBe(before);
    mem.checkValid();
  });
});

describe("folio reference rules (include/linux/mm.h, mm/gup.c try_grab_folio)", () => {
  // [order, kind, pages, refcount after, pincount after] computed from the rule by hand.
  const table: [number, "pin" | "get", number, number, number][] = [
    [0, "get", 1, 2, 0],
    [0, "pin", 1, 1 + GUP_PIN_COUNTING_BIAS, 0],
    [9, "get", 512, 513, 0],
    [9, "pin", 512, 513, 512],
    [9, "pin", 3, 4, 3],
  ];
  for (const [order, kind, pages, ref, pin] of table) {
    it(`order ${order} ${kind} of ${pages} page(s) -> refcount ${ref}, pincount ${pin}`, () => {
      const mem = new MachineMemory({ nodes: [{ start: 0, size: 256 * MiB }] });
      const id = mem.allocFolio(order, { owner: -1 });
      mem.grabFolio(id, pages, kind);
      expect(mem.folios.ref[id]).toBe(ref);
      expect(mem.folios.pincount[id]).toBe(pin);
      mem.checkValid();
      mem.releaseFolio(id, pages, kind, true);
      expect(mem.folios.ref[id]).toBe(1);
      expect(mem.folios.flags[id] & FolioFlag.DIRTY).toBe(FolioFlag.DIRTY);
      mem.putFolio(id);
      expect(mem.folios.live).toBe(0);
      mem.checkValid();
    });
  }
});

describe("addMapping (folio_mapcount, mm/rmap.c folio_add_*_rmap_ptes)", () => {
  it("counts one mapping per call on a live folio", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: 256 * MiB }] });
    const id = mem.allocFolio(9, { owner: -1 });
    mem.addMapping(id);
    mem.addMapping(id);
    expect(mem.folios.mapcount[id]).toBe(2);
    mem.checkValid();
  });

  it.each([
    ["a negative id", -1],
    ["an id past the table", 1e6],
    ["a fraction", 0.5],
    ["NaN", Number.NaN],
  ])("refuses %s with a RangeError naming it, nothing changed", (_what, bad) => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: 256 * MiB }] });
    const id = mem.allocFolio(0, { owner: -1 });
    const before = mem.digest();
    expect(() => mem.addMapping(bad)).toThrow(
      new RangeError(`folio id ${String(bad)} is invalid: not a live folio to map`),
    );
    expect(mem.digest()).toBe(before);
    expect(mem.folios.mapcount[id]).toBe(0);
  });

  it("refuses a freed folio's id", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: 256 * MiB }] });
    const id = mem.allocFolio(0, { owner: -1 });
    mem.putFolio(id);
    expect(() => mem.addMapping(id)).toThrow(/not a live folio to map/);
    mem.checkValid();
  });
});

describe("hotplug", () => {
  it("hot-adds and hot-removes whole sections", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }] });
    const free0 = mem.freePages;
    hotAddMemory(mem, 8 * GiB, 256 * MiB, { movable: true });
    expect(mem.freePages).toBe(free0 + 65536);
    expect(mem.pfnToPage((8 * GiB) / 4096).zone).toBe(Zone.MOVABLE);
    mem.checkValid();
    const id = mem.allocFolio(0, {
      zones: [Zone.MOVABLE],
      owner: mem.registerOwner({ folioMoved: () => {} }),
    });
    expect(mem.folios.head[id] * 4096).toBeGreaterThanOrEqual(8 * GiB);
    hotRemoveMemory(mem, 8 * GiB, 128 * MiB);
    mem.checkValid();
    expect(mem.iomem.format()).toContain("208000000-20fffffff : System RAM");
    expect(mem.folios.live).toBe(1);
  });

  it("refuses unmovable frames, misaligned ranges and non-RAM, changing nothing", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }] });
    const k = mem.allocFolio(0, { movable: false, flags: FolioFlag.KERNEL });
    const pfn = mem.folios.head[k];
    const sec = Math.floor(pfn / 32768) * 128 * MiB;
    const before = mem.digest();
    expect(() => hotRemoveMemory(mem, sec, 128 * MiB)).toThrow(
      new RegExp(`pfn 0x${pfn.toString(16)} is unmovable`),
    );
    expect(() => hotRemoveMemory(mem, 4096, 128 * MiB)).toThrow(RangeError);
    expect(() => hotRemoveMemory(mem, 4 * GiB, 128 * MiB)).toThrow(/not all of it/);
    expect(() => hotAddMemory(mem, 0, 128 * MiB)).toThrow(/already present/);
    expect(mem.digest()).toBe(before);
    mem.checkValid();
  });
});
