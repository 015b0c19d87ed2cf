import { describe, expect, it } from "vitest";
import { MiB } from "../../test/kit/index.js";
import { MachineMemory } from "../mem/index.js";
import { AddressSpace, PteFlag, ptePfn } from "./index.js";

const BAR = 0x380000000;

function setup() {
  const mem = new MachineMemory({ nodes: [{ start: 0, size: 256 * MiB }], hugetlb: { pages2M: 1 } });
  const mm = new AddressSpace(mem, { thp: "never" });
  const anon = mm.mmap({ kind: "anon", len: 8 * 4096 });
  const ro = mm.mmap({ kind: "anon", len: 4096, write: false });
  const bar = mm.mmap({ kind: "pfnmap", len: 4 * 4096, phys: BAR, provider: 1 });
  const huge = mm.mmap({ kind: "hugetlb", len: 2 * MiB });
  mm.populate(anon.start, 8 * 4096, true);
  mm.populate(ro.start, 4096);
  mm.populate(bar.start, 4 * 4096);
  mm.populate(huge.start, 2 * MiB);
  mm.checkValid();
  return { mem, mm, anon, ro, bar, huge };
}

describe("checkAddressSpace detects each broken invariant", () => {
  const cases: [string, (s: ReturnType<typeof setup>) => void, RegExp][] = [
    [
      "a leaf outside every VMA",
      ({ mm, anon }) => mm.pt.set(anon.start - 4096, 4096, 5, PteFlag.PRESENT),
      /is not inside one VMA/,
    ],
    [
      "a writable leaf in a read-only VMA",
      ({ mm, ro }) => {
        const e = mm.pt.lookup(ro.start);
        mm.pt.replace(ro.start, ptePfn(e), PteFlag.PRESENT | PteFlag.WRITE);
      },
      /writable in a read-only VMA/,
    ],
    [
      "a PFNMAP leaf at the wrong BAR frame",
      ({ mm, bar }) => mm.pt.replace(bar.start, BAR / 4096 + 1, PteFlag.PRESENT | PteFlag.SPECIAL),
      /PFNMAP leaf maps pfn 0x380001, expected 0x380000/,
    ],
    [
      "an anonymous page mapped at a frame no folio holds",
      ({ mm, anon }) => mm.pt.replace(anon.start, 60000, PteFlag.PRESENT | PteFlag.WRITE),
      /belongs to no folio/,
    ],
    [
      "an owned folio mapped twice",
      ({ mm, anon }) => {
        const e = mm.pt.lookup(anon.start);
        mm.pt.replace(anon.start + 4096, ptePfn(e), PteFlag.PRESENT | PteFlag.WRITE);
      },
      /not mapped whole at its index/,
    ],
    [
      "a mapcount out of step",
      ({ mem, mm, anon }) => mem.addMapping(mem.folios.folioOfPfn(ptePfn(mm.pt.lookup(anon.start)))),
      /mapped 1 time\(s\), mapcount 2/,
    ],
    [
      "a non-present entry that is not device-private",
      ({ mm, anon }) => {
        const e = mm.pt.lookup(anon.start);
        mm.pt.replace(anon.start, ptePfn(e), PteFlag.WRITE);
      },
      /neither present nor device-private/,
    ],
    [
      "overlapping VMAs",
      ({ mm, anon }) => {
        (mm.vmas as { start: number }[])[1].start = anon.start;
      },
      /overlaps its predecessor/,
    ],
  ];
  for (const [name, corrupt, message] of cases) {
    it(`throws for ${name}`, () => {
      const s = setup();
      corrupt(s);
      expect(() => s.mm.checkValid()).toThrow(message);
    });
  }

  it("the digest changes with a leaf and comes back when it is restored", () => {
    const { mm, anon } = setup();
    const d = mm.digest();
    const e = mm.pt.lookup(anon.start);
    mm.pt.replace(anon.start, ptePfn(e), PteFlag.PRESENT);
    expect(mm.digest()).not.toBe(d);
    mm.pt.replace(anon.start, ptePfn(e), PteFlag.PRESENT | PteFlag.WRITE);
    expect(mm.digest()).toBe(d);
  });
});
