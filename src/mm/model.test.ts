import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns, MiB } from "../../test/kit/index.js";
import { MemError, PinFailed, SZ_2M } from "../core/index.js";
import { FolioFlag, hotAddMemory, hotRemoveMemory, MachineMemory } from "../mem/index.js";
import { PhyrFlag, type PhyrList } from "../phyr/index.js";
import { AddressSpace, MappedFile, PteFlag, pinUserRange, pteFlags, ptePfn, unpinPhyrs } from "./index.js";

const SEC = 128 * MiB;

type Op =
  | { t: "fault"; page: number }
  | { t: "pin"; page: number; n: number; kind: "pin" | "get"; longterm: boolean }
  | { t: "unpin"; which: number }
  | { t: "alloc"; order: number }
  | { t: "free"; which: number }
  | { t: "migrate"; page: number }
  | { t: "hotadd" }
  | { t: "hotremove"; which: number };

// One 6 MiB stretch of VMAs, back to back: 2 MiB THP-eligible anon, 2 MiB anon placed in CMA,
// 1 MiB of a shared file, 1 MiB PFNMAP BAR (provider 5, no struct pages).
const PAGES = 1536;
const BAR = 0x380000000;
const PROVIDER = 5;
// Weighted so pins and unpins dominate, as they do in the system being modelled.
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant("fault" as const), page: fc.nat(PAGES - 1) }), weight: 2 },
  {
    arbitrary: fc.record({
      t: fc.constant("pin" as const),
      page: fc.nat(PAGES - 1),
      n: fc.integer({ min: 1, max: 600 }),
      kind: fc.constantFrom("pin" as const, "get" as const),
      longterm: fc.boolean(),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ t: fc.constant("unpin" as const), which: fc.nat() }), weight: 2 },
  fc.record({ t: fc.constant("alloc" as const), order: fc.constantFrom(0, 0, 1, 3, 9, 10) }),
  fc.record({ t: fc.constant("free" as const), which: fc.nat() }),
  fc.record({ t: fc.constant("migrate" as const), page: fc.nat(PAGES - 1) }),
  fc.record({ t: fc.constant("hotadd" as const) }),
  fc.record({ t: fc.constant("hotremove" as const), which: fc.nat() }),
);

/**
 * `expect(actual).toEqual(want)` only when they differ: vitest's expect costs far more than the
 * model checks it guards, and these run after every operation.
 */
function same(actual: unknown, want: unknown, what: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(want)) expect(actual, what).toEqual(want);
}

/** Key of the reference model for page frame `pfn` and a kind; PFNMAP pages of PROVIDER share key -1. */
function key(kind: "pin" | "get", pfn: number): number {
  return pfn * 2 + (kind === "pin" ? 1 : 0);
}

/**
 * Reference model: outstanding references per page frame and kind, and PFNMAP pins (key -1),
 * counted page by page: adds `sign` for every page of `list` (+1 when pinned, -1 when unpinned).
 * Pinned frames cannot migrate or go offline, so a key stays valid while its list is outstanding.
 */
function count(ref: Map<number, number>, list: PhyrList, kind: "pin" | "get", sign: 1 | -1): void {
  const add = (k: number, n: number) => {
    const v = (ref.get(k) ?? 0) + n;
    if (v === 0) ref.delete(k);
    else ref.set(k, v);
  };
  list.forEachEntry((addr, len, flags, prov) => {
    if (flags & PhyrFlag.MMIO && prov === PROVIDER) add(-1, (sign * len) / 4096);
    else for (let p = addr / 4096; p < (addr + len) / 4096; p++) add(key(kind, p), sign);
  });
}

/** The address space and machine every sequence starts from. */
function setup() {
  const mem = new MachineMemory({
    nodes: [{ start: 0, size: 512 * MiB }],
    movable: 256 * MiB,
    cma: 16 * MiB,
    seed: 11,
  });
  const mm = new AddressSpace(mem, { thp: "madvise" });
  const file = new MappedFile(mem, "f");
  const a = mm.mmap({ kind: "anon", len: 512 * 4096, hugepage: true });
  mm.mmap({ kind: "anon", len: 512 * 4096, start: a.start + 512 * 4096, policy: { cma: true } });
  mm.mmap({ kind: "file", file, len: 256 * 4096, start: a.start + 1024 * 4096 });
  mm.mmap({ kind: "pfnmap", len: 256 * 4096, start: a.start + 1280 * 4096, phys: BAR, provider: PROVIDER });
  return { mem, mm, va: a.start };
}

/** Folio id -> [refcount, _pincount] of every live folio. */
function snapshotRefs(mem: MachineMemory): Map<number, [number, number]> {
  const m = new Map<number, [number, number]>();
  mem.folios.forEachLive((id) => {
    m.set(id, [mem.folios.ref[id], mem.folios.pincount[id]]);
  });
  return m;
}

describe("random allocate/fault/pin/unpin/migrate/hot-add/hot-remove sequences", () => {
  it("keep checkValid() true, match a page-by-page reference, and return every refcount to baseline", () => {
    // Successful operations of each kind over all runs, so the test shows it really ran them.
    const done: Record<string, number> = {};
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), (ops) => {
        const { mem, mm, va } = setup();
        const pins: { list: PhyrList; kind: "pin" | "get" }[] = [];
        const ref = new Map<number, number>();
        const kernel: number[] = [];
        let nextAdd = 512 * MiB;
        const added: number[] = [];
        for (const o of ops) {
          const before = mem.digest() + mm.digest();
          let did: string = o.t;
          try {
            switch (o.t) {
              case "fault":
                mm.fault(va + o.page * 4096, true);
                break;
              case "pin": {
                const n = Math.min(o.n, PAGES - o.page);
                const list = pinUserRange(mm, va + o.page * 4096, n * 4096, {
                  kind: o.kind,
                  longterm: o.longterm,
                });
                same(list.totalBytes, n * 4096, "pinned bytes");
                pins.push({ list, kind: o.kind });
                count(ref, list, o.kind, 1);
                break;
              }
              case "unpin":
                if (pins.length) {
                  const [p] = pins.splice(o.which % pins.length, 1);
                  unpinPhyrs(mm, p.list);
                  count(ref, p.list, p.kind, -1);
                  // Unpinning again is refused and changes nothing (unless other lists still
                  // hold enough of the same pages to cover it).
                  const again = mem.digest();
                  let refused = true;
                  p.list.forEachEntry((addr, _len, flags) => {
                    if (ref.has(flags & PhyrFlag.MMIO ? -1 : key(p.kind, addr / 4096))) refused = false;
                  });
                  if (refused) {
                    expect(() => unpinPhyrs(mm, p.list)).toThrow(PinFailed);
                    same(mem.digest(), again, "digest after a refused unpin");
                  }
                } else did = "noop";
                break;
              case "alloc":
                kernel.push(mem.allocFolio(o.order, { movable: false, flags: FolioFlag.KERNEL }));
                break;
              case "free":
                if (kernel.length) mem.putFolio(kernel.splice(o.which % kernel.length, 1)[0]);
                else did = "noop";
                break;
              case "migrate": {
                // A folio mapped in the range (the page-th one that has a struct page), if any.
                const ids: number[] = [];
                mm.pt.forEachLeaf((_va, _size, e) => {
                  if (!(pteFlags(e) & PteFlag.SPECIAL)) ids.push(mem.folios.folioOfPfn(ptePfn(e)));
                });
                if (ids.length) mem.migrateFolio(ids[o.page % ids.length]);
                else did = "noop";
                break;
              }
              case "hotadd":
                hotAddMemory(mem, nextAdd, SEC, { movable: true });
                added.push(nextAdd);
                nextAdd += SEC;
                break;
              case "hotremove": {
                // Hot-added sections, or the boot ZONE_MOVABLE sections holding the anon/file folios.
                const secs = [...added, 256 * MiB, 384 * MiB];
                const s = secs[o.which % secs.length];
                hotRemoveMemory(mem, s, SEC);
                const i = added.indexOf(s);
                if (i >= 0) added.splice(i, 1);
                else did = "hotremove-boot";
                break;
              }
            }
            done[did] = (done[did] ?? 0) + 1;
          } catch (e) {
            if (!(e instanceof MemError || e instanceof PinFailed)) throw e;
            // A refused call changes nothing; only a long-term pin whose migration failed may
            // leave its faults and earlier migrations behind (as GUP does), never a pin.
            if (!(o.t === "pin" && /migrating/.test(e.message)))
              same(mem.digest() + mm.digest(), before, `digest after a refused ${o.t}`);
            done[`${o.t}-refused`] = (done[`${o.t}-refused`] ?? 0) + 1;
          }
          mem.checkValid();
          mm.checkValid();
          // Folio accounting equals the page-by-page reference of outstanding lists.
          const f = mem.folios;
          const per = new Map<number, [number, number]>();
          for (const [k, n] of ref) {
            if (k < 0) continue;
            const id = f.folioOfPfn(Math.floor(k / 2));
            const e = per.get(id) ?? [0, 0];
            e[k % 2 === 1 ? 0 : 1] += n;
            per.set(id, e);
          }
          // (Compared by hand and reported through expect only on a mismatch: expect per folio is slow.)
          f.forEachLive((id) => {
            const want = per.get(id) ?? [0, 0];
            if (f.pins[id] !== want[0] || f.gets[id] !== want[1])
              expect({ id, pins: f.pins[id], gets: f.gets[id] }).toEqual({
                id,
                pins: want[0],
                gets: want[1],
              });
          });
          same(per.has(-1), false, "a pinned frame without a folio");
          same(mem.pfnmapPins.get(PROVIDER) ?? 0, ref.get(-1) ?? 0, "PFNMAP pins");
        }
        for (const p of pins.splice(0)) unpinPhyrs(mm, p.list);
        mem.checkValid();
        mm.checkValid();
        // Baseline: every folio holds only its owner's reference (free hugetlb pages none), no pin.
        const f = mem.folios;
        f.forEachLive((id) => {
          expect(f.ref[id]).toBe(f.flags[id] & FolioFlag.POOL_FREE ? 0 : 1);
          expect([f.pincount[id], f.pins[id], f.gets[id]]).toEqual([0, 0, 0]);
        });
        expect(mem.pfnmapPins.size).toBe(0);
        return true;
      }),
      fcRuns(60),
    );
    for (const t of [
      "fault",
      "pin",
      "unpin",
      "alloc",
      "free",
      "migrate",
      "hotadd",
      "hotremove",
      "hotremove-boot",
    ])
      expect(done[t] ?? 0, `successful ${t} operations`).toBeGreaterThan(0);
    for (const t of ["pin-refused", "migrate-refused"]) expect(done[t] ?? 0, t).toBeGreaterThan(0);
  });

  it("pinning a range twice and unpinning twice is exact; a third unpin throws and changes nothing", () => {
    fc.assert(
      fc.property(
        fc.nat(PAGES - 1),
        fc.integer({ min: 1, max: 1200 }),
        fc.constantFrom("pin" as const, "get" as const),
        fc.boolean(),
        fc.boolean(),
        (page, n, kind, longterm, write) => {
          n = Math.min(n, PAGES - page);
          const { mem, mm, va } = setup();
          const at = va + page * 4096;
          const opts = { kind, longterm, write };
          if (kind === "get" && page + n > 1280) {
            // FOLL_GET of a PFNMAP range: refused, nothing changes.
            const d = mem.digest() + mm.digest();
            expect(() => pinUserRange(mm, at, n * 4096, opts)).toThrow(/PFNMAP/);
            expect(mem.digest() + mm.digest()).toBe(d);
            return;
          }
          // First pin + unpin faults in and (long-term) migrates; from then on the state is stable.
          unpinPhyrs(mm, pinUserRange(mm, at, n * 4096, opts));
          const d0 = mem.digest() + mm.digest();
          const a = pinUserRange(mm, at, n * 4096, opts);
          const d1 = mem.digest() + mm.digest();
          const refs1 = snapshotRefs(mem);
          const b = pinUserRange(mm, at, n * 4096, opts);
          expect(b.toArray()).toEqual(a.toArray());
          // Each pin adds, per folio, what the rule says for the pages it covers (page-by-page count).
          const refs2 = snapshotRefs(mem);
          const pagesPer = new Map<number, number>();
          let pfnmapPages = 0;
          b.forEachEntry((addr, len, flags) => {
            if (flags & PhyrFlag.MMIO && mem.folios.folioOfPfn(addr / 4096) < 0) pfnmapPages += len / 4096;
            else
              for (let p = addr / 4096; p < (addr + len) / 4096; p++) {
                const id = mem.folios.folioOfPfn(p);
                pagesPer.set(id, (pagesPer.get(id) ?? 0) + 1);
              }
          });
          for (const [id, pages] of pagesPer) {
            const small = mem.folios.order[id] === 0;
            const dRef = kind === "get" ? pages : small ? 1024 * pages : pages;
            const dPin = kind === "pin" && !small ? pages : 0;
            expect(refs2.get(id)![0] - refs1.get(id)![0]).toBe(dRef);
            expect(refs2.get(id)![1] - refs1.get(id)![1]).toBe(dPin);
          }
          expect(mem.pfnmapPins.get(PROVIDER) ?? 0).toBe(2 * pfnmapPages);
          unpinPhyrs(mm, b);
          expect(mem.digest() + mm.digest()).toBe(d1);
          unpinPhyrs(mm, a);
          expect(mem.digest() + mm.digest()).toBe(d0);
          expect(() => unpinPhyrs(mm, a)).toThrow(PinFailed);
          expect(mem.digest() + mm.digest()).toBe(d0);
          mem.checkValid();
          mm.checkValid();
        },
      ),
      fcRuns(40),
    );
  });

  it("pins of a THP-backed range span whole THPs with at most one entry each", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: 256 * MiB }], seed: 2 });
    const mm = new AddressSpace(mem, { thp: "always" });
    const v = mm.mmap({ kind: "anon", len: 8 * SZ_2M });
    fc.assert(
      fc.property(fc.nat(8 * 512 - 1), fc.integer({ min: 1, max: 4096 }), (page, n) => {
        n = Math.min(n, 8 * 512 - page);
        const l = pinUserRange(mm, v.start + page * 4096, n * 4096);
        const thps = Math.floor((page + n - 1) / 512) - Math.floor(page / 512) + 1;
        expect(l.nents).toBeLessThanOrEqual(thps);
        unpinPhyrs(mm, l);
        mem.checkValid();
        mm.checkValid();
      }),
      fcRuns(100),
    );
  });
});
