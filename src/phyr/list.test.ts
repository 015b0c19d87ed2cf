import fc from "fast-check";
import { describe, expect, it, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { PhyrList, type PhyrListOptions } from "./list.js";
import { refAt, refPageCount, refPieces, refSlice, refTotal } from "./reference.js";
import { type PhyrEntry, PhyrFlag, type PhyrStoreKind } from "./types.js";

const P52 = 2 ** 52;

/** Integers up to 2^52 from two draws (fc.integer stops at 2^31). */
const big = (maxHi: number) =>
  fc
    .tuple(fc.integer({ min: 0, max: maxHi }), fc.integer({ min: 0, max: 2 ** 26 - 1 }))
    .map(([h, l]) => h * 2 ** 26 + l);

const rangeArb: fc.Arbitrary<{ addr: number; len: number }> = fc.oneof(
  // naturally aligned page chunk (mode 00)
  fc
    .tuple(fc.integer({ min: 0, max: 2 ** 20 }), fc.integer({ min: 0, max: 20 }))
    .map(([f, o]) => ({ addr: f * 2 ** (o + 12), len: 2 ** (o + 12) })),
  // any page run (mode 01)
  fc
    .tuple(
      fc.integer({ min: 0, max: 2 ** 30 }),
      fc.integer({ min: 0, max: 9 }),
      fc.integer({ min: 1, max: 2000 }),
    )
    .map(([f, o, n]) => ({ addr: f * 2 ** (o + 12), len: n * 4096 })),
  // byte-granular (mode 10)
  fc.tuple(big(2 ** 26 - 1), fc.integer({ min: 1, max: 2 ** 25 + 10 })).map(([a, len]) => ({ addr: a, len })),
  // anything (mode 11 when large and unaligned), up to 2^46 so sums of many stay below 2^53
  fc.tuple(big(2 ** 26 - 1), big(2 ** 20)).map(([a, len]) => ({ addr: a, len: Math.max(1, len) })),
);

const flagsArb = fc.integer({ min: 0, max: 31 }).filter((f) => (f & 3) !== 3);
const provArb = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 0, max: 4095 }),
  fc.integer({ min: 4096, max: 0xffff }),
);

const entryArb: fc.Arbitrary<PhyrEntry> = fc
  .record({ r: rangeArb, flags: flagsArb, provider: provArb })
  .map(({ r, flags, provider }) => {
    const len = Math.min(r.len, P52);
    return { addr: Math.min(r.addr, P52 - len), len, flags, provider };
  });

const optsArb: fc.Arbitrary<PhyrListOptions> = fc.record({
  store: fc.constantFrom<PhyrStoreKind>("compact", "wide"),
  chunkCapacity: fc.constantFrom(2, 3, 4, 5, 512),
});

function build(entries: readonly PhyrEntry[], opts: PhyrListOptions): PhyrList {
  const l = new PhyrList(opts);
  for (const e of entries) {
    l.append(e.addr, e.len, e.flags, e.provider);
    l.checkValid();
  }
  return l;
}

/** Compares a list with the model entry by entry and page by page, through every read path. */
function expectSame(list: PhyrList, model: readonly PhyrEntry[]): void {
  list.checkValid();
  expect(list.nents).toBe(model.length);
  expect(list.totalBytes).toBe(refTotal(model));
  expect(list.toArray()).toEqual(model);
  expect([...list]).toEqual(model);
  const pieces: PhyrEntry[] = [];
  list.forEachEntry((addr, len, flags, provider, i) => {
    expect(i).toBe(pieces.length);
    pieces.push({ addr, len, flags, provider });
  });
  if (refPageCount(model) <= 20000) expect(refPieces(pieces)).toEqual(refPieces(model));
  for (let i = 0; i < model.length; i++) {
    expect(list.entry(i)).toEqual(model[i]);
    expect(list.addrAt(i)).toBe(model[i].addr);
    expect(list.lenAt(i)).toBe(model[i].len);
    expect(list.flagsAt(i)).toBe(model[i].flags);
    expect(list.providerAt(i)).toBe(model[i].provider);
  }
}

/** A list of several segments with trims: slices of random lists joined together. */
const joinedArb = fc
  .tuple(
    optsArb,
    fc.array(fc.tuple(fc.array(entryArb, { minLength: 1, maxLength: 12 }), fc.nat(), fc.nat()), {
      minLength: 1,
      maxLength: 4,
    }),
  )
  .map(([opts, parts]) => {
    const list = new PhyrList(opts);
    const model: PhyrEntry[] = [];
    for (const [entries, a, b] of parts) {
      const part = build(entries, opts);
      const total = part.totalBytes;
      const off = a % total;
      const len = 1 + (b % (total - off));
      list.appendList(part.slice(off, len));
      list.checkValid();
      model.push(...refSlice(entries, off, len));
    }
    return { list, model, opts };
  });

describe("PhyrList", () => {
  test("append() stores every entry exactly in both stores (addr, len, flags, provider)", () => {
    fc.assert(
      fc.property(optsArb, fc.array(entryArb, { maxLength: 40 }), (opts, entries) => {
        expectSame(build(entries, opts), entries);
      }),
      fcRuns(150),
    );
  });

  test("fromRanges() builds the same list as repeated append()", () => {
    fc.assert(
      fc.property(optsArb, fc.array(entryArb, { maxLength: 30 }), (opts, entries) => {
        expectSame(PhyrList.fromRanges(entries, opts), entries);
      }),
      fcRuns(60),
    );
  });

  test("slice() agrees with the model, also on joined lists and slices of slices", () => {
    fc.assert(
      fc.property(joinedArb, fc.nat(), fc.nat(), fc.nat(), fc.nat(), ({ list, model }, a, b, c, d) => {
        expectSame(list, model);
        const total = list.totalBytes;
        const off = a % (total + 1);
        const len = b % (total - off + 1);
        const view = list.slice(off, len);
        const vm = refSlice(model, off, len);
        expectSame(view, vm);
        const off2 = c % (len + 1);
        const len2 = d % (len - off2 + 1);
        expectSame(view.slice(off2, len2), refSlice(vm, off2, len2));
      }),
      fcRuns(150),
    );
  });

  test("concat() and appendList() agree with the model, also joining a list to itself", () => {
    fc.assert(
      fc.property(joinedArb, fc.array(entryArb, { maxLength: 10 }), ({ list, model, opts }, more) => {
        const other = build(more, opts);
        expectSame(list.concat(other), [...model, ...more]);
        expectSame(other.concat(list), [...more, ...model]);
        other.appendList(list);
        expectSame(other, [...more, ...model]);
        other.appendList(other);
        expectSame(other, [...more, ...model, ...more, ...model]);
      }),
      fcRuns(100),
    );
  });

  test("appending to a list never changes its views, its concatenations, or lists sharing its chunks", () => {
    fc.assert(
      fc.property(
        optsArb,
        fc.array(entryArb, { minLength: 1, maxLength: 12 }),
        fc.array(entryArb, { minLength: 1, maxLength: 8 }),
        fc.nat(),
        fc.nat(),
        (opts, entries, extra, a, b) => {
          const list = build(entries, opts);
          const total = list.totalBytes;
          const off = a % total;
          const len = 1 + (b % (total - off));
          const view = list.slice(off, len);
          const whole = list.slice(0, total);
          const joined = list.concat(list);
          const holder = new PhyrList(opts);
          holder.appendList(list);
          for (const e of extra) {
            list.append(e.addr, e.len, e.flags, e.provider);
            view.append(e.addr, e.len, e.flags, e.provider);
            whole.append(e.addr, e.len, e.flags, e.provider);
            holder.append(e.addr, e.len, e.flags, e.provider);
            for (const l of [list, view, whole, holder]) l.checkValid();
          }
          expectSame(list, [...entries, ...extra]);
          expectSame(view, [...refSlice(entries, off, len), ...extra]);
          expectSame(whole, [...entries, ...extra]);
          expectSame(joined, [...entries, ...entries]);
          expectSame(holder, [...entries, ...extra]);
        },
      ),
      fcRuns(100),
    );
  });

  test("entry(i) on compact lists of mostly 8-byte entries agrees with the model between appends and on views", () => {
    // Runs of natural chunks (mode 00) with an occasional wider entry: entry(i) takes the O(1)
    // path inside a chunk's leading 8-byte run and the width scan after it; reading between
    // appends makes the run mark stop early and then move on.
    const natural = fc
      .tuple(fc.integer({ min: 0, max: 2 ** 20 }), fc.integer({ min: 0, max: 18 }))
      .map(([f, o]) => ({ addr: f * 2 ** (o + 12), len: 2 ** (o + 12), flags: 1, provider: 0 }));
    const mostly = fc.oneof({ arbitrary: natural, weight: 6 }, { arbitrary: entryArb, weight: 1 });
    fc.assert(
      fc.property(
        fc.array(mostly, { minLength: 1, maxLength: 40 }),
        fc.constantFrom(2, 3, 8, 512),
        fc.nat(),
        fc.nat(),
        (entries, chunkCapacity, a, b) => {
          const list = new PhyrList({ chunkCapacity });
          entries.forEach((e, i) => {
            list.append(e.addr, e.len, e.flags, e.provider);
            const j = (a + i) % list.nents;
            expect(list.entry(j)).toEqual(entries[j]);
          });
          expectSame(list, entries);
          const total = list.totalBytes;
          const off = a % total;
          const len = 1 + (b % (total - off));
          expectSame(list.slice(off, len), refSlice(entries, off, len));
        },
      ),
      fcRuns(100),
    );
  });

  test("a cursor and an iterator over a list still being appended to see the new entries", () => {
    const list = new PhyrList({ chunkCapacity: 4 });
    list.append(0x1000, 0x1000);
    const c = list.cursor();
    const it = list[Symbol.iterator]();
    expect(it.next().value).toEqual({ addr: 0x1000, len: 0x1000, flags: 0, provider: 0 });
    list.append(0x5000, 0x3000);
    c.nextEntry();
    expect([c.done, c.entryAddr, c.entryLen, c.position]).toEqual([false, 0x5000, 0x3000, 0x1000]);
    expect(it.next().value).toEqual({ addr: 0x5000, len: 0x3000, flags: 0, provider: 0 });
    c.nextEntry();
    expect(c.done).toBe(true);
    expect(it.next().done).toBe(true);
  });

  test("cursor advance() by random steps reaches the model's entry, offset and address at every stop", () => {
    fc.assert(
      fc.property(joinedArb, fc.array(fc.nat(), { maxLength: 20 }), ({ list, model }, steps) => {
        const c = list.cursor();
        const total = list.totalBytes;
        let pos = 0;
        for (const s of steps) {
          const step = s % (total - pos + 1);
          c.advance(step);
          pos += step;
          const want = refAt(model, pos);
          expect(c.position).toBe(pos);
          expect(c.done).toBe(want.done);
          expect(c.index).toBe(want.index);
          if (!want.done) {
            expect(c.offset).toBe(want.offset);
            expect(c.addr).toBe(want.addr);
            const e = model[want.index];
            expect([c.entryAddr, c.entryLen, c.flags, c.provider]).toEqual([
              e.addr,
              e.len,
              e.flags,
              e.provider,
            ]);
            expect(c.remaining).toBe(e.len - want.offset);
          }
        }
        c.reset();
        expect(c.position).toBe(0);
        expect(c.done).toBe(model.length === 0);
        let n = 0;
        for (; !c.done; c.nextEntry()) expect(c.entryLen).toBe(model[n++].len);
        expect(n).toBe(model.length);
        expect(c.index).toBe(model.length);
        expect(c.position).toBe(total);
      }),
      fcRuns(150),
    );
  });

  test("cursor advance() past the end throws RangeError and leaves the cursor where it was", () => {
    const l = PhyrList.fromRanges([
      { addr: 0x1000, len: 0x1000 },
      { addr: 0x5000, len: 0x800 },
    ]);
    const c = l.cursor();
    c.advance(0x1100);
    expect(() => c.advance(0x701)).toThrow(/cursor advance 0x701 is out of bounds: only 0x700 bytes remain/);
    expect(() => c.advance(-1)).toThrow(RangeError);
    expect(() => c.advance(0.5)).toThrow(RangeError);
    expect([c.index, c.offset, c.addr, c.position]).toEqual([1, 0x100, 0x5100, 0x1100]);
    c.advance(0x700);
    expect(c.done).toBe(true);
    c.nextEntry();
    expect(c.done).toBe(true);
    expect(new PhyrList().cursor().done).toBe(true);
  });
});

describe("one iteration protocol", () => {
  const list = PhyrList.fromRanges([
    { addr: 0x1000, len: 0x1000 },
    { addr: 0x10000, len: 0x3000, flags: PhyrFlag.PINNED },
    { addr: 0x40000, len: 0x2000, provider: 2 },
  ]);

  it("forEachEntry stops when the visitor returns false and says so", () => {
    const seen: number[] = [];
    const done = list.forEachEntry((addr, _len, _flags, _prov, i) => {
      seen.push(addr);
      return i < 1;
    });
    expect(done).toBe(false);
    expect(seen).toEqual([0x1000, 0x10000]);
    expect(list.forEachEntry(() => undefined)).toBe(true);
  });

  it("entries(reused) refills one object; entries() and for-of give a new one per step", () => {
    const reused = { addr: 0, len: 0, flags: 0, provider: 0 };
    const objs = new Set<object>();
    const got: number[][] = [];
    for (const e of list.entries(reused)) {
      objs.add(e);
      got.push([e.addr, e.len, e.flags, e.provider]);
    }
    expect(objs.size).toBe(1);
    expect([...objs][0]).toBe(reused);
    expect(got).toEqual([
      [0x1000, 0x1000, 0, 0],
      [0x10000, 0x3000, PhyrFlag.PINNED, 0],
      [0x40000, 0x2000, 0, 2],
    ]);
    expect(new Set([...list.entries()]).size).toBe(3);
    expect([...list].map((e) => e.addr)).toEqual([0x1000, 0x10000, 0x40000]);
  });
});
