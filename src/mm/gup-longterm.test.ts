import { describe, expect, it } from "vitest";
import { GiB, MiB } from "../../test/kit/index.js";
import { PinFailed, SZ_2M } from "../core/index.js";
import {
  GUP_PIN_COUNTING_BIAS,
  isolatePageblocks,
  MachineMemory,
  type MemorySpec,
  undoIsolatePageblocks,
  Zone,
} from "../mem/index.js";
import { PhyrFlag } from "../phyr/index.js";
import {
  AddressSpace,
  pinUserPages,
  pinUserRange,
  ptePfn,
  unpinPhyrs,
  unpinUserPageRange,
  unpinUserPages,
} from "./index.js";

function check(mem: MachineMemory, mm: AddressSpace): void {
  mem.checkValid();
  mm.checkValid();
}

describe("the zero page is never pinned (mm/gup.c try_grab_folio, gup_put_folio: is_zero_folio)", () => {
  function setup() {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }] });
    const mm = new AddressSpace(mem, { thp: "never", zeroPage: true });
    const v = mm.mmap({ kind: "anon", len: 4 * 4096 });
    mm.populate(v.start, 4 * 4096, false);
    const zero = mem.zeroFolioId();
    return { mem, mm, v, zero, zpfn: mem.folios.head[zero] };
  }

  it("read faults map the zero page; FOLL_PIN returns it without a reference, unpin skips it", () => {
    const { mem, mm, v, zero, zpfn } = setup();
    for (let i = 0; i < 4; i++) expect(ptePfn(mm.pt.lookup(v.start + i * 4096))).toBe(zpfn);
    const ref0 = mem.folios.ref[zero];
    const list = pinUserRange(mm, v.start, 4 * 4096, { longterm: true });
    // Four 4 KiB entries at one frame: the same page four times, never contiguous.
    expect(list.toArray()).toEqual(
      Array.from({ length: 4 }, () => ({
        addr: zpfn * 4096,
        len: 4096,
        flags: PhyrFlag.PINNED,
        provider: 0,
      })),
    );
    expect([mem.folios.ref[zero], mem.folios.pins[zero]]).toEqual([ref0, 0]);
    check(mem, mm);
    unpinPhyrs(mm, list);
    expect(mem.folios.ref[zero]).toBe(ref0);
    const pages = pinUserPages(mm, v.start, 4 * 4096);
    expect([...pages]).toEqual([zpfn, zpfn, zpfn, zpfn]);
    unpinUserPages(mm, pages);
    expect(unpinUserPageRange(mm, zpfn, 1)).toBe(1);
    expect(mem.folios.ref[zero]).toBe(ref0);
    check(mem, mm);
  });

  it("FOLL_GET does take references on the zero page (folio_ref_add)", () => {
    const { mem, mm, v, zero } = setup();
    const ref0 = mem.folios.ref[zero];
    const list = pinUserRange(mm, v.start, 4 * 4096, { kind: "get" });
    expect(mem.folios.ref[zero]).toBe(ref0 + 4);
    check(mem, mm);
    unpinPhyrs(mm, list);
    expect(mem.folios.ref[zero]).toBe(ref0);
    check(mem, mm);
  });

  it("a FOLL_WRITE pin breaks COW: private pages, pinned with the small-folio bias", () => {
    const { mem, mm, v, zpfn } = setup();
    const list = pinUserRange(mm, v.start, 4 * 4096, { write: true, longterm: true });
    for (const e of list.toArray()) {
      expect(e.addr / 4096).not.toBe(zpfn);
      expect(mem.pfnToPage(e.addr / 4096).refcount).toBe(1 + GUP_PIN_COUNTING_BIAS);
    }
    check(mem, mm);
    unpinPhyrs(mm, list, { dirty: true });
    check(mem, mm);
  });
});

describe("MIGRATE_ISOLATE pageblocks are not long-term pinnable (folio_is_longterm_pinnable)", () => {
  it("a long-term pin migrates the folio out of the isolated block; a short pin leaves it", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: 512 * MiB }] });
    const mm = new AddressSpace(mem, { thp: "never" });
    const v = mm.mmap({ kind: "anon", len: 2 * 4096 });
    mm.populate(v.start, 2 * 4096, true);
    const pfn0 = ptePfn(mm.pt.lookup(v.start));
    const block = Math.floor((pfn0 * 4096) / (4 * MiB)) * 4 * MiB;
    isolatePageblocks(mem, block, 4 * MiB);
    const short = pinUserRange(mm, v.start, 4096);
    expect(short.entry(0).addr).toBe(pfn0 * 4096);
    unpinPhyrs(mm, short);
    const long = pinUserRange(mm, v.start, 4096, { longterm: true });
    const at = long.entry(0).addr;
    expect(at < block || at >= block + 4 * MiB).toBe(true);
    expect(ptePfn(mm.pt.lookup(v.start))).toBe(at / 4096);
    check(mem, mm);
    unpinPhyrs(mm, long);
    undoIsolatePageblocks(mem, block, 4 * MiB);
    check(mem, mm);
  });
});

describe("long-term pins of hugetlb in CMA / ZONE_MOVABLE migrate the folio (mm/gup.c, mm/hugetlb.c)", () => {
  // [huge size, pool placement, extra pinnable pool page, outcome]. Worked from the kernel:
  // collect_longterm_unpinnable_folios isolates the hugetlb folio; alloc_hugetlb_folio_nodemask
  // dequeues a pinnable free pool page if one exists, else (2 MiB only) alloc_migrate_hugetlb_folio
  // allocates a temporary one outside ZONE_MOVABLE/CMA; a 1 GiB page with nothing to dequeue fails
  // (-ENOMEM from migrate_longterm_unpinnable_folios).
  const rows: ["2M" | "1G", "movable" | "cma", boolean, "fresh page" | "pool page" | "refused"][] = [
    ["2M", "movable", false, "fresh page"],
    ["2M", "cma", false, "fresh page"],
    ["2M", "cma", true, "pool page"],
    ["1G", "cma", true, "pool page"],
    ["1G", "cma", false, "refused"],
  ];
  for (const [size, placement, extra, outcome] of rows) {
    it(`${size} hugetlb in ${placement}${extra ? " with a pinnable pool page free" : ""}: ${outcome}`, () => {
      const spec: MemorySpec = {
        nodes: [{ start: 0, size: 4 * GiB }],
        hugetlb: size === "1G" ? { pages1G: 1, placement } : { pages2M: 1, placement },
      };
      if (placement === "movable") spec.movable = 512 * MiB;
      else spec.cma = 2 * GiB;
      const mem = new MachineMemory(spec);
      const bytes = size === "1G" ? GiB : SZ_2M;
      const mm = new AddressSpace(mem);
      const v = mm.mmap({ kind: "hugetlb", hugeSize: size, len: bytes });
      mm.populate(v.start, bytes, true);
      if (extra) mem.addHugetlb(size); // a pinnable page joins the pool after the fault took the other
      const f = mem.folios;
      const old = f.folioOfPfn(ptePfn(mm.pt.lookup(v.start)));
      const oldHead = f.head[old];
      const total = mem.hugetlbTotal[size];
      const free = mem.freePages;
      // A short pin leaves the folio where it is.
      const short = pinUserRange(mm, v.start, bytes);
      expect(short.entry(0).addr).toBe(oldHead * 4096);
      unpinPhyrs(mm, short);
      if (outcome === "refused") {
        const d = mem.digest() + mm.digest();
        expect(() => pinUserRange(mm, v.start, bytes, { longterm: true })).toThrow(PinFailed);
        expect(() => pinUserRange(mm, v.start, bytes, { longterm: true })).toThrow(/1 GiB/);
        expect(mem.digest() + mm.digest()).toBe(d);
        return;
      }
      const list = pinUserRange(mm, v.start, bytes, { longterm: true, write: true });
      const e = list.entry(0);
      const now = f.folioOfPfn(e.addr / 4096);
      expect([e.len, list.nents]).toEqual([bytes, 1]);
      expect(f.flags[now] & 8).toBe(8); // still a hugetlb folio
      expect(f.zone[now]).not.toBe(Zone.MOVABLE);
      expect(f.mt[now]).not.toBe(4); // not MIGRATE_CMA
      expect(mem.hugetlbTotal[size]).toBe(total);
      if (outcome === "fresh page") {
        // The old frames went back to the buddy allocator, the new ones came out of it.
        expect(mem.freePages).toBe(free);
        expect(mem.hugetlbFree[size].length).toBe(0);
      } else {
        expect(mem.hugetlbFree[size].map((id) => f.head[id])).toEqual([oldHead]);
      }
      check(mem, mm);
      unpinPhyrs(mm, list);
      check(mem, mm);
    });
  }

  it("a hugetlb folio that is already pinned cannot migrate: the long-term pin fails naming it", () => {
    const mem = new MachineMemory({
      nodes: [{ start: 0, size: 4 * GiB }],
      movable: 512 * MiB,
      hugetlb: { pages2M: 1, placement: "movable" },
    });
    const mm = new AddressSpace(mem);
    const v = mm.mmap({ kind: "hugetlb", hugeSize: "2M", len: SZ_2M });
    mm.populate(v.start, SZ_2M, true);
    const short = pinUserRange(mm, v.start, SZ_2M);
    const d = mem.digest() + mm.digest();
    const head = short.entry(0).addr / 4096;
    expect(() => pinUserRange(mm, v.start, SZ_2M, { longterm: true })).toThrow(
      new RegExp(`pfn 0x${head.toString(16)}`),
    );
    expect(mem.digest() + mm.digest()).toBe(d);
    unpinPhyrs(mm, short);
    check(mem, mm);
  });
});

describe("range unpin and PinFailed frames", () => {
  it("unpinUserPageRange releases per folio (unpin_user_page_range_dirty_lock) or throws unchanged", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }] });
    const mm = new AddressSpace(mem, { thp: "always" });
    const v = mm.mmap({ kind: "anon", len: SZ_2M });
    const list = pinUserRange(mm, v.start, SZ_2M, { write: true });
    const head = list.entry(0).addr / 4096;
    expect(unpinUserPageRange(mm, head, 256, { dirty: true })).toBe(1);
    expect(mem.pfnToPage(head).pincount).toBe(256);
    const d = mem.digest();
    expect(() => unpinUserPageRange(mm, head, 512)).toThrow(PinFailed);
    expect(() => unpinUserPageRange(mm, head, 0)).toThrow(RangeError);
    expect(mem.digest()).toBe(d);
    expect(unpinUserPageRange(mm, head + 256, 256)).toBe(1);
    expect(mem.pfnToPage(head).refcount).toBe(1);
    check(mem, mm);
  });

  it("unpinUserPages names the frame it cannot unpin (PinFailed.pfn was always -1)", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }] });
    const mm = new AddressSpace(mem);
    const err = (() => {
      try {
        unpinUserPages(mm, [0x12345]);
      } catch (e) {
        return e as PinFailed;
      }
    })();
    expect(err).toBeInstanceOf(PinFailed);
    expect(err?.pfn).toBe(0x12345);
    expect(err?.message).toMatch(/pfn 0x12345/);
    expect(() => unpinUserPages(mm, [Number.NaN])).toThrow(/NaN/);
  });
});
