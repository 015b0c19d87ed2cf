import { expect, test } from "vitest";
import { coalesce, PhyrFlag, PhyrList, phyrFromPfns, splitAtBoundary } from "./index.js";

// Each case runs the @example of the named export exactly as documented.

test("the PhyrList example behaves as documented", () => {
  const list = new PhyrList();
  list.append(0x1000, 0x3000, PhyrFlag.PINNED);
  list.append(0x200000, 0x200000, PhyrFlag.PINNED);
  list.checkValid();
  expect(list.nents).toBe(2);
  expect(list.totalBytes).toBe(0x203000);
  expect(list.slice(0x2000, 0x2000).toArray()).toEqual([
    { addr: 0x3000, len: 0x1000, flags: 1, provider: 0 },
    { addr: 0x200000, len: 0x1000, flags: 1, provider: 0 },
  ]);
  const c = list.cursor();
  c.advance(0x3800);
  expect([c.index, c.offset, c.addr]).toEqual([1, 0x800, 0x200800]);
});

test("the phyrFromPfns example behaves as documented", () => {
  expect(phyrFromPfns([1, 2, 3, 10], { firstOffset: 0x10 }).toArray()).toEqual([
    { addr: 0x1010, len: 0x2ff0, flags: 0, provider: 0 },
    { addr: 0xa000, len: 0x1000, flags: 0, provider: 0 },
  ]);
});

test("the coalesce and splitAtBoundary examples behave as documented", () => {
  expect(
    coalesce(
      PhyrList.fromRanges([
        { addr: 0, len: 0x1000 },
        { addr: 0x1000, len: 0x1000 },
      ]),
    ).toArray(),
  ).toEqual([{ addr: 0, len: 0x2000, flags: 0, provider: 0 }]);
  expect(splitAtBoundary(PhyrList.fromRanges([{ addr: 0xf000, len: 0x2000 }]), 0x10000).toArray()).toEqual([
    { addr: 0xf000, len: 0x1000, flags: 0, provider: 0 },
    { addr: 0x10000, len: 0x1000, flags: 0, provider: 0 },
  ]);
});
