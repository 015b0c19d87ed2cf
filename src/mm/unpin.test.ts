import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns, MiB } from "../../test/kit/index.js";
import { PinFailed } from "../core/index.js";
import { ageMemory, FolioFlag, MachineMemory } from "../mem/index.js";
import { PhyrFlag, PhyrList } from "../phyr/index.js";
import { AddressSpace, pinUserRange, unpinPhyrs } from "./index.js";

const PAGES = 2048; // an 8 MiB VMA: THPs where the buddy allocator has them, 4 KiB pages elsewhere

describe("unpinPhyrs agrees with a page-by-page model", () => {
  it("releases per folio exactly what the pages need, or throws and changes nothing", () => {
    const pin = fc.record({
      page: fc.nat(PAGES - 1),
      n: fc.integer({ min: 1, max: 700 }),
      kind: fc.constantFrom("pin" as const, "get" as const),
    });
    const release = fc.record({
      // indices into the pins taken so far; repeats make one list release a folio twice
      picks: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
      dirty: fc.boolean(),
      // the last list's entries carry PhyrFlag.DIRTY (a per-entry dirty mark)
      dirtyLast: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(pin, { minLength: 1, maxLength: 8 }),
        fc.array(release, { maxLength: 6 }),
        (pins, rels) => {
          const mem = new MachineMemory({ nodes: [{ start: 0, size: 256 * MiB }], seed: 5 });
          ageMemory(mem, { steps: 400 });
          const mm = new AddressSpace(mem, { thp: "madvise" });
          const v = mm.mmap({ kind: "anon", len: PAGES * 4096, hugepage: true });
          const lists: { list: PhyrList; kind: "pin" | "get" }[] = [];
          // Model: outstanding page references per folio and kind, counted page by page.
          const model = new Map<number, { pin: number; get: number }>();
          const count = (
            list: PhyrList,
            kind: "pin" | "get",
            into: Map<number, { pin: number; get: number }>,
          ) =>
            list.forEachEntry((addr, len) => {
              for (let pfn = addr / 4096; pfn < (addr + len) / 4096; pfn++) {
                const id = mem.folios.folioOfPfn(pfn);
                const e = into.get(id) ?? { pin: 0, get: 0 };
                e[kind]++;
                into.set(id, e);
              }
            });
          for (const p of pins) {
            const n = Math.min(p.n, PAGES - p.page);
            const list = pinUserRange(mm, v.start + p.page * 4096, n * 4096, { kind: p.kind });
            lists.push({ list, kind: p.kind });
            count(list, p.kind, model);
          }
          for (const r of rels) {
            // One list made of several pinned lists (repeats release a folio twice).
            const chosen = r.picks.map((i) => lists[i % lists.length]);
            const joined = new PhyrList();
            const dirtyIds = new Set<number>();
            chosen.forEach((c, k) => {
              if (!r.dirtyLast || k < chosen.length - 1) joined.appendList(c.list);
              else {
                c.list.forEachEntry((addr, len, flags, prov) => {
                  joined.append(addr, len, flags | PhyrFlag.DIRTY, prov);
                  for (let pfn = addr / 4096; pfn < (addr + len) / 4096; pfn++)
                    dirtyIds.add(mem.folios.folioOfPfn(pfn));
                });
              }
            });
            const need = new Map<number, { pin: number; get: number }>();
            for (const c of chosen) count(c.list, c.kind, need);
            let ok = true;
            for (const [id, e] of need) {
              const m = model.get(id)!;
              expect([mem.outstanding(id, "pin"), mem.outstanding(id, "get")]).toEqual([m.pin, m.get]);
              if ((e.pin > 0 && e.get > 0) || e.pin > m.pin || e.get > m.get) ok = false;
            }
            const before = mem.digest();
            if (!ok) {
              expect(() => unpinPhyrs(mm, joined, { dirty: r.dirty })).toThrow(PinFailed);
              expect(mem.digest()).toBe(before);
            } else {
              unpinPhyrs(mm, joined, { dirty: r.dirty });
              for (const [id, e] of need) {
                const m = model.get(id)!;
                m.pin -= e.pin;
                m.get -= e.get;
                if (r.dirty || dirtyIds.has(id))
                  expect(mem.folios.flags[id] & FolioFlag.DIRTY).toBe(FolioFlag.DIRTY);
              }
            }
            mem.checkValid();
            // The machine's scratch is left all-zero whether the unpin threw or not.
            expect(mem.folioScratch.count.every((x) => x === 0)).toBe(true);
            expect(mem.folioScratch.mark.every((x) => x === 0)).toBe(true);
          }
          for (const [id, m] of model)
            expect([mem.outstanding(id, "pin"), mem.outstanding(id, "get")]).toEqual([m.pin, m.get]);
        },
      ),
      fcRuns(40),
    );
  });
});

describe("unpinPhyrs's scratch belongs to the machine", () => {
  it("grows only the scratch of the machine the list was pinned on, and leaves it all-zero", () => {
    const a = new MachineMemory({ nodes: [{ start: 0, size: 256 * MiB }], seed: 1 });
    const b = new MachineMemory({ nodes: [{ start: 0, size: 256 * MiB }], seed: 1 });
    const mm = new AddressSpace(a);
    const v = mm.mmap({ kind: "anon", len: 64 * 4096 });
    const list = pinUserRange(mm, v.start, 64 * 4096, { write: true });
    unpinPhyrs(mm, list);
    expect(a.folioScratch.count.length).toBeGreaterThanOrEqual(a.folios.capacity);
    expect(a.folioScratch.count.every((x) => x === 0)).toBe(true);
    expect(b.folioScratch.count.length).toBe(0);
    expect(a.folioScratch).not.toBe(b.folioScratch);
    a.checkValid();
  });
});
