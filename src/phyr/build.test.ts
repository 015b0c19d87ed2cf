import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import {
  countRuns,
  type FromPfnsOptions,
  PFN_CHUNK_CAPACITY_MAX,
  PhyrBuilder,
  pfnChunkCapacity,
  phyrFromPfns,
} from "./build.js";
import { listWriter, type PhyrListOptions } from "./list.js";
import { toPfns } from "./ops.js";
import { type RefPfnOptions, refFromPfns } from "./reference.js";
import type { PhyrEntry, PhyrStoreKind } from "./types.js";

const optsArb: fc.Arbitrary<PhyrListOptions> = fc.record({
  store: fc.constantFrom<PhyrStoreKind>("compact", "wide"),
  chunkCapacity: fc.constantFrom(2, 3, 4, 5, 512),
});

/** PFN arrays made of runs: aligned and unaligned starts, some near 2^40, some repeated pages. */
const pfnsArb = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.integer({ min: 0, max: 4096 }),
        fc.integer({ min: 0, max: 2 ** 18 }).map((x) => x * 512),
        fc.integer({ min: 0, max: 2 ** 20 }).map((x) => 2 ** 40 - 64 - x * 64),
        fc.integer({ min: 0, max: 96 }).map((x) => 2 ** 32 - 48 + x),
        fc.integer({ min: 0, max: 96 }).map((x) => 2 ** 31 - 48 + x),
      ),
      fc.integer({ min: 1, max: 40 }),
    ),
    { minLength: 1, maxLength: 12 },
  )
  .map((runs) => runs.flatMap(([s, n]) => Array.from({ length: n }, (_, i) => s + i)));

const providers: Record<string, ((pfn: number) => number) | undefined> = {
  none: undefined,
  banded: (pfn) => Math.floor(pfn / 8) % 3,
  wide: (pfn) => (Math.floor(pfn / 5) % 2 === 0 ? 0 : 0x1234),
};

function expectEntries(list: { toArray(): PhyrEntry[]; checkValid(): void }, want: PhyrEntry[]): void {
  list.checkValid();
  expect(list.toArray()).toEqual(want);
}

describe("phyrFromPfns", () => {
  test("merges consecutive PFNs: [1, 2, 3, 10] gives 2 entries", () => {
    for (const store of ["compact", "wide"] as const) {
      expectEntries(phyrFromPfns([1, 2, 3, 10], { store }), [
        { addr: 0x1000, len: 0x3000, flags: 0, provider: 0 },
        { addr: 0xa000, len: 0x1000, flags: 0, provider: 0 },
      ]);
    }
  });

  test("maxSegment splits a run into whole-page entries no larger than it (rounded down to PAGE_SIZE)", () => {
    const gib = Float64Array.from({ length: 2 ** 18 }, (_, i) => 0x40000 + i);
    // 1 GiB < 0xFFFFF000: one entry
    expect(phyrFromPfns(gib, { maxSegment: 0xfffff000 }).nents).toBe(1);
    // 256 MiB: 4 entries of 0x10000000
    const quarters = phyrFromPfns(gib, { maxSegment: 0x10000000 });
    expect(quarters.toArray().map((e) => e.len)).toEqual([0x10000000, 0x10000000, 0x10000000, 0x10000000]);
    // 0x12345 rounds down to 0x12000 = 18 pages: 2^18 = 14563 * 18 + 10
    const odd = phyrFromPfns(gib, { maxSegment: 0x12345, store: "wide" });
    odd.checkValid();
    expect(odd.nents).toBe(14564);
    expect(odd.lenAt(0)).toBe(0x12000);
    expect(odd.lenAt(14563)).toBe(10 * 4096);
    // 8 GiB = 2^21 pages, max 0xFFFFF000 = 0xFFFFF pages: 0xFFFFF + 0xFFFFF + 2 pages
    const run8g = new Uint32Array(2 ** 21).map((_, i) => 0x200000 + i);
    const big = phyrFromPfns(run8g, { maxSegment: 0xfffff000 });
    expect(big.toArray().map((e) => e.len)).toEqual([0xfffff000, 0xfffff000, 0x2000]);
    expect(big.addrAt(2)).toBe((0x200000 + 2 * 0xfffff) * 4096);
  });

  test("segBoundaryMask 0xffff splits a run crossing 64 KiB", () => {
    expectEntries(phyrFromPfns([14, 15, 16, 17], { segBoundaryMask: 0xffff }), [
      { addr: 0xe000, len: 0x2000, flags: 0, provider: 0 },
      { addr: 0x10000, len: 0x2000, flags: 0, provider: 0 },
    ]);
    expect(phyrFromPfns([14, 15, 16, 17], { segBoundaryMask: 0xfffff }).nents).toBe(1);
  });

  test("a provider change breaks a run", () => {
    expectEntries(phyrFromPfns([0, 1, 2, 3], { provider: (p) => (p < 2 ? 0 : 7), flags: 1 }), [
      { addr: 0, len: 0x2000, flags: 1, provider: 0 },
      { addr: 0x2000, len: 0x2000, flags: 1, provider: 7 },
    ]);
    expect(phyrFromPfns([0, 1, 2, 3], { provider: 9 }).toArray()).toEqual([
      { addr: 0, len: 0x4000, flags: 0, provider: 9 },
    ]);
  });

  test("firstOffset trims the first page and totalBytes the last", () => {
    expectEntries(phyrFromPfns([5, 6, 7], { firstOffset: 0x100, totalBytes: 0x2000 }), [
      { addr: 0x5100, len: 0x2000, flags: 0, provider: 0 },
    ]);
    expectEntries(phyrFromPfns([5, 9, 10], { firstOffset: 0x100, totalBytes: 0x2000, store: "wide" }), [
      { addr: 0x5100, len: 0xf00, flags: 0, provider: 0 },
      { addr: 0x9000, len: 0x1100, flags: 0, provider: 0 },
    ]);
    expectEntries(phyrFromPfns([3], { firstOffset: 0xfff, totalBytes: 1 }), [
      { addr: 0x3fff, len: 1, flags: 0, provider: 0 },
    ]);
    expect(phyrFromPfns([]).nents).toBe(0);
    // appending to a tail-trimmed list opens a new segment in the same chunk
    const l = phyrFromPfns([5, 6, 7], { totalBytes: 0x2800 });
    l.append(0x9000, 0x1000);
    l.checkValid();
    const segs = listWriter().segments(l);
    expect(segs.length).toBe(2);
    expect(segs[1].chunk).toBe(segs[0].chunk);
    expect(l.toArray()).toEqual([
      { addr: 0x5000, len: 0x2800, flags: 0, provider: 0 },
      { addr: 0x9000, len: 0x1000, flags: 0, provider: 0 },
    ]);
  });

  test("a Uint32Array run is cut where the frame would wrap past 2^32 - 1", () => {
    // 0xfffffffe, 0xffffffff are one run (2 pages at 0xfffffffe000); 0, 1 start a new one at 0.
    expectEntries(phyrFromPfns(Uint32Array.of(0xfffffffe, 0xffffffff, 0, 1)), [
      { addr: 0xfffffffe000, len: 0x2000, flags: 0, provider: 0 },
      { addr: 0, len: 0x2000, flags: 0, provider: 0 },
    ]);
    // Same across the 8-PFN step: 20 pages up to 0xffffffff, then 12 from 0.
    const pfns = Array.from({ length: 32 }, (_, i) => (0xffffffec + i) % 2 ** 32);
    expectEntries(phyrFromPfns(Uint32Array.from(pfns)), [
      { addr: 0xffffffec000, len: 20 * 0x1000, flags: 0, provider: 0 },
      { addr: 0, len: 12 * 0x1000, flags: 0, provider: 0 },
    ]);
  });

  test("a Uint32Array run breaks at any PFN that does not continue it, at every position of the 8-PFN step", () => {
    // A 40-page run from `base` with pfn[k] changed (by +-1, by the high bit, or to the previous
    // value): the page-by-page model says where the entries fall.
    for (const base of [0, 64, 0x7ffffff0, 0xffffff00 - 40]) {
      for (let k = 1; k < 40; k++) {
        for (const change of [1, -1, 0x80000000, -k]) {
          const pfns = Array.from({ length: 40 }, (_, i) => base + i);
          pfns[k] = (((pfns[k] + change) % 2 ** 32) + 2 ** 32) % 2 ** 32;
          const list = phyrFromPfns(Uint32Array.from(pfns), { chunkCapacity: 3 });
          expectEntries(list, refFromPfns(pfns));
        }
      }
    }
  });

  test.each([
    [0, 512],
    [1 << 18, 1024], // 2^18 / 256 = 1024
    [300000, 1024], // 300000 / 256 = 1171.9, largest power of two below: 1024
    [1 << 20, 4096],
    [1 << 24, 8192], // 65536, capped at 8192
  ])("pfnChunkCapacity(%i) = %i", (n, want) => {
    expect(pfnChunkCapacity(n)).toBe(want);
    expect(pfnChunkCapacity(n)).toBeLessThanOrEqual(PFN_CHUNK_CAPACITY_MAX);
  });

  test("chunkCapacity defaults to pfnChunkCapacity(pfns.length); an explicit one is kept", () => {
    const pfns = new Uint32Array(1 << 18).map((_, i) => i);
    const list = phyrFromPfns(pfns);
    expect(list.chunkCapacity).toBe(1024);
    expect(list.toArray()).toEqual([{ addr: 0, len: 2 ** 30, flags: 0, provider: 0 }]);
    list.checkValid();
    expect(phyrFromPfns(pfns, { chunkCapacity: 16 }).chunkCapacity).toBe(16);
  });

  test("agrees with the page-by-page sg_alloc_table_from_pages model for random PFNs and options", () => {
    fc.assert(
      fc.property(
        optsArb,
        pfnsArb,
        fc.constantFrom(...Object.keys(providers)),
        fc.option(fc.integer({ min: 1, max: 9 }).map((n) => n * 4096 + 5)),
        fc.option(fc.integer({ min: 12, max: 18 }).map((k) => 2 ** k - 1)),
        fc.integer({ min: 0, max: 4095 }),
        fc.nat(),
        fc.constantFrom(0, 1, 2, 17),
        (opts, pfns, provName, maxSegment, segBoundaryMask, firstOffset, cut, flags) => {
          const full = pfns.length * 4096 - firstOffset;
          const totalBytes = full - (cut % 4096);
          const o: RefPfnOptions = { flags, firstOffset, totalBytes, provider: providers[provName] };
          if (maxSegment !== null) o.maxSegment = maxSegment;
          if (segBoundaryMask !== null) o.segBoundaryMask = segBoundaryMask;
          const list = phyrFromPfns(pfns, { ...opts, ...o } as FromPfnsOptions);
          const want = refFromPfns(pfns, o);
          expectEntries(list, want);
          expect([...toPfns(list)]).toEqual(pfns);
          // appending after the trimmed last entry keeps the trim on it (a new segment starts)
          const view = list.slice(0, list.totalBytes);
          list.append(0x5000, 0x10, 2, 4096);
          expectEntries(list, [...want, { addr: 0x5000, len: 0x10, flags: 2, provider: 4096 }]);
          expectEntries(view, want);
          const low = pfns.filter((p) => p < 2 ** 32);
          expectEntries(phyrFromPfns(Uint32Array.from(low), { ...opts, flags }), refFromPfns(low, { flags }));
          expectEntries(
            phyrFromPfns(Float64Array.from(pfns), { ...opts, flags }),
            refFromPfns(pfns, { flags }),
          );
        },
      ),
      fcRuns(200),
    );
  });
});

describe("countRuns", () => {
  test.each([
    [[], 0],
    [[5], 1],
    [[1, 2, 3, 10], 2],
    [[3, 2, 1], 3],
    [[1, 1], 2],
    [[7, 8, 9, 10], 1],
  ])("countRuns(%j) = %i", (pfns, want) => {
    expect(countRuns(pfns)).toBe(want);
    expect(countRuns(Float64Array.from(pfns))).toBe(want);
  });

  test("counts as many runs as phyrFromPfns makes entries without split limits", () => {
    fc.assert(
      fc.property(pfnsArb, (pfns) => {
        expect(countRuns(pfns)).toBe(phyrFromPfns(pfns).nents);
      }),
      fcRuns(100),
    );
  });
});

describe("PhyrBuilder", () => {
  const entryArb = fc.record({
    addr: fc.integer({ min: 0, max: 64 }).map((x) => x * 0x800),
    len: fc.constantFrom(0x800, 0x1000, 0x1800, 5),
    flags: fc.constantFrom(0, 1, 16),
    provider: fc.constantFrom(0, 0, 3, 5000),
  });

  test("with merge, physically contiguous entries of equal flags and provider merge, others stay apart", () => {
    fc.assert(
      fc.property(optsArb, fc.array(entryArb, { maxLength: 30 }), (opts, entries) => {
        const want: PhyrEntry[] = [];
        for (const e of entries) {
          const last = want[want.length - 1];
          if (
            last &&
            last.addr + last.len === e.addr &&
            last.flags === e.flags &&
            last.provider === e.provider
          ) {
            last.len += e.len;
          } else want.push({ ...e });
        }
        const b = new PhyrBuilder({ ...opts, merge: true });
        for (const e of entries) b.add(e.addr, e.len, e.flags, e.provider);
        expect(b.nents).toBe(want.length);
        expectEntries(b.finish(), want);
        const plain = new PhyrBuilder(opts);
        for (const e of entries) plain.add(e.addr, e.len, e.flags, e.provider);
        expectEntries(plain.finish(), entries);
      }),
      fcRuns(150),
    );
  });

  test("finish() hands over the list and starts an empty one", () => {
    const b = new PhyrBuilder({ merge: true }).add(0, 0x1000).add(0x1000, 0x1000);
    const first = b.finish();
    expect(first.toArray()).toEqual([{ addr: 0, len: 0x2000, flags: 0, provider: 0 }]);
    expect(b.finish().nents).toBe(0);
    b.add(0x5000, 1);
    expect(b.finish().nents).toBe(1);
    expect(first.nents).toBe(1);
  });
});
