import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns, GiB, MiB } from "../../test/kit/index.js";
import { MemError } from "../core/index.js";
import {
  folioIsLongtermPinnable,
  folioMigratetype,
  isolatePageblocks,
  undoIsolatePageblocks,
} from "./isolation.js";
import { MachineMemory } from "./memory.js";
import { MigrateType, Zone } from "./types.js";

describe("pageblock isolation (mm/page_isolation.c start_isolate_page_range)", () => {
  it("marks the blocks MIGRATE_ISOLATE, keeps new allocations out, and undo gives the frames back", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: 256 * MiB }] });
    const id = mem.allocFolio(0, { owner: -1 });
    const head = mem.folios.head[id];
    const block = Math.floor((head * 4096) / (4 * MiB)) * 4 * MiB;
    const free0 = mem.freePages;
    isolatePageblocks(mem, block, 4 * MiB);
    mem.checkValid();
    // get_pfnblock_migratetype reports MIGRATE_ISOLATE; folio_is_longterm_pinnable is false for it.
    expect(folioMigratetype(mem, id)).toBe(MigrateType.ISOLATE);
    expect(folioIsLongtermPinnable(mem, id)).toBe(false);
    // The block's 1023 free frames left the allocator.
    expect(mem.freePages).toBe(free0 - 1023);
    for (let i = 0; i < 64; i++) {
      const x = mem.allocFolio(0);
      const p = mem.folios.head[x] * 4096;
      expect(p < block || p >= block + 4 * MiB).toBe(true);
    }
    // A frame freed inside an isolated block stays out of the allocator too.
    const before = mem.freePages;
    mem.putFolio(id);
    expect(mem.freePages).toBe(before);
    mem.checkValid();
    undoIsolatePageblocks(mem, block, 4 * MiB);
    expect(mem.isolatedFree).toEqual([]);
    expect(mem.freePages).toBe(before + 1024);
    mem.checkValid();
  });

  it("refuses bad ranges and double isolation with typed errors, changing nothing", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: 256 * MiB }] });
    isolatePageblocks(mem, 8 * MiB, 8 * MiB);
    const d = mem.digest();
    const cases: [number, number, new (...a: never[]) => Error, RegExp][] = [
      [2 * MiB, 4 * MiB, RangeError, /4 MiB/],
      [0, 0, RangeError, /4 MiB/],
      [512 * MiB, 4 * MiB, RangeError, /System RAM/],
      [12 * MiB, 4 * MiB, MemError, /already isolated/],
    ];
    for (const [start, size, type, re] of cases) {
      expect(() => isolatePageblocks(mem, start, size)).toThrow(type);
      expect(() => isolatePageblocks(mem, start, size)).toThrow(re);
    }
    expect(() => undoIsolatePageblocks(mem, 16 * MiB, 4 * MiB)).toThrow(/not isolated/);
    expect(mem.digest()).toBe(d);
    mem.checkValid();
  });

  it("keeps every frame accounted over random isolate/undo/alloc/free sequences (seeded)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 15 }), fc.nat()), {
          maxLength: 60,
        }),
        (steps) => {
          const mem = new MachineMemory({ nodes: [{ start: 0, size: 64 * MiB }] });
          const held: number[] = [];
          const isolated = new Set<number>();
          for (const [op, block, pick] of steps) {
            const start = block * 4 * MiB;
            if (op === 0 && !isolated.has(block)) {
              isolatePageblocks(mem, start, 4 * MiB);
              isolated.add(block);
            } else if (op === 1 && isolated.has(block)) {
              undoIsolatePageblocks(mem, start, 4 * MiB);
              isolated.delete(block);
            } else if (op === 2) {
              try {
                const id = mem.allocFolio(pick % 4);
                const b = Math.floor(mem.folios.head[id] / 1024);
                // Nothing new lands in an isolated block.
                expect(isolated.has(b)).toBe(false);
                held.push(id);
              } catch (e) {
                expect((e as MemError).code).toBe("NOMEM");
              }
            } else if (held.length > 0) {
              mem.putFolio(held.splice(pick % held.length, 1)[0]);
            }
            mem.checkValid();
          }
          for (const b of isolated) undoIsolatePageblocks(mem, b * 4 * MiB, 4 * MiB);
          for (const id of held) mem.putFolio(id);
          mem.checkValid();
          expect(mem.freePages).toBe(mem.ramPages);
        },
      ),
      fcRuns(40),
    );
  });
});

describe("folio_is_longterm_pinnable (include/linux/mm.h, 7.2)", () => {
  // [where the folio is, expected]: CMA and ISOLATE pageblocks no; ZONE_MOVABLE no; the zero
  // page yes; hugetlb folios follow the same rules (no exemption); NORMAL yes.
  it("follows the kernel's order of checks", () => {
    const mem = new MachineMemory({
      nodes: [{ start: 0, size: 2 * GiB }],
      movable: 256 * MiB,
      cma: 64 * MiB,
      hugetlb: { pages2M: 1, placement: "movable" },
    });
    const normal = mem.allocFolio(0, { movable: false });
    const movable = mem.allocFolio(0, { zones: [Zone.MOVABLE] });
    const cma = mem.allocFolio(0, { cma: true, zones: [Zone.NORMAL, Zone.DMA32] });
    const huge = mem.hugetlbFree["2M"][0];
    const zero = mem.zeroFolioId();
    const rows: [string, number, boolean][] = [
      ["NORMAL", normal, true],
      ["ZONE_MOVABLE", movable, false],
      ["CMA pageblock", cma, false],
      ["hugetlb in ZONE_MOVABLE", huge, false],
      ["zero page", zero, true],
    ];
    for (const [what, id, want] of rows)
      expect([what, folioIsLongtermPinnable(mem, id)]).toEqual([what, want]);
    expect(mem.folios.mt[cma]).toBe(MigrateType.CMA);
    mem.checkValid();
  });
});
