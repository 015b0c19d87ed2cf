import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemError, PinFailed, SZ_2M } from "../core/index.js";
import { hotAddMemory, hotRemoveMemory, MachineMemory } from "../mem/index.js";
import type { PhyrList } from "../phyr/index.js";
import { AddressSpace, pinUserRange, ptePfn, unpinPhyrs } from "./index.js";

const MiB = 2 ** 20;
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

const PAGES = 1024; // a 4 MiB anonymous VMA, half THP-eligible
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant("fault" as const), page: fc.nat(PAGES - 1) }),
  fc.record({
    t: fc.constant("pin" as const),
    page: fc.nat(PAGES - 1),
    n: fc.integer({ min: 1, max: 600 }),
    kind: fc.constantFrom("pin" as const, "get" as const),
    longterm: fc.boolean(),
  }),
  fc.record({ t: fc.constant("unpin" as const), which: fc.nat() }),
  fc.record({ t: fc.constant("alloc" as const), order: fc.constantFrom(0, 0, 1, 3, 9, 10) }),
  fc.record({ t: fc.constant("free" as const), which: fc.nat() }),
  fc.record({ t: fc.constant("migrate" as const), page: fc.nat(PAGES - 1) }),
  fc.record({ t: fc.constant("hotadd" as const) }),
  fc.record({ t: fc.constant("hotremove" as const), which: fc.nat() }),
);

/** Reference model: outstanding references per page frame, counted page by page from the lists. */
function countRefs(lists: { list: PhyrList; kind: "pin" | "get" }[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const { list, kind } of lists) {
    list.forEachEntry((addr, len) => {
      for (let p = addr / 4096; p < (addr + len) / 4096; p++)
        m.set(`${kind}:${p}`, (m.get(`${kind}:${p}`) ?? 0) + 1);
    });
  }
  return m;
}

describe("random allocate/fault/pin/unpin/migrate/hot-add/hot-remove sequences", () => {
  it("keep checkValid() true, match a page-by-page reference, and return every refcount to baseline", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), (ops) => {
        const mem = new MachineMemory({
          nodes: [{ start: 0, size: 512 * MiB }],
          movable: 256 * MiB,
          cma: 16 * MiB,
          seed: 11,
        });
        const mm = new AddressSpace(mem, { thp: "madvise" });
        const a = mm.mmap({ kind: "anon", len: (PAGES / 2) * 4096, hugepage: true });
        mm.mmap({ kind: "anon", len: (PAGES / 2) * 4096, start: a.end, policy: { cma: true } });
        const baseline = new Map<number, number>();
        const pins: { list: PhyrList; kind: "pin" | "get" }[] = [];
        const kernel: number[] = [];
        let nextAdd = 512 * MiB;
        const added: number[] = [];
        for (const o of ops) {
          const before = mem.digest() + mm.digest();
          try {
            switch (o.t) {
              case "fault":
                mm.fault(a.start + o.page * 4096, true);
                break;
              case "pin": {
                const n = Math.min(o.n, PAGES - o.page);
                const list = pinUserRange(mm, a.start + o.page * 4096, n * 4096, {
                  kind: o.kind,
                  longterm: o.longterm,
                });
                expect(list.totalBytes).toBe(n * 4096);
                pins.push({ list, kind: o.kind });
                break;
              }
              case "unpin":
                if (pins.length) {
                  const [p] = pins.splice(o.which % pins.length, 1);
                  unpinPhyrs(mm, p.list);
                  // Unpinning again is refused and changes nothing.
                  const again = mem.digest();
                  const stillOwed = countRefs(pins);
                  let refused = true;
                  p.list.forEachEntry((addr) => {
                    if (stillOwed.has(`${p.kind}:${addr / 4096}`)) refused = false;
                  });
                  if (refused) {
                    expect(() => unpinPhyrs(mm, p.list)).toThrow(PinFailed);
                    expect(mem.digest()).toBe(again);
                  }
                }
                break;
              case "alloc":
                kernel.push(mem.allocFolio(o.order, { movable: false, flags: 64 }));
                break;
              case "free":
                if (kernel.length) mem.putFolio(kernel.splice(o.which % kernel.length, 1)[0]);
                break;
              case "migrate": {
                const e = mm.pt.lookup(a.start + o.page * 4096);
                if (e !== 0) mem.migrateFolio(mem.folios.folioOfPfn(ptePfn(e)));
                break;
              }
              case "hotadd":
                hotAddMemory(mem, nextAdd, SEC, { movable: true });
                added.push(nextAdd);
                nextAdd += SEC;
                break;
              case "hotremove": {
                const secs = [...added, 256 * MiB, 384 * MiB];
                const s = secs[o.which % secs.length];
                hotRemoveMemory(mem, s, SEC);
                const i = added.indexOf(s);
                if (i >= 0) added.splice(i, 1);
                break;
              }
            }
          } catch (e) {
            if (!(e instanceof MemError || e instanceof PinFailed)) throw e;
            // A refused pin or offline changes nothing; a refused fault/alloc too.
            if (o.t !== "pin") expect(mem.digest() + mm.digest()).toBe(before);
          }
          mem.checkValid();
          mm.checkValid();
          // Folio accounting equals the page-by-page reference of outstanding lists.
          const ref = countRefs(pins);
          const f = mem.folios;
          f.forEachLive((id) => {
            let pinsRef = 0;
            let getsRef = 0;
            for (let p = f.head[id]; p < f.head[id] + f.npages(id); p++) {
              pinsRef += ref.get(`pin:${p}`) ?? 0;
              getsRef += ref.get(`get:${p}`) ?? 0;
            }
            expect(f.pins[id]).toBe(pinsRef);
            expect(f.gets[id]).toBe(getsRef);
          });
          f.forEachLive((id) => {
            if (!baseline.has(id) && f.owner[id] === mm.id) baseline.set(id, 1);
          });
        }
        for (const p of pins.splice(0)) unpinPhyrs(mm, p.list);
        mem.checkValid();
        mm.checkValid();
        const f = mem.folios;
        f.forEachLive((id) => {
          if (f.owner[id] === mm.id) expect(f.ref[id]).toBe(1);
          expect(f.pincount[id]).toBe(0);
        });
        expect(mem.pfnmapPins.size).toBe(0);
        return true;
      }),
      { seed: 42, numRuns: 60 },
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
      { seed: 42, numRuns: 100 },
    );
  });
});
