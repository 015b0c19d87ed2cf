import { describe, expect, it } from "vitest";
import { GiB, MiB } from "../../test/kit/index.js";
import { PinFailed, SZ_2M } from "../core/index.js";
import { GUP_PIN_COUNTING_BIAS, MachineMemory, type PgmapType, Zone } from "../mem/index.js";
import { PhyrFlag } from "../phyr/index.js";
import { AddressSpace, pinUserPages, pinUserRange, ptePfn, unpinPhyrs } from "./index.js";

const DEV = 64 * GiB; // where the test pgmaps live

function check(mem: MachineMemory, mm: AddressSpace): void {
  mem.checkValid();
  mm.checkValid();
}

describe("pins of ZONE_DEVICE memory by pgmap type (docs/kernel-fidelity.md, mm/gup.c)", () => {
  // [type, FOLL_LONGTERM, FOLL_PCI_P2PDMA, outcome]. A 4 KiB pin at DEV + 0x1000 of a 2 MiB-aligned
  // DAX mapping lands in a 2 MiB device folio: large folio, so +1 refcount and +1 _pincount (owner
  // ref 1 -> 2). folio_is_longterm_pinnable: GENERIC and PCI_P2PDMA yes (zone device, not
  // coherent/fsdax); FS_DAX no, refused up front (check_vma_flags: vma_is_fsdax). PCI_P2PDMA pages
  // without FOLL_PCI_P2PDMA: try_grab_folio returns -EREMOTEIO (mm/gup.c, 7.2).
  const rows: [PgmapType, boolean, boolean, "in place" | "refused"][] = [
    ["GENERIC", false, false, "in place"],
    ["GENERIC", true, false, "in place"],
    ["FS_DAX", false, false, "in place"],
    ["FS_DAX", true, false, "refused"],
    ["PCI_P2PDMA", false, false, "refused"],
    ["PCI_P2PDMA", true, false, "refused"],
    ["PCI_P2PDMA", false, true, "in place"],
    ["PCI_P2PDMA", true, true, "in place"],
  ];
  for (const [type, longterm, p2pdma, outcome] of rows) {
    it(`${type}${longterm ? " FOLL_LONGTERM" : ""}${p2pdma ? " FOLL_PCI_P2PDMA" : ""}: ${outcome}`, () => {
      const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }] });
      const provider = type === "PCI_P2PDMA" ? 4 : 0;
      const pg = mem.addPgmap({ type, start: DEV, size: 4 * MiB, provider });
      const mm = new AddressSpace(mem);
      const v = mm.mmap({ kind: "dax", pgmap: pg.id, len: 4 * MiB });
      const before = mem.digest() + mm.digest();
      if (outcome === "refused") {
        const why = type === "PCI_P2PDMA" ? /EREMOTEIO/ : /fsdax/;
        expect(() => pinUserRange(mm, v.start + 0x1000, 4096, { longterm, p2pdma })).toThrow(PinFailed);
        expect(() => pinUserRange(mm, v.start + 0x1000, 4096, { longterm, p2pdma })).toThrow(why);
        expect(() => pinUserPages(mm, v.start + 0x1000, 4096, { longterm, p2pdma })).toThrow(why);
        expect(mem.digest() + mm.digest()).toBe(before);
        return;
      }
      const list = pinUserRange(mm, v.start + 0x1000, 4096, { longterm, p2pdma, write: true });
      const mmio = type === "PCI_P2PDMA" ? PhyrFlag.MMIO : 0;
      expect(list.toArray()).toEqual([
        { addr: DEV + 0x1000, len: 4096, flags: PhyrFlag.PINNED | mmio, provider },
      ]);
      const p = mem.pfnToPage(DEV / 4096 + 1);
      expect([p.zone, p.order, p.refcount, p.pincount]).toEqual([Zone.DEVICE, 9, 2, 1]);
      check(mem, mm);
      unpinPhyrs(mm, list);
      expect(mem.pfnToPage(DEV / 4096 + 1).refcount).toBe(1);
      check(mem, mm);
    });
  }

  it("COHERENT: a short pin stays in device memory, FOLL_LONGTERM migrates to RAM first", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }] });
    const pg = mem.addPgmap({ type: "COHERENT", start: DEV, size: 2 * MiB });
    const mm = new AddressSpace(mem, { thp: "never" });
    const v = mm.mmap({ kind: "anon", len: 4096 });
    mm.populate(v.start, 4096, true);
    mm.migrateToDevice(v.start, 4096, pg.id);
    const short = pinUserRange(mm, v.start, 4096);
    expect(short.entry(0).addr).toBe(DEV);
    // Small folio: FOLL_PIN adds GUP_PIN_COUNTING_BIAS.
    expect(mem.pfnToPage(DEV / 4096).refcount).toBe(1 + GUP_PIN_COUNTING_BIAS);
    // While pinned it cannot migrate, so the long-term pin fails naming the frame, pins unchanged.
    const before = mem.digest();
    expect(() => pinUserRange(mm, v.start, 4096, { longterm: true })).toThrow(/pfn 0x1000000/);
    expect(mem.digest()).toBe(before);
    unpinPhyrs(mm, short);
    const long = pinUserRange(mm, v.start, 4096, { longterm: true });
    expect(long.entry(0).addr).toBeLessThan(GiB);
    expect(mem.pfnToPage(DEV / 4096).state).toBe("device");
    unpinPhyrs(mm, long);
    check(mem, mm);
  });

  it("DEVICE_PRIVATE: only the pgmap owner gets the pages, flagged PINNED at device frames", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }] });
    const pg = mem.addPgmap({ type: "PRIVATE", start: DEV, size: 2 * MiB, owner: 9 });
    const mm = new AddressSpace(mem, { thp: "never" });
    const v = mm.mmap({ kind: "anon", len: 2 * 4096 });
    mm.populate(v.start, 2 * 4096, true);
    mm.migrateToDevice(v.start, 2 * 4096, pg.id);
    const before = mem.digest() + mm.digest();
    for (const owner of [undefined, 8, 10])
      expect(() => pinUserRange(mm, v.start, 8192, { owner })).toThrow(/DEVICE_PRIVATE/);
    expect(mem.digest() + mm.digest()).toBe(before);
    const list = pinUserRange(mm, v.start, 8192, { owner: 9 });
    expect(list.totalBytes).toBe(8192);
    list.forEachEntry((addr, _len, flags) => {
      expect(addr).toBeGreaterThanOrEqual(DEV);
      expect(flags).toBe(PhyrFlag.PINNED);
    });
    unpinPhyrs(mm, list);
    check(mem, mm);
  });
});

describe("FOLL_LONGTERM on ordinary memory", () => {
  it("migrates a ZONE_MOVABLE THP to ZONE_NORMAL/DMA32 as one 2 MiB folio", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }], movable: 256 * MiB });
    const mm = new AddressSpace(mem, { thp: "always" });
    const v = mm.mmap({ kind: "anon", len: SZ_2M });
    mm.populate(v.start, SZ_2M, true);
    const old = ptePfn(mm.pt.lookup(v.start));
    expect(mem.pfnToPage(old).zone).toBe(Zone.MOVABLE);
    const list = pinUserRange(mm, v.start, SZ_2M, { longterm: true });
    const now = list.entry(0).addr / 4096;
    expect(list.nents).toBe(1);
    expect(mem.pfnToPage(now)).toMatchObject({
      zone: Zone.DMA32,
      order: 9,
      refcount: 1 + 512,
      pincount: 512,
    });
    expect(mem.pfnToPage(old).state).toBe("free");
    unpinPhyrs(mm, list);
    check(mem, mm);
  });

  it("leaves ordinary ZONE_NORMAL/DMA32 folios in place", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }] });
    const mm = new AddressSpace(mem, { thp: "never" });
    const v = mm.mmap({ kind: "anon", len: 4 * 4096 });
    mm.populate(v.start, 4 * 4096, true);
    const pfn = ptePfn(mm.pt.lookup(v.start));
    const list = pinUserRange(mm, v.start, 4096, { longterm: true });
    expect(list.entry(0).addr).toBe(pfn * 4096);
    unpinPhyrs(mm, list);
    check(mem, mm);
  });
});

describe("hugetlb 2 MiB pins", () => {
  it("yields one entry per physically contiguous run of 2 MiB pages", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }], hugetlb: { pages2M: 4 } });
    const mm = new AddressSpace(mem);
    const v = mm.mmap({ kind: "hugetlb", len: 4 * SZ_2M });
    const list = pinUserRange(mm, v.start, 4 * SZ_2M, { write: true });
    const heads: number[] = [];
    for (let a = v.start; a < v.end; a += SZ_2M) heads.push(ptePfn(mm.pt.lookup(a)));
    let runs = 1;
    for (let i = 1; i < 4; i++) if (heads[i] !== heads[i - 1] + 512) runs++;
    expect(list.nents).toBe(runs);
    // Each 2 MiB hugetlb folio: large, 512 pages pinned -> refcount 513, _pincount 512.
    for (const h of heads) expect(mem.pfnToPage(h)).toMatchObject({ refcount: 513, pincount: 512 });
    unpinPhyrs(mm, list, { dirty: true });
    for (const h of heads) expect(mem.pfnToPage(h).refcount).toBe(1);
    check(mem, mm);
  });
});

describe("pinUserPages bad input: typed errors, digest unchanged", () => {
  const mem = new MachineMemory({
    nodes: [{ start: 0, size: GiB }],
    pmem: [{ start: 8 * GiB, size: 64 * MiB, type: "FS_DAX" }],
  });
  const mm = new AddressSpace(mem);
  const anon = mm.mmap({ kind: "anon", len: 16 * 4096 });
  // A PFNMAP BAR right after an anonymous VMA: the anon pages must not be faulted or grabbed.
  const bar = mm.mmap({ kind: "pfnmap", len: 16 * 4096, phys: 0x380000000, provider: 9, start: anon.end });
  const ro = mm.mmap({ kind: "anon", len: 4 * 4096, write: false });
  const gap = mm.mmap({ kind: "anon", len: 4096, start: ro.end + 4096 });
  const dax = mm.mmap({ kind: "dax", pgmap: 0, len: 4 * MiB });
  const cases: [string, number, number, object, new (...a: never[]) => Error, RegExp][] = [
    ["unaligned start", anon.start + 1, 4096, {}, RangeError, /page aligned/],
    ["zero length", anon.start, 0, {}, RangeError, /length 0x0/],
    ["outside any VMA", 0x1000, 4096, {}, PinFailed, /outside any VMA/],
    ["across a hole", ro.start, gap.end - ro.start, {}, PinFailed, /hole at/],
    ["write pin of read-only VMA", ro.start, 4096, { write: true }, PinFailed, /read-only/],
    ["longterm pin of fsdax", dax.start, 4096, { longterm: true }, PinFailed, /fsdax/],
    ["a PFNMAP range (no struct page)", anon.start, bar.end - anon.start, {}, PinFailed, /PFNMAP/],
  ];
  for (const [name, va, len, opts, type, re] of cases) {
    it(`rejects ${name}`, () => {
      const before = mem.digest() + mm.digest();
      expect(() => pinUserPages(mm, va, len, opts)).toThrow(type);
      expect(() => pinUserPages(mm, va, len, opts)).toThrow(re);
      expect(mem.digest() + mm.digest()).toBe(before);
      check(mem, mm);
    });
  }
});
