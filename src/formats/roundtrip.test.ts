import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { PAGE_SIZE } from "../core/index.js";
import { type PhyrEntry, PhyrList, type PhyrStoreKind, phyrFromPfns } from "../phyr/index.js";
import { FORMATS, type Format } from "./index.js";

/** Naive page-by-page model: every entry cut at page boundaries, as [pfn, from, to, flags, provider]. */
function pieces(entries: readonly PhyrEntry[], f: Format): number[][] {
  const out: number[][] = [];
  for (const e of entries) {
    for (let a = e.addr; a < e.addr + e.len; ) {
      const pfn = Math.floor(a / PAGE_SIZE);
      const next = Math.min(e.addr + e.len, (pfn + 1) * PAGE_SIZE);
      const row = f.holds.byteGranular ? [pfn, a - pfn * PAGE_SIZE, next - pfn * PAGE_SIZE] : [pfn];
      if (f.holds.flags) row.push(e.flags);
      if (f.holds.provider) row.push(e.provider);
      out.push(row);
      a = next;
    }
  }
  return out;
}

/** Maximal runs of contiguous bytes (or pages) with equal kept attributes: the same model without expanding pages. */
function runs(entries: readonly PhyrEntry[], f: Format): number[][] {
  const out: number[][] = [];
  for (const e of entries) {
    let a = e.addr;
    let end = e.addr + e.len;
    if (!f.holds.byteGranular) {
      a = Math.floor(a / PAGE_SIZE) * PAGE_SIZE;
      end = Math.ceil(end / PAGE_SIZE) * PAGE_SIZE;
    }
    const fl = f.holds.flags ? e.flags : 0;
    const pr = f.holds.provider ? e.provider : 0;
    const last = out[out.length - 1];
    if (last && last[1] === a && last[2] === fl && last[3] === pr) last[1] = end;
    else out.push([a, end, fl, pr]);
  }
  return out;
}

const flagsArb = fc.integer({ min: 0, max: 31 }).filter((f) => (f & 3) !== 3);
const pfnArb = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }),
  fc
    .tuple(fc.integer({ min: 0, max: 2 ** 20 - 1 }), fc.integer({ min: 0, max: 2 ** 20 - 1 }))
    .map(([h, l]) => h * 2 ** 20 + l),
);
const storeArb = fc.constantFrom<PhyrStoreKind>("compact", "wide");
const capArb = fc.integer({ min: 2, max: 5 });

/** Small random range lists: page runs and byte-granular pieces, any flags and providers. */
const smallEntryArb = fc
  .record({
    pfn: pfnArb,
    off: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 4095 })),
    len: fc.oneof(
      fc.integer({ min: 1, max: 48 }).map((p) => p * PAGE_SIZE),
      fc.integer({ min: 1, max: 3 * PAGE_SIZE }),
    ),
    flags: flagsArb,
    provider: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })),
  })
  .map((r) => ({ addr: r.pfn * PAGE_SIZE + r.off, len: r.len, flags: r.flags, provider: r.provider }))
  .filter((e) => e.addr + e.len <= 2 ** 52);

/** Random PFN arrays as GUP returns them: runs at random frames, sometimes continuing the last. */
const pfnsArb = fc
  .array(fc.record({ start: pfnArb, n: fc.integer({ min: 1, max: 40 }), cont: fc.boolean() }), {
    maxLength: 12,
  })
  .map((rs) => {
    const out: number[] = [];
    for (const r of rs) {
      const s = r.cont && out.length > 0 ? out[out.length - 1] + 1 : r.start;
      for (let j = 0; j < r.n && s + j < 2 ** 40; j++) out.push(s + j);
    }
    return out;
  });

function check(f: Format, list: PhyrList): void {
  const bytes = f.encode(list);
  expect(bytes.length).toBe(f.bytesFor(list));
  const back = f.decode(bytes);
  back.checkValid();
  const want = list.toArray();
  const got = back.toArray();
  expect(pieces(got, f)).toEqual(pieces(want, f));
  if (f.name === "jason8" && want.length > 0) {
    // The list-wide first offset and total length keep both ends byte-exact.
    expect(got[0].addr).toBe(want[0].addr);
    const we = want[want.length - 1];
    const ge = got[got.length - 1];
    expect(ge.addr + ge.len).toBe(we.addr + we.len);
  }
}

describe.each(FORMATS.map((f) => [f.name, f] as const))("%s", (_name, f) => {
  test("decode(encode(list)) keeps the pages of random PFN arrays, and encode is bytesFor long", () => {
    fc.assert(
      fc.property(pfnsArb, storeArb, capArb, fc.integer({ min: 0, max: 4095 }), (pfns, store, cap, off) => {
        const firstOffset = pfns.length > 0 ? off : 0;
        const list = phyrFromPfns(pfns, { store, chunkCapacity: cap, firstOffset });
        list.checkValid();
        check(f, list);
      }),
      fcRuns(60),
    );
  });

  test("decode(encode(list)) keeps the bytes (flags, providers where held) of random range lists", () => {
    fc.assert(
      fc.property(fc.array(smallEntryArb, { maxLength: 14 }), storeArb, capArb, (entries, store, cap) => {
        const list = PhyrList.fromRanges(entries, { store, chunkCapacity: cap });
        list.checkValid();
        check(f, list);
      }),
      fcRuns(60),
    );
  });

  test("decode(encode(list)) of a sliced list matches the slice", () => {
    fc.assert(
      fc.property(
        fc.array(smallEntryArb, { minLength: 1, maxLength: 10 }),
        fc.nat(),
        fc.nat(),
        (entries, a, b) => {
          const list = PhyrList.fromRanges(entries, { chunkCapacity: 3 });
          const off = a % list.totalBytes;
          const view = list.slice(off, 1 + (b % (list.totalBytes - off)));
          check(f, view);
        },
      ),
      fcRuns(30),
    );
  });

  if (f.name !== "pages" && f.name !== "biovec-page") {
    test("huge entries (past u32 lengths and split limits) survive, compared as merged runs", () => {
      const hugeArb = fc
        .record({
          pfn: pfnArb,
          off: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 4095 })),
          len: fc.oneof(
            fc.integer({ min: 1, max: 2 ** 21 }).map((p) => p * PAGE_SIZE * 2 ** 10),
            fc.integer({ min: 2 ** 31, max: 2 ** 31 + 2 ** 20 }).map((x) => x * 3),
            fc.integer({ min: 1, max: 5000 }),
          ),
          flags: flagsArb,
          provider: fc.integer({ min: 0, max: 0xffff }),
        })
        .map((r) => ({ addr: r.pfn * PAGE_SIZE + r.off, len: r.len, flags: r.flags, provider: r.provider }))
        .filter((e) => e.addr + e.len <= 2 ** 52);
      fc.assert(
        fc.property(fc.array(hugeArb, { maxLength: 6 }), storeArb, (entries, store) => {
          const list = PhyrList.fromRanges(entries, { store, chunkCapacity: 2 });
          const bytes = f.encode(list);
          expect(bytes.length).toBe(f.bytesFor(list));
          const back = f.decode(bytes);
          back.checkValid();
          expect(runs(back.toArray(), f)).toEqual(runs(list.toArray(), f));
        }),
        fcRuns(40),
      );
    });
  }
});
