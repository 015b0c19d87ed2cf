import { describe, expect, it } from "vitest";
import { PageTable, PteFlag, ptePfn } from "./pagetable.js";

const P = PteFlag.PRESENT | PteFlag.WRITE;

describe("PageTable.leafEntries", () => {
  it("returns the leaf's table and index, so consecutive leaves are read without a walk", () => {
    const pt = new PageTable();
    // 4 KiB leaves at 0x7f0000000000 + k * 4 KiB for k = 510, 511 (end of one PTE table) and 512
    // (first entry of the next PTE table); a 2 MiB leaf at 0x7f0000400000; a 1 GiB leaf at 0x40000000.
    const base = 0x7f0000000000;
    for (const k of [510, 511, 512]) pt.set(base + k * 4096, 4096, 100 + k, P);
    pt.set(base + 0x400000, 0x200000, 0x400, P);
    pt.set(0x40000000, 0x40000000, 0x40000, P);

    const t = pt.leafEntries(base + 510 * 4096)!;
    // PTE index of 0x7f00001fe000 = (va / 4 KiB) % 512 = 510.
    expect([pt.lastIndex, pt.lastSize, pt.lastBase]).toEqual([510, 4096, base + 510 * 4096]);
    expect(ptePfn(t[510])).toBe(610);
    expect(ptePfn(t[511])).toBe(611);
    // Entry 512 is in the next table: a new walk finds it at index 0.
    const t2 = pt.leafEntries(base + 512 * 4096)!;
    expect(t2).not.toBe(t);
    expect([pt.lastIndex, ptePfn(t2[0])]).toEqual([0, 612]);

    // PMD index of 0x7f0000400000 = (va / 2 MiB) % 512 = 2; the entry is a leaf (HUGE).
    const pmd = pt.leafEntries(base + 0x400000 + 0x1234)!;
    expect([pt.lastIndex, pt.lastSize, pt.lastBase]).toEqual([2, 0x200000, base + 0x400000]);
    expect(pmd[2]).toBe(pt.lookup(base + 0x400000));
    expect((pmd[2] % 64) & PteFlag.HUGE).toBe(PteFlag.HUGE);
    // Entry 0 of that PMD table is the PTE table above: 0 in the entries (a child, not a leaf).
    expect(pmd[0]).toBe(0);

    // PUD index of 1 GiB = 1.
    const pud = pt.leafEntries(0x40000000 + 0x5000)!;
    expect([pt.lastIndex, pt.lastSize, pt.lastBase, ptePfn(pud[1])]).toEqual([
      1,
      2 ** 30,
      0x40000000,
      0x40000,
    ]);
  });

  it("returns undefined for a hole and sets lastSize to 0", () => {
    const pt = new PageTable();
    pt.set(0x1000, 4096, 5, P);
    expect(pt.leafEntries(0x2000)).toBeUndefined();
    expect(pt.lastSize).toBe(0);
    expect(pt.leafEntries(0x80000000)).toBeUndefined();
  });
});
