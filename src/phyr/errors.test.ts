import { describe, expect, test } from "vitest";
import { PhyrBuilder, phyrFromPfns } from "./build.js";
import { PhyrList } from "./list.js";

/** A list of every store with a few segments and trims, so failed calls have state to preserve. */
function sample(store: "compact" | "wide"): PhyrList {
  const l = PhyrList.fromRanges(
    [
      { addr: 0x1000, len: 0x3000, flags: 1 },
      { addr: 0x10000, len: 0x800, provider: 5000 },
      { addr: 0x20000, len: 0x1000 },
    ],
    { store, chunkCapacity: 2 },
  );
  return l.concat(l.slice(0x100, 0x1000));
}

function snapshot(l: PhyrList) {
  return { entries: l.toArray(), nents: l.nents, totalBytes: l.totalBytes, byteSize: l.byteSize };
}

const P52 = 2 ** 52;

describe.each(["compact", "wide"] as const)("bad input on a %s list", (store) => {
  test.each([
    ["NaN address", Number.NaN, 0x1000, 0, 0, RangeError, /entry address NaN is invalid/],
    ["negative address", -1, 0x1000, 0, 0, RangeError, /entry address -1 is invalid/],
    ["fractional address", 1.5, 0x1000, 0, 0, RangeError, /entry address 1.5 is invalid/],
    ["address 2^52", P52, 1, 0, 0, RangeError, /entry address 0x10000000000000 is invalid/],
    ["zero length", 0x1000, 0, 0, 0, RangeError, /entry length 0x0 is invalid/],
    ["negative length", 0x1000, -4096, 0, 0, RangeError, /entry length -4096 is invalid/],
    ["range ending beyond 2^52", P52 - 0x1000, 0x2000, 0, 0, RangeError, /ends beyond 2\^52/],
    ["unknown flag bit", 0x1000, 0x1000, 32, 0, RangeError, /entry flags 0x20 is invalid/],
    ["PINNED and REF", 0x1000, 0x1000, 3, 0, RangeError, /entry flags 0x3 is invalid: PINNED and REF/],
    ["fractional flags", 0x1000, 0x1000, 0.5, 0, RangeError, /entry flags 0.5/],
    ["provider above 0xffff", 0x1000, 0x1000, 0, 0x10000, RangeError, /entry provider 65536 is invalid/],
    ["negative provider", 0x1000, 0x1000, 0, -1, RangeError, /entry provider -1 is invalid/],
  ])("append() rejects %s and leaves the list unchanged", (_n, addr, len, flags, provider, type, message) => {
    const l = sample(store);
    const before = snapshot(l);
    expect(() => l.append(addr, len, flags, provider)).toThrow(type);
    expect(() => l.append(addr, len, flags, provider)).toThrow(message);
    l.checkValid();
    expect(snapshot(l)).toEqual(before);
    const b = new PhyrBuilder({ store, merge: true }).add(0x1000, 0x1000);
    expect(() => b.add(addr, len, flags, provider)).toThrow(type);
    expect(b.finish().toArray()).toEqual([{ addr: 0x1000, len: 0x1000, flags: 0, provider: 0 }]);
  });

  test.each([
    [-1, 0x10, /slice offset -1 is invalid/],
    [0.5, 0x10, /slice offset 0.5 is invalid/],
    [Number.NaN, 0x10, /slice offset NaN/],
    [0, -1, /slice length -1 is invalid/],
    [0, 0x5801, /slice 0x0\+0x5801 is out of bounds: the list has 0x5800 bytes/],
    [0x5800, 1, /slice 0x5800\+0x1 is out of bounds/],
    [0x5801, 0, /slice 0x5801\+0x0 is out of bounds/],
  ])("slice(%s, %s) throws RangeError and leaves the list unchanged", (off, len, message) => {
    const l = sample(store);
    const before = snapshot(l);
    expect(() => l.slice(off, len)).toThrow(RangeError);
    expect(() => l.slice(off, len)).toThrow(message);
    expect(snapshot(l)).toEqual(before);
    expect(l.slice(0x5800, 0).nents).toBe(0);
  });

  test.each([-1, 5, 0.5, Number.NaN])("entry(%s) and the accessors throw RangeError", (i) => {
    const l = sample(store);
    expect(() => l.entry(i)).toThrow(RangeError);
    expect(() => l.addrAt(i)).toThrow(RangeError);
    expect(() => l.lenAt(i)).toThrow(RangeError);
    expect(() => l.flagsAt(i)).toThrow(RangeError);
    expect(() => l.providerAt(i)).toThrow(RangeError);
  });

  test("appendList() and concat() reject another store or a non-list with TypeError, list unchanged", () => {
    const l = sample(store);
    const before = snapshot(l);
    const other = sample(store === "wide" ? "compact" : "wide");
    expect(() => l.appendList(other)).toThrow(TypeError);
    expect(() => l.concat(other)).toThrow(/cannot join a/);
    expect(() => l.appendList({} as PhyrList)).toThrow(/not a PhyrList/);
    expect(snapshot(l)).toEqual(before);
  });

  test("totalBytes stays below 2^53: append and appendList beyond it throw RangeError, list unchanged", () => {
    const l = new PhyrList({ store });
    l.append(0, P52);
    l.append(0, P52 - 1);
    const before = snapshot(l);
    expect(() => l.append(0, 1)).toThrow(/totalBytes would exceed 2\^53 - 1/);
    expect(() => l.appendList(l)).toThrow(RangeError);
    expect(snapshot(l)).toEqual(before);
    l.checkValid();
  });
});

describe("bad options", () => {
  test.each([
    [{ store: "dense" }, TypeError, /store "dense" is invalid/],
    [{ chunkCapacity: 1 }, RangeError, /chunkCapacity 1 is invalid/],
    [{ chunkCapacity: 2.5 }, RangeError, /chunkCapacity 2.5 is invalid/],
    [{ chunkCapacity: Number.NaN }, RangeError, /chunkCapacity NaN/],
  ])("new PhyrList(%j) throws", (opts, type, message) => {
    expect(() => new PhyrList(opts as never)).toThrow(type);
    expect(() => new PhyrList(opts as never)).toThrow(message);
  });

  test("fromRanges() rejects a non-object item with TypeError and a bad value with RangeError", () => {
    expect(() => PhyrList.fromRanges([null as never])).toThrow(TypeError);
    expect(() => PhyrList.fromRanges([{ addr: 0, len: 0 }])).toThrow(/entry length 0x0 is invalid/);
  });

  test.each([
    ["a NaN pfn", [1, Number.NaN], {}, /pfn\[1\] NaN is invalid/],
    ["a negative pfn", [-1], {}, /pfn\[0\] -1 is invalid/],
    ["a fractional pfn", [1, 2.5], {}, /pfn\[1\] 2.5 is invalid/],
    ["a pfn of 2^40", [2 ** 40], {}, /pfn\[0\] 0x10000000000 is invalid/],
    ["a run reaching 2^40", [2 ** 40 - 1, 2 ** 40], {}, /pfn\[1\] 0x10000000000 is invalid/],
    ["maxSegment below a page", [1], { maxSegment: 4095 }, /maxSegment 0xfff is invalid/],
    ["segBoundaryMask not 2^k-1", [1], { segBoundaryMask: 0x1000 }, /segBoundaryMask 4096 is invalid/],
    ["segBoundaryMask below a page", [1], { segBoundaryMask: 0x7ff }, /segBoundaryMask 2047 is invalid/],
    ["firstOffset of a page", [1], { firstOffset: 4096 }, /firstOffset 0x1000 is invalid/],
    [
      "totalBytes leaving the last page unused",
      [1, 2],
      { totalBytes: 0x1000 },
      /totalBytes 0x1000 is invalid/,
    ],
    [
      "totalBytes beyond the pages",
      [1, 2],
      { firstOffset: 1, totalBytes: 0x2000 },
      /totalBytes 0x2000 is invalid/,
    ],
    ["totalBytes for no pages", [], { totalBytes: 1 }, /totalBytes 0x1 is invalid/],
    ["bad flags", [1], { flags: 3 }, /flags 0x3 is invalid/],
    ["bad provider", [1], { provider: 0x10000 }, /provider 65536 is invalid/],
    [
      "a provider function returning a bad value",
      [1, 2],
      { provider: (p: number) => p * 1e5 },
      /provider\(0x1\) 100000 is invalid/,
    ],
  ])("phyrFromPfns() rejects %s with RangeError", (_n, pfns, opts, message) => {
    expect(() => phyrFromPfns(pfns, opts)).toThrow(RangeError);
    expect(() => phyrFromPfns(pfns, opts)).toThrow(message);
  });
});
