import { describe, expect, it } from "vitest";
import { GiB, MiB } from "../../test/kit/index.js";
import { MemError, PinFailed, SZ_2M } from "../core/index.js";
import {
  ageMemory,
  GUP_PIN_COUNTING_BIAS,
  hotRemoveMemory,
  MachineMemory,
  MigrateType,
} from "../mem/index.js";
import { PhyrFlag, PhyrList } from "../phyr/index.js";
import { AddressSpace, pinUserPages, pinUserRange, ptePfn, unpinPhyrs, unpinUserPages } from "./index.js";

function machine(extra: Partial<ConstructorParameters<typeof MachineMemory>[0]> = {}): MachineMemory {
  return new MachineMemory({ nodes: [{ start: 0, size: 2 * GiB }], seed: 7, ...extra });
}

function check(mem: MachineMemory, ...mms: AddressSpace[]): void {
  mem.checkValid();
  for (const m of mms) m.checkValid();
}

/** Frame numbers of every page of [va, va+len), read from the page table (reference). */
function walkPfns(mm: AddressSpace, va: number, len: number): number[] {
  const out: number[] = [];
  for (let a = va; a < va + len; a += 4096) {
    const e = mm.pt.lookup(a);
    out.push(ptePfn(e) + (a - mm.pt.lastBase) / 4096);
  }
  return out;
}

describe("pinUserRange fixed cases", () => {
  it("pins a 1 GiB hugetlb buffer as one entry; page-at-a-time returns 262,144 pages", () => {
    const mem = machine({ hugetlb: { pages1G: 1 } });
    const mm = new AddressSpace(mem);
    const v = mm.mmap({ kind: "hugetlb", hugeSize: "1G", len: GiB });
    const list = pinUserRange(mm, v.start, GiB, { write: true });
    check(mem, mm);
    expect(list.nents).toBe(1);
    expect(list.entry(0)).toEqual({
      addr: list.entry(0).addr,
      len: GiB,
      flags: PhyrFlag.PINNED,
      provider: 0,
    });
    expect(list.entry(0).addr % GiB).toBe(0);
    const id = mem.folios.folioOfPfn(list.entry(0).addr / 4096);
    // Large folio: +1 refcount and +1 _pincount per page (mm/gup.c try_grab_folio).
    expect(mem.folios.ref[id]).toBe(1 + 262144);
    expect(mem.folios.pincount[id]).toBe(262144);
    const pages = pinUserPages(mm, v.start, GiB);
    expect(pages.length).toBe(262144);
    expect(pages[262143] - pages[0]).toBe(262143);
    check(mem, mm);
    unpinUserPages(mm, pages);
    unpinPhyrs(mm, list);
    expect(mem.folios.ref[id]).toBe(1);
    expect(mem.folios.pincount[id]).toBe(0);
    check(mem, mm);
  });

  it("yields at most one entry per THP of a 2 MiB-aligned range", () => {
    const mem = machine();
    ageMemory(mem, { steps: 3000 });
    const mm = new AddressSpace(mem, { thp: "always" });
    const v = mm.mmap({ kind: "anon", len: 16 * SZ_2M });
    const list = pinUserRange(mm, v.start, 16 * SZ_2M);
    check(mem, mm);
    // Reference from the page table: every leaf is a 2 MiB THP, and entries = runs of THPs whose
    // frames continue one another (aging scattered them, so the count is between 1 and 16).
    const heads: number[] = [];
    for (let a = v.start; a < v.end; a += SZ_2M) {
      mm.pt.lookup(a);
      expect(mm.pt.lastSize).toBe(SZ_2M);
      heads.push(walkPfns(mm, a, 4096)[0]);
    }
    let runs = 1;
    for (let i = 1; i < 16; i++) if (heads[i] !== heads[i - 1] + 512) runs++;
    expect(runs).toBeGreaterThan(1);
    expect(list.nents).toBe(runs);
    expect(list.nents).toBeLessThanOrEqual(16);
    expect(list.totalBytes).toBe(16 * SZ_2M);
    for (const e of list) expect([e.addr % SZ_2M, e.len % SZ_2M]).toEqual([0, 0]);
    unpinPhyrs(mm, list);
    check(mem, mm);
  });

  it("yields exactly as many entries as contiguous runs on a 4 KiB-fragmented range", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: 256 * MiB }], seed: 3 });
    ageMemory(mem, { steps: 20000, keep: 0.5 });
    const mm = new AddressSpace(mem, { thp: "never" });
    const len = 2048 * 4096;
    const v = mm.mmap({ kind: "anon", len });
    mm.populate(v.start, len);
    const pfns = walkPfns(mm, v.start, len);
    let runs = 1;
    for (let i = 1; i < pfns.length; i++) if (pfns[i] !== pfns[i - 1] + 1) runs++;
    expect(runs).toBeGreaterThan(100); // aging really fragmented memory
    const list = pinUserRange(mm, v.start, len, { kind: "get" });
    expect(list.nents).toBe(runs);
    let i = 0;
    list.forEachEntry((addr, l, flags) => {
      expect(addr / 4096).toBe(pfns[i]);
      expect(flags).toBe(PhyrFlag.REF);
      i += l / 4096;
    });
    check(mem, mm);
    unpinPhyrs(mm, list);
    check(mem, mm);
  });

  it("FOLL_LONGTERM migrates a CMA frame: the returned frame differs and the old one is free", () => {
    const mem = machine({ cma: 64 * MiB });
    const mm = new AddressSpace(mem, { thp: "never" });
    const v = mm.mmap({ kind: "anon", len: 4096, policy: { cma: true } });
    mm.fault(v.start, true);
    const old = ptePfn(mm.pt.lookup(v.start));
    expect(mem.pfnToPage(old).migratetype).toBe(MigrateType.CMA);
    mem.writePhys(old * 4096 + 10, new Uint8Array([1, 2, 3]));
    const list = pinUserRange(mm, v.start, 4096, { write: true, longterm: true });
    const now = list.entry(0).addr / 4096;
    expect(now).not.toBe(old);
    expect(mem.pfnToPage(old).state).toBe("free");
    expect(mem.pfnToPage(now).migratetype).not.toBe(MigrateType.CMA);
    expect(mem.pfnToPage(now).refcount).toBe(1 + GUP_PIN_COUNTING_BIAS);
    expect([...mem.readPhys(now * 4096 + 10, 3)]).toEqual([1, 2, 3]);
    expect(ptePfn(mm.pt.lookup(v.start))).toBe(now);
    check(mem, mm);
    unpinPhyrs(mm, list, { dirty: true });
    expect(mem.pfnToPage(now).refcount).toBe(1);
    check(mem, mm);
  });

  it("hot-remove of a section holding a pinned frame fails naming the frame, and succeeds after unpin", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: 1 * GiB }], movable: 256 * MiB, seed: 5 });
    const mm = new AddressSpace(mem, { thp: "never" });
    const v = mm.mmap({ kind: "anon", len: 4096, policy: { zones: [2] } });
    const list = pinUserRange(mm, v.start, 4096);
    const pfn = list.entry(0).addr / 4096;
    const sec = Math.floor(pfn / 32768) * 128 * MiB;
    const before = mem.digest();
    let err: unknown;
    try {
      hotRemoveMemory(mem, sec, 128 * MiB);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MemError);
    expect((err as MemError).code).toBe("OFFLINE_PINNED");
    expect((err as MemError).pfn).toBe(pfn);
    expect((err as MemError).message).toContain(`0x${pfn.toString(16)}`);
    expect(mem.digest()).toBe(before);
    unpinPhyrs(mm, list);
    hotRemoveMemory(mem, sec, 128 * MiB);
    const moved = ptePfn(mm.pt.lookup(v.start));
    expect(moved).not.toBe(pfn);
    expect(mem.pfnToPage(pfn).valid).toBe(false);
    check(mem, mm);
  });

  it("pinning a range twice and unpinning twice is exact", () => {
    const mem = machine();
    const mm = new AddressSpace(mem, { thp: "madvise" });
    const v = mm.mmap({ kind: "anon", len: 4 * SZ_2M, hugepage: true });
    const a = pinUserRange(mm, v.start + 4096, 3 * SZ_2M);
    const digestOnce = mem.digest();
    const b = pinUserRange(mm, v.start + 4096, 3 * SZ_2M);
    expect(mem.digest()).not.toBe(digestOnce);
    expect(b.toArray()).toEqual(a.toArray());
    check(mem, mm);
    const id = mem.folios.folioOfPfn(a.entry(0).addr / 4096);
    expect(mem.folios.pincount[id]).toBe(2 * 511);
    unpinPhyrs(mm, b);
    expect(mem.digest()).toBe(digestOnce);
    unpinPhyrs(mm, a);
    expect(mem.folios.ref[id]).toBe(1);
    expect(() => unpinPhyrs(mm, a)).toThrow(PinFailed);
    check(mem, mm);
  });

  it("unpinning what was not pinned throws and changes nothing", () => {
    const mem = machine();
    const mm = new AddressSpace(mem, { thp: "never" });
    const v = mm.mmap({ kind: "anon", len: 8 * 4096 });
    const got = pinUserRange(mm, v.start, 4 * 4096, { kind: "get" });
    const before = mem.digest();
    const pinnedView = new PhyrList();
    got.forEachEntry((addr, len) => pinnedView.append(addr, len, PhyrFlag.PINNED, 0));
    expect(() => unpinPhyrs(mm, pinnedView)).toThrow(PinFailed);
    const stray = new PhyrList();
    stray.append(got.entry(0).addr, 4096, PhyrFlag.REF, 0);
    stray.append(1 * GiB + 4096 * 77, 4096, PhyrFlag.REF, 0);
    expect(() => unpinPhyrs(mm, stray)).toThrow(/pfn 0x4004d/);
    expect(mem.digest()).toBe(before);
    unpinPhyrs(mm, got);
    check(mem, mm);
  });

  it("marks folios dirty on unpin when asked", () => {
    const mem = machine();
    const mm = new AddressSpace(mem, { thp: "never" });
    const v = mm.mmap({ kind: "anon", len: 4096 });
    const list = pinUserRange(mm, v.start, 4096, { write: true });
    const id = mem.folios.folioOfPfn(list.entry(0).addr / 4096);
    expect(mem.folios.flags[id] & 16).toBe(0);
    unpinPhyrs(mm, list, { dirty: true });
    expect(mem.folios.flags[id] & 16).toBe(16);
  });
});

describe("device memory and PFNMAP", () => {
  it("PFNMAP BAR ranges yield MMIO entries with the provider index and no struct page", () => {
    const mem = machine({ pciWindows: [{ start: 0xe0000000 * 4, size: 0x10000000 }] });
    const mm = new AddressSpace(mem);
    const bar = 0x380000000;
    const v = mm.mmap({ kind: "pfnmap", len: 4 * SZ_2M, phys: bar, provider: 7 });
    const list = pinUserRange(mm, v.start, 4 * SZ_2M);
    expect(list.toArray()).toEqual([
      { addr: bar, len: 4 * SZ_2M, flags: PhyrFlag.PINNED | PhyrFlag.MMIO, provider: 7 },
    ]);
    expect(mem.pfnmapPins.get(7)).toBe(2048);
    check(mem, mm);
    unpinPhyrs(mm, list);
    expect(mem.pfnmapPins.size).toBe(0);
    expect(() => pinUserPages(mm, v.start, 4096)).toThrow(PinFailed);
    check(mem, mm);
  });

  it("DEVICE_PRIVATE pages are refused to anyone but their owner", () => {
    const mem = machine();
    const pg = mem.addPgmap({ type: "PRIVATE", start: 64 * GiB, size: 16 * MiB, owner: 42 });
    const mm = new AddressSpace(mem, { thp: "never" });
    const v = mm.mmap({ kind: "anon", len: 4 * 4096 });
    mm.populate(v.start, 4 * 4096, true);
    expect(mm.migrateToDevice(v.start, 4 * 4096, pg.id)).toBe(4);
    check(mem, mm);
    const before = mem.digest() + mm.digest();
    expect(() => pinUserRange(mm, v.start, 4096)).toThrow(/DEVICE_PRIVATE/);
    expect(() => pinUserRange(mm, v.start, 4096, { owner: 41 })).toThrow(PinFailed);
    expect(mem.digest() + mm.digest()).toBe(before);
    const own = pinUserRange(mm, v.start, 4 * 4096, { owner: 42 });
    expect(own.entry(0).addr).toBeGreaterThanOrEqual(64 * GiB);
    unpinPhyrs(mm, own);
    // A CPU fault brings the page back to RAM.
    mm.fault(v.start, true);
    expect(ptePfn(mm.pt.lookup(v.start)) * 4096).toBeLessThan(2 * GiB);
    check(mem, mm);
  });

  it("P2PDMA pgmap pages pin with FOLL_PCI_P2PDMA as MMIO entries with the pgmap's provider", () => {
    const mem = machine();
    const pg = mem.addPgmap({ type: "PCI_P2PDMA", start: 0x400000000, size: 4 * MiB, provider: 3 });
    const mm = new AddressSpace(mem);
    const v = mm.mmap({ kind: "dax", pgmap: pg.id, len: 4 * MiB });
    const list = pinUserRange(mm, v.start, 4 * MiB, { longterm: true, p2pdma: true });
    expect(list.toArray()).toEqual([
      { addr: 0x400000000, len: 4 * MiB, flags: PhyrFlag.PINNED | PhyrFlag.MMIO, provider: 3 },
    ]);
    check(mem, mm);
    unpinPhyrs(mm, list);
    check(mem, mm);
  });

  it("FOLL_LONGTERM migrates device-coherent pages back to RAM", () => {
    const mem = machine();
    const pg = mem.addPgmap({ type: "COHERENT", start: 64 * GiB, size: 2 * MiB });
    const mm = new AddressSpace(mem, { thp: "never" });
    const v = mm.mmap({ kind: "anon", len: 2 * 4096 });
    mm.populate(v.start, 2 * 4096);
    expect(mm.migrateToDevice(v.start, 2 * 4096, pg.id)).toBe(2);
    const short = pinUserRange(mm, v.start, 4096);
    expect(short.entry(0).addr).toBeGreaterThanOrEqual(64 * GiB);
    const long = pinUserRange(mm, v.start + 4096, 4096, { longterm: true });
    expect(long.entry(0).addr).toBeLessThan(2 * GiB);
    check(mem, mm);
    unpinPhyrs(mm, short);
    unpinPhyrs(mm, long);
    check(mem, mm);
  });
});

describe("pin bad input: typed errors, digest unchanged", () => {
  const mem = new MachineMemory({
    nodes: [{ start: 0, size: 1 * GiB }],
    pmem: [{ start: 8 * GiB, size: 64 * MiB, type: "FS_DAX" }],
  });
  const mm = new AddressSpace(mem);
  const anon = mm.mmap({ kind: "anon", len: 16 * 4096 });
  const ro = mm.mmap({ kind: "anon", len: 4 * 4096, write: false });
  const gap = mm.mmap({ kind: "anon", len: 4096, start: ro.end + 4096 });
  const dax = mm.mmap({ kind: "dax", pgmap: 0, len: 4 * MiB });
  const bar = mm.mmap({ kind: "pfnmap", len: 16 * 4096, phys: 0x380000000, provider: 9 });
  const cases: [string, number, number, object, new (...a: never[]) => Error, RegExp][] = [
    ["unaligned start", anon.start + 1, 4096, {}, RangeError, /page aligned/],
    ["unaligned length", anon.start, 100, {}, RangeError, /page aligned/],
    ["zero length", anon.start, 0, {}, RangeError, /length 0x0/],
    ["NaN start", Number.NaN, 4096, {}, RangeError, /NaN/],
    ["outside any VMA", 0x1000, 4096, {}, PinFailed, /outside any VMA/],
    ["across a hole", ro.start, gap.end - ro.start, {}, PinFailed, /hole at/],
    ["write pin of read-only VMA", ro.start, 4096, { write: true }, PinFailed, /read-only/],
    ["longterm pin of fsdax", dax.start, 4096, { longterm: true }, PinFailed, /fsdax/],
    ["get of PFNMAP", bar.start, 4096, { kind: "get" }, PinFailed, /PFNMAP/],
    ["bad kind", anon.start, 4096, { kind: "borrow" }, TypeError, /borrow/],
  ];
  for (const [name, va, len, opts, type, re] of cases) {
    it(`rejects ${name}`, () => {
      const before = mem.digest() + mm.digest();
      expect(() => pinUserRange(mm, va, len, opts)).toThrow(type);
      expect(() => pinUserRange(mm, va, len, opts)).toThrow(re);
      expect(mem.digest() + mm.digest()).toBe(before);
      check(mem, mm);
    });
  }
});
