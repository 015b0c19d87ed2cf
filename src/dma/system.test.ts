import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns, GiB } from "../../test/kit/index.js";
import { hotAddMemory, hotRemoveMemory, MachineMemory } from "../mem/index.js";
import { PhyrList } from "../phyr/index.js";
import { dmaMap } from "./map.js";
import { identityPass } from "./plan.js";
import { DmaSystem, RangeClass } from "./system.js";
import { dmaUnmap } from "./unmap.js";

const SEC = 2 ** 27;
/** Two 1 GiB nodes 512 GiB apart: their sections share the classify cache's slots (nr mod 4096). */
const BASES = [GiB, GiB + 512 * GiB];

function machine(): { sys: DmaSystem; mem: MachineMemory } {
  const mem = new MachineMemory({ nodes: BASES.map((start) => ({ start, size: GiB })) });
  return { sys: new DmaSystem({ memory: mem }), mem };
}

/** Section starts of both nodes: 8 per node. */
const SECTIONS = BASES.flatMap((b) => Array.from({ length: 8 }, (_, i) => b + i * SEC));

type Op = { kind: "toggle"; sec: number } | { kind: "classify"; sec: number; off: number; len: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("toggle" as const), sec: fc.nat(SECTIONS.length - 1) }),
  fc.record({
    kind: fc.constant("classify" as const),
    sec: fc.nat(SECTIONS.length - 1),
    off: fc.nat(SEC - 1),
    // up to two sections long, so a range may reach into the next (maybe absent) section
    len: fc.integer({ min: 1, max: 2 * SEC }),
  }),
);

describe("DmaSystem.classify", () => {
  it("agrees with a section-by-section model through hot-remove and hot-add of cached sections", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => {
        const { sys, mem } = machine();
        const present = new Set(SECTIONS);
        for (const op of ops) {
          const start = SECTIONS[op.sec];
          if (op.kind === "toggle") {
            if (present.has(start)) {
              hotRemoveMemory(mem, start, SEC);
              present.delete(start);
            } else {
              hotAddMemory(mem, start, SEC);
              present.add(start);
            }
            continue;
          }
          const addr = start + op.off;
          // Model: RAM when every section the range touches is present.
          let ram = true;
          for (let s = Math.floor(addr / SEC); s <= Math.floor((addr + op.len - 1) / SEC); s++) {
            if (!present.has(s * SEC)) ram = false;
          }
          expect(sys.isRam(addr, op.len)).toBe(ram);
          expect(sys.classify(addr, op.len)).toBe(ram ? RangeClass.MEMORY : RangeClass.NONE);
          // asked twice: the second answer comes from the cache
          expect(sys.isRam(addr, op.len)).toBe(ram);
        }
      }),
      fcRuns(60),
    );
  });

  it("a section removed after its range was mapped once is no longer identity-mapped", () => {
    const { sys, mem } = machine();
    const dev = sys.addDevice({ name: "0000:01:00.0" });
    const list = PhyrList.fromRanges([
      { addr: GiB + 3 * SEC + 0x1000, len: 0x1000 },
      { addr: GiB + 5 * SEC, len: 0x200000 },
    ]);
    expect(identityPass(sys, dev, list)).toBe(true);
    const m = dmaMap(sys, dev, list);
    expect(m).toBe(list);
    dmaUnmap(sys, dev, m);
    hotRemoveMemory(mem, GiB + 5 * SEC, SEC);
    expect(identityPass(sys, dev, list)).toBe(false);
    expect(() => dmaMap(sys, dev, list)).toThrow(/entry 1 is in no RAM and no BAR/);
    hotAddMemory(mem, GiB + 5 * SEC, SEC);
    expect(identityPass(sys, dev, list)).toBe(true);
  });
});
