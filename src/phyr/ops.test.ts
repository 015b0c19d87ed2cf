import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { PhyrList, type PhyrListOptions } from "./list.js";
import { coalesce, splitAtBoundary, toPfns } from "./ops.js";
import { refPieces } from "./reference.js";
import type { PhyrEntry, PhyrStoreKind } from "./types.js";

const optsArb: fc.Arbitrary<PhyrListOptions> = fc.record({
  store: fc.constantFrom<PhyrStoreKind>("compact", "wide"),
  chunkCapacity: fc.constantFrom(2, 3, 5, 512),
});

/** Small ranges that often touch each other, so merges and splits happen. */
const entryArb: fc.Arbitrary<PhyrEntry> = fc.record({
  addr: fc.integer({ min: 0, max: 40 }).map((x) => x * 0x800),
  len: fc.constantFrom(1, 0x800, 0x1000, 0x3000, 0x10000),
  flags: fc.constantFrom(0, 1, 17),
  provider: fc.constantFrom(0, 0, 2, 4096),
});

const listArb = fc.tuple(optsArb, fc.array(entryArb, { maxLength: 25 })).map(([opts, entries]) => ({
  list: PhyrList.fromRanges(entries, opts),
  entries,
}));

/**
 * The bytes a device would see, whatever the entry boundaries: page pieces without the entry index,
 * contiguous pieces of one page with equal flags and provider joined.
 */
function bytesOf(entries: readonly PhyrEntry[]): PhyrEntry[] {
  const out: PhyrEntry[] = [];
  for (const { entry: _e, ...p } of refPieces(entries)) {
    const last = out[out.length - 1];
    const samePage = last && Math.floor(last.addr / 4096) === Math.floor(p.addr / 4096);
    if (
      samePage &&
      last.addr + last.len === p.addr &&
      last.flags === p.flags &&
      last.provider === p.provider
    ) {
      last.len += p.len;
    } else out.push(p);
  }
  return out;
}

describe("coalesce", () => {
  test("merges adjacent contiguous entries of one provider and equal flags only", () => {
    const l = PhyrList.fromRanges([
      { addr: 0x1000, len: 0x1000 },
      { addr: 0x2000, len: 0x1000 },
      { addr: 0x3000, len: 0x1000, provider: 1 },
      { addr: 0x4000, len: 0x1000, provider: 1, flags: 16 },
      { addr: 0x5000, len: 0x10 },
      { addr: 0x5010, len: 0x10 },
      { addr: 0x9000, len: 0x10 },
    ]);
    const c = coalesce(l);
    c.checkValid();
    expect(c.toArray()).toEqual([
      { addr: 0x1000, len: 0x2000, flags: 0, provider: 0 },
      { addr: 0x3000, len: 0x1000, flags: 0, provider: 1 },
      { addr: 0x4000, len: 0x1000, flags: 16, provider: 1 },
      { addr: 0x5000, len: 0x20, flags: 0, provider: 0 },
      { addr: 0x9000, len: 0x10, flags: 0, provider: 0 },
    ]);
    expect(coalesce(l, { store: "wide" }).store).toBe("wide");
  });

  test("keeps every byte and leaves no two mergeable neighbours (property)", () => {
    fc.assert(
      fc.property(listArb, ({ list, entries }) => {
        const c = coalesce(list);
        c.checkValid();
        expect(c.store).toBe(list.store);
        const out = c.toArray();
        expect(bytesOf(out)).toEqual(bytesOf(entries));
        for (let i = 1; i < out.length; i++) {
          const a = out[i - 1];
          const b = out[i];
          expect(a.addr + a.len === b.addr && a.flags === b.flags && a.provider === b.provider).toBe(false);
        }
      }),
      fcRuns(150),
    );
  });
});

describe("splitAtBoundary", () => {
  test("splits entries at every multiple of the boundary", () => {
    const l = PhyrList.fromRanges([
      { addr: 0xf000, len: 0x12000, flags: 1, provider: 3 },
      { addr: 0x20000, len: 0x10000 },
    ]);
    const s = splitAtBoundary(l, 0x10000);
    s.checkValid();
    expect(s.toArray()).toEqual([
      { addr: 0xf000, len: 0x1000, flags: 1, provider: 3 },
      { addr: 0x10000, len: 0x10000, flags: 1, provider: 3 },
      { addr: 0x20000, len: 0x1000, flags: 1, provider: 3 },
      { addr: 0x20000, len: 0x10000, flags: 0, provider: 0 },
    ]);
  });

  test("keeps every byte, no entry crosses a boundary, and only boundaries split (property)", () => {
    fc.assert(
      fc.property(listArb, fc.integer({ min: 8, max: 17 }), ({ list, entries }, k) => {
        const boundary = 2 ** k;
        const s = splitAtBoundary(list, boundary);
        s.checkValid();
        const out = s.toArray();
        expect(bytesOf(out)).toEqual(bytesOf(entries));
        for (const e of out)
          expect(Math.floor(e.addr / boundary)).toBe(Math.floor((e.addr + e.len - 1) / boundary));
        const pieces = entries.reduce(
          (n, e) => n + Math.floor((e.addr + e.len - 1) / boundary) - Math.floor(e.addr / boundary) + 1,
          0,
        );
        expect(out.length).toBe(pieces);
      }),
      fcRuns(120),
    );
  });

  test("a boundary of 1 splits every byte", () => {
    const s = splitAtBoundary(PhyrList.fromRanges([{ addr: 0x10, len: 3, flags: 16 }]), 1);
    expect(s.toArray()).toEqual([0x10, 0x11, 0x12].map((addr) => ({ addr, len: 1, flags: 16, provider: 0 })));
  });

  test.each([0, 3, 0x1800, -4096, Number.NaN, 2 ** 53])("rejects boundary %s with RangeError", (b) => {
    expect(() => splitAtBoundary(new PhyrList(), b)).toThrow(RangeError);
  });
});

describe("toPfns", () => {
  test("lists every page each entry touches, in order", () => {
    const l = PhyrList.fromRanges([
      { addr: 0x1ff0, len: 0x20 },
      { addr: 0x5000, len: 0x2000 },
      { addr: 0x1000, len: 1 },
    ]);
    expect([...toPfns(l)]).toEqual([1, 2, 5, 6, 1]);
    expect(toPfns(new PhyrList()).length).toBe(0);
  });

  test("agrees with the page-by-page model (property)", () => {
    fc.assert(
      fc.property(listArb, ({ list, entries }) => {
        expect([...toPfns(list)]).toEqual(refPieces(entries).map((p) => Math.floor(p.addr / 4096)));
      }),
      fcRuns(100),
    );
  });
});
