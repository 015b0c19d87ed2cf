import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { ParseError } from "../core/index.js";
import { PageRuns, RunFlag } from "../machine/index.js";
import {
  addPagemapWords,
  decodePagemapWord,
  PAGEMAP_BATCH,
  pagemapRunFlags,
  pagemapRunsFromBytes,
  readPagemapRuns,
} from "./pagemap.js";
import { phyrFromRuns } from "./phyr-runs.js";

const dir = mkdtempSync(join(tmpdir(), "phyr-pm-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("decodePagemapWord() follows Documentation/admin-guide/mm/pagemap.rst", () => {
  it.each([
    // [hi, lo, present, swapped, file, exclusive, softDirty, pfn]
    [0x80000000, 0x00001234, true, false, false, false, false, 0x1234],
    [0x81000000, 0x0012e2ef, true, false, false, true, false, 0x12e2ef],
    [0xa0000000, 0xffffffff, true, false, true, false, false, 0xffffffff],
    [0x80800001, 0x00000000, true, false, false, false, true, 0x100000000],
    [0x807fffff, 0xffffffff, true, false, false, false, false, 2 ** 55 - 1],
    [0x40000000, 0x00000021, false, true, false, false, false, 0x21],
    [0x00000000, 0x00000000, false, false, false, false, false, 0],
  ])("hi %s lo %s", (hi, lo, present, swapped, file, exclusive, softDirty, pfn) => {
    expect(decodePagemapWord(lo as number, hi as number)).toEqual({
      present,
      swapped,
      file,
      exclusive,
      softDirty,
      pfn,
    });
  });

  it("maps bits 61, 56, 55 to run flags", () => {
    expect(pagemapRunFlags(0x80000000)).toBe(RunFlag.PRESENT);
    expect(pagemapRunFlags(0xa0000000)).toBe(RunFlag.PRESENT | RunFlag.FILE);
    expect(pagemapRunFlags(0x81000000)).toBe(RunFlag.PRESENT | RunFlag.EXCLUSIVE);
    expect(pagemapRunFlags(0x80800000)).toBe(RunFlag.PRESENT | RunFlag.SOFT_DIRTY);
  });
});

/** Naive model: one entry per page, then runs formed page by page from the definition. */
function modelRuns(pages: { kind: number; pfn: number; hi: number }[], vpn0: number) {
  const runs: number[][] = [];
  let present = 0;
  let swapped = 0;
  let hidden = 0;
  pages.forEach((p, i) => {
    if (p.kind !== 0) {
      if (p.kind === 1) swapped++;
      return;
    }
    present++;
    if (p.pfn === 0) hidden++;
    const flags = pagemapRunFlags(p.hi);
    const last = runs[runs.length - 1];
    const va = (vpn0 + i) * 4096;
    if (
      last &&
      last[0] + last[2] * 4096 === va &&
      last[3] === flags &&
      (last[1] + last[2] === p.pfn || (last[1] === 0 && p.pfn === 0))
    )
      last[2]++;
    else runs.push([va, p.pfn, 1, flags]);
  });
  return { runs, present, swapped, hidden, unmapped: pages.length - present - swapped };
}

const pageArb = fc.record({
  kind: fc.constantFrom(0, 0, 0, 1, 2), // present, swapped, none
  // Small frames, and frames around 2^32 so runs cross the carry into the high half.
  pfn: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 2 ** 32 - 4, max: 2 ** 32 + 4 })),
  // 0x82000000 sets bit 57 (uffd-wp), which changes the word but no run flag.
  hi: fc.constantFrom(0x80000000, 0x81000000, 0xa0000000, 0x80800000, 0x82000000),
});

function encode(pages: { kind: number; pfn: number; hi: number }[]): Uint8Array {
  const b = new Uint8Array(pages.length * 8);
  const dv = new DataView(b.buffer);
  pages.forEach((p, i) => {
    if (p.kind === 0) {
      dv.setUint32(i * 8, p.pfn % 2 ** 32, true);
      dv.setUint32(i * 8 + 4, (p.hi | Math.floor(p.pfn / 2 ** 32)) >>> 0, true);
    } else if (p.kind === 1) dv.setUint32(i * 8 + 4, 0x40000000, true);
  });
  return b;
}

describe("readPagemapRuns() forms runs like page-types -l", () => {
  it("agrees with a page-by-page model for random pagemaps and batch sizes (contiguous-biased frames)", () => {
    fc.assert(
      fc.property(
        fc.array(pageArb, { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 17 }),
        fc.integer({ min: 0, max: 50 }),
        (pages, batch, vpn0) => {
          // Bias: make roughly half the frames continue their predecessor.
          pages.forEach((p, i) => {
            if (i > 0 && p.pfn % 2 === 0) p.pfn = pages[i - 1].pfn + 1;
          });
          const pid = 1000 + vpn0;
          mkdirSync(join(dir, String(pid)), { recursive: true });
          const bytes = encode(pages);
          const file = new Uint8Array((vpn0 + pages.length) * 8);
          file.set(bytes, vpn0 * 8);
          writeFileSync(join(dir, String(pid), "pagemap"), file);
          const r = readPagemapRuns(pid, vpn0 * 4096, (vpn0 + pages.length) * 4096, {
            procRoot: dir,
            batchEntries: batch,
          });
          r.checkValid();
          const m = modelRuns(pages, vpn0);
          const got: number[][] = [];
          for (let i = 0; i < r.count; i++) got.push([r.va[i], r.pfn[i], r.npages[i], r.flags[i]]);
          expect(got).toEqual(m.runs);
          expect([r.presentPages, r.swappedPages, r.hiddenPages, r.unmappedPages]).toEqual([
            m.present,
            m.swapped,
            m.hidden,
            m.unmapped,
          ]);
          const fromBytes = pagemapRunsFromBytes(bytes, vpn0 * 4096);
          expect(fromBytes.count).toBe(r.count);
        },
      ),
      fcRuns(200),
    );
  });

  it("reports progress once per batch", () => {
    mkdirSync(join(dir, "77"), { recursive: true });
    writeFileSync(join(dir, "77", "pagemap"), new Uint8Array(10 * 8));
    const seen: number[] = [];
    const r = readPagemapRuns(77, 0, 10 * 4096, {
      procRoot: dir,
      batchEntries: 4,
      onProgress: (d) => seen.push(d),
    });
    expect(seen).toEqual([4 * 4096, 8 * 4096, 10 * 4096]);
    expect(r.unmappedPages).toBe(10);
  });

  it("reads in batches of 64K entries by default (page-types PAGEMAP_BATCH)", () => {
    // 200,000 entries: batches of 65,536, 65,536, 65,536 and 3,392 entries.
    mkdirSync(join(dir, "79"), { recursive: true });
    writeFileSync(join(dir, "79", "pagemap"), new Uint8Array(200_000 * 8));
    const seen: number[] = [];
    readPagemapRuns(79, 0, 200_000 * 4096, { procRoot: dir, onProgress: (d) => seen.push(d / 4096) });
    expect(PAGEMAP_BATCH).toBe(65536);
    expect(seen).toEqual([65536, 131072, 196608, 200000]);
  });

  it("rejects odd-length and short files, bad ranges and frames above 2^40", () => {
    mkdirSync(join(dir, "78"), { recursive: true });
    writeFileSync(join(dir, "78", "pagemap"), new Uint8Array(8 * 3 + 5));
    expect(() => readPagemapRuns(78, 0, 4 * 4096, { procRoot: dir })).toThrow(ParseError);
    expect(() => readPagemapRuns(78, 0, 4 * 4096, { procRoot: dir })).toThrow(/truncated or odd length/);
    expect(() => readPagemapRuns(78, 4096, 4096, { procRoot: dir })).toThrow(RangeError);
    expect(() => readPagemapRuns(78, -1, 4096, { procRoot: dir })).toThrow(RangeError);
    expect(() => readPagemapRuns(0, 0, 4096, { procRoot: dir })).toThrow(/pid 0 is invalid/);
    expect(() => pagemapRunsFromBytes(new Uint8Array(9), 0)).toThrow(/not a multiple of 8/);
    const big = new Uint8Array(8);
    new DataView(big.buffer).setUint32(4, 0x80000100, true); // pfn 2^40
    expect(() => pagemapRunsFromBytes(big, 0)).toThrow(/at or above 2\^40/);
  });

  it("stops after the batch that finds stopAfterPages resident pages; the rest counts as unmapped", () => {
    // 12 pages: present at 1, 2 (frames 0x10, 0x11), swapped at 5, present at 9 (frame 0x20).
    const pages = Array.from({ length: 12 }, () => ({ kind: 2, pfn: 0, hi: 0 }));
    pages[1] = { kind: 0, pfn: 0x10, hi: 0x80000000 };
    pages[2] = { kind: 0, pfn: 0x11, hi: 0x80000000 };
    pages[5] = { kind: 1, pfn: 0, hi: 0 };
    pages[9] = { kind: 0, pfn: 0x20, hi: 0x80000000 };
    mkdirSync(join(dir, "81"), { recursive: true });
    writeFileSync(join(dir, "81", "pagemap"), encode(pages));
    const read = (stopAfterPages?: number) => {
      const seen: number[] = [];
      const r = readPagemapRuns(81, 0, 12 * 4096, {
        procRoot: dir,
        batchEntries: 4,
        stopAfterPages,
        onProgress: (d) => seen.push(d / 4096),
      });
      r.checkValid();
      return { r, seen };
    };
    // 3 resident pages (two present, one swapped) are all found in batch 2 (pages 4-7): page 9 is
    // never read, so 12 - 2 present - 1 swapped = 9 pages count as unmapped.
    const early = read(3);
    expect([early.r.count, early.r.presentPages, early.r.swappedPages, early.r.unmappedPages]).toEqual([
      1, 2, 1, 9,
    ]);
    expect([early.r.readEnd / 4096, early.seen]).toEqual([8, [4, 12]]);
    // Asking for all 4 reads everything, as does no limit.
    const whole = read(4);
    expect([whole.r.count, whole.r.readEnd / 4096, whole.seen]).toEqual([2, 12, [4, 8, 12]]);
    expect(read().r.count).toBe(2);
    expect(() => read(-1)).toThrow(/stopAfterPages -1 is invalid/);
    expect(() => read(1.5)).toThrow(/stopAfterPages 1.5 is invalid/);
  });

  it("continues the last run across calls (batch boundary inside a run)", () => {
    const runs = new PageRuns(0, 4 * 4096);
    const w = new Uint32Array([5, 0x80000000, 6, 0x80000000, 7, 0x80000000, 9, 0x80000000]);
    addPagemapWords(runs, w.subarray(0, 4), 2, 0);
    addPagemapWords(runs, w.subarray(4), 2, 2);
    runs.checkValid();
    expect([runs.count, runs.npages[0], runs.pfn[1]]).toEqual([2, 3, 9]);
  });
});

describe("phyrFromRuns()", () => {
  it("gives the physical ranges in VA order, merging physically contiguous neighbours", () => {
    const runs = new PageRuns(0, 16 * 4096);
    runs.push(0, 0x100, 2, RunFlag.PRESENT);
    runs.push(2 * 4096, 0x102, 1, RunFlag.PRESENT | RunFlag.EXCLUSIVE); // flags differ: separate run, same frames continue
    runs.push(5 * 4096, 0x50, 3, RunFlag.PRESENT);
    runs.presentPages = 6;
    runs.unmappedPages = 10;
    runs.checkValid();
    const list = phyrFromRuns(runs);
    list.checkValid();
    expect(list.toArray()).toEqual([
      { addr: 0x100000, len: 0x3000, flags: 0, provider: 0 },
      { addr: 0x50000, len: 0x3000, flags: 0, provider: 0 },
    ]);
    expect(list.totalBytes).toBe(6 * 4096);
  });

  it("refuses hidden frames with a hint", () => {
    const runs = new PageRuns(0, 4096);
    runs.push(0, 0, 1, RunFlag.PRESENT);
    expect(() => phyrFromRuns(runs)).toThrow(/CAP_SYS_ADMIN/);
  });
});
