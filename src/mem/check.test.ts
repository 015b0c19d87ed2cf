import { describe, expect, it } from "vitest";
import { MiB } from "../../test/kit/index.js";
import { FolioFlag, MachineMemory, Zone } from "./index.js";

/** A small machine with a few live folios of each kind the checker looks at. */
function setup() {
  const mem = new MachineMemory({
    nodes: [{ start: 0, size: 256 * MiB }],
    hugetlb: { pages2M: 2 },
    seed: 4,
  });
  const small = mem.allocFolio(0, { owner: -1 });
  const large = mem.allocFolio(9, { owner: -1 });
  mem.checkValid();
  return { mem, f: mem.folios, small, large };
}

describe("checkMemory detects each broken invariant", () => {
  // Each row corrupts one field the way a bug would and names the message the checker must give.
  const cases: [string, (s: ReturnType<typeof setup>) => void, RegExp][] = [
    ["a refcount one too high", ({ f, small }) => f.ref[small]++, /refcount 2 but expected 1/],
    [
      "a pin counted without its GUP_PIN_COUNTING_BIAS",
      ({ f, small }) => {
        f.pins[small]++;
        f.ref[small]++;
      },
      /refcount 2 but expected 1025/,
    ],
    [
      "_pincount out of step with the pins of a large folio",
      ({ f, large }) => f.pincount[large]++,
      /_pincount 1 but 0 pins/,
    ],
    [
      "a frame both free and in a folio",
      ({ mem, f, small }) => mem.area(0, Zone.DMA32, false).free(f.head[small], 0),
      /is in both/,
    ],
    [
      "a free count that disagrees with the lists",
      ({ mem }) => mem.area(0, Zone.DMA32, false).freePages++,
      /free count .* but lists hold/,
    ],
    [
      "a frame map entry pointing at the wrong folio",
      ({ f, small, large }) => {
        const head = f.head[small];
        f.sections.get(Math.floor(head / 32768))![head % 32768] = large + 1;
      },
      /does not point back|does not hold it/,
    ],
    [
      "a hugetlb pool listing a folio in use",
      ({ mem }) => {
        const id = mem.hugetlbFree["2M"][0];
        mem.folios.flags[id] = FolioFlag.HUGETLB;
        mem.folios.ref[id] = 1;
      },
      /pool lists folio/,
    ],
    ["online RAM not equal to free + folio frames", ({ mem }) => mem.ramPages++, /online RAM/],
    [
      "a free block outside online RAM",
      ({ mem }) => mem.area(0, Zone.NORMAL, false).addRange(2 ** 24, 1),
      /outside online RAM/,
    ],
    [
      "a misplaced iomem resource",
      ({ mem }) => {
        mem.iomem.root.children[0].end = 2 ** 52;
      },
      /iomem: "System RAM"/,
    ],
  ];
  for (const [name, corrupt, message] of cases) {
    it(`throws for ${name}`, () => {
      const s = setup();
      corrupt(s);
      expect(() => s.mem.checkValid()).toThrow(message);
    });
  }
});

describe("memoryDigest", () => {
  it("is the same for the same seed and steps, and differs for another seed", () => {
    const build = (seed: number) => {
      const mem = new MachineMemory({ nodes: [{ start: 0, size: 64 * MiB }], seed });
      for (let i = 0; i < 50; i++) mem.allocFolio(mem.rng.int(4), { movable: false });
      return mem.digest();
    };
    expect(build(1)).toBe(build(1));
    expect(build(1)).not.toBe(build(2));
  });

  it("changes with every kind of state change and comes back when it is undone", () => {
    const { mem, small, large } = setup();
    const d0 = mem.digest();
    mem.grabFolio(small, 1, "get");
    expect(mem.digest()).not.toBe(d0);
    mem.releaseFolio(small, 1, "get", false);
    expect(mem.digest()).toBe(d0);
    mem.grabFolio(large, 3, "pin");
    expect(mem.digest()).not.toBe(d0);
    mem.releaseFolio(large, 3, "pin", false);
    expect(mem.digest()).toBe(d0);
    mem.releaseFolio(large, 0, "pin", true); // dirty only
    expect(mem.digest()).not.toBe(d0);
    const d1 = mem.digest();
    mem.pfnmapPins.set(3, 1);
    expect(mem.digest()).not.toBe(d1);
    mem.pfnmapPins.clear();
    mem.iomem.insert(2 ** 33, 4096, "Reserved");
    expect(mem.digest()).not.toBe(d1);
  });
});
