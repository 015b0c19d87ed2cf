/**
 * What backs a frame, by the rules of fs/proc/page.c stable_page_flags(): every page of a large
 * folio carries KPF_COMPOUND_HEAD (first page) or KPF_COMPOUND_TAIL (the rest); a hugetlb folio
 * adds KPF_HUGE to all its pages; any other large folio that is anonymous or on the LRU adds
 * KPF_THP; the zero page (and the huge zero page, which is also a THP) has KPF_ZERO_PAGE.
 * Expected kinds below follow from those rules, not from running this code.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { PageRuns, RunFlag, RunKind } from "../machine/index.js";
import { classifyRuns, frameKind, KPF, type KpageflagsSource, parseKpageflagsExtract } from "./kpageflags.js";

const bit = (n: number) => 2 ** n;
const HEAD = bit(KPF.COMPOUND_HEAD);
const TAIL = bit(KPF.COMPOUND_TAIL);
const LRU_ANON = bit(KPF.LRU) | bit(KPF.ANON) | bit(KPF.MMAP);

describe("frameKind() follows stable_page_flags()", () => {
  it.each([
    ["order-0 anonymous page", LRU_ANON, RunKind.BASE],
    ["no flags at all", 0, RunKind.BASE],
    ["compound head of a non-THP, non-hugetlb folio (slab, driver page)", HEAD | bit(KPF.SLAB), RunKind.BASE],
    ["THP head", LRU_ANON | HEAD | bit(KPF.THP), RunKind.THP],
    ["THP tail", LRU_ANON | TAIL | bit(KPF.THP), RunKind.THP],
    ["hugetlb head", HEAD | bit(KPF.HUGE), RunKind.HUGETLB],
    ["hugetlb tail", TAIL | bit(KPF.HUGE), RunKind.HUGETLB],
    ["the zero page", bit(KPF.ZERO_PAGE), RunKind.ZERO],
    ["the huge zero page (ZERO_PAGE and THP)", bit(KPF.ZERO_PAGE) | bit(KPF.THP) | HEAD, RunKind.ZERO],
  ])("%s", (_what, lo, kind) => {
    expect(frameKind(lo)).toBe(kind);
  });
});

/** Hex extract line: `count` frames from `pfn`, all with flags word `flags`. */
const line = (pfn: number, count: number, flags: number) =>
  `${pfn.toString(16)} ${count.toString(16)} ${flags.toString(16)}`;

/** Two hugetlb 2 MiB pages back to back (0x40000, 0x40200), a THP (0x40400), then base pages. */
const EXTRACT = [
  line(0x40000, 1, HEAD | bit(KPF.HUGE)),
  line(0x40001, 0x1ff, TAIL | bit(KPF.HUGE)),
  line(0x40200, 1, HEAD | bit(KPF.HUGE)),
  line(0x40201, 0x1ff, TAIL | bit(KPF.HUGE)),
  line(0x40400, 1, LRU_ANON | HEAD | bit(KPF.THP)),
  line(0x40401, 0x1ff, LRU_ANON | TAIL | bit(KPF.THP)),
  line(0x40600, 0x10, LRU_ANON),
].join("\n");

function rows(r: PageRuns): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < r.count; i++) out.push([r.va[i], r.pfn[i], r.npages[i], r.kind[i]]);
  return out;
}

describe("classifyRuns() tells hugetlb, THP and base runs apart", () => {
  it("splits one physically contiguous run at each folio head and at each change of kind", () => {
    const runs = new PageRuns(0x7f0000000000, 0x7f0000000000 + 0x610 * 4096);
    runs.push(0x7f0000000000, 0x40000, 0x610, RunFlag.PRESENT);
    runs.presentPages = 0x610;
    const out = classifyRuns(runs, parseKpageflagsExtract(EXTRACT));
    out.checkValid();
    const va = 0x7f0000000000;
    expect(rows(out)).toEqual([
      [va, 0x40000, 512, RunKind.HUGETLB],
      [va + 0x200000, 0x40200, 512, RunKind.HUGETLB],
      [va + 0x400000, 0x40400, 512, RunKind.THP],
      [va + 0x600000, 0x40600, 16, RunKind.BASE],
    ]);
    expect([out.pagesOfKind(RunKind.HUGETLB), out.pagesOfKind(RunKind.THP)]).toEqual([1024, 512]);
  });

  it("a run starting on a tail stays one run up to the next head", () => {
    // 0x100 tails of the first hugetlb page, the whole second one (0x200), the THP's first 0x100.
    const runs = new PageRuns(0, 0x400 * 4096);
    runs.push(0, 0x40100, 0x400, RunFlag.PRESENT);
    runs.presentPages = 0x400;
    const out = classifyRuns(runs, parseKpageflagsExtract(EXTRACT));
    out.checkValid();
    expect(rows(out)).toEqual([
      [0, 0x40100, 0x100, RunKind.HUGETLB],
      [0x100000, 0x40200, 0x200, RunKind.HUGETLB],
      [0x300000, 0x40400, 0x100, RunKind.THP],
    ]);
  });

  it("leaves hidden runs (frame 0) unclassified without reading kpageflags", () => {
    const runs = new PageRuns(0, 8 * 4096);
    runs.push(0, 0, 8, RunFlag.PRESENT);
    runs.presentPages = 8;
    runs.hiddenPages = 8;
    const never: KpageflagsSource = {
      read() {
        throw new Error("read a hidden frame");
      },
      close() {},
    };
    const out = classifyRuns(runs, never);
    expect(rows(out)).toEqual([[0, 0, 8, RunKind.UNKNOWN]]);
    expect(out.hiddenPages).toBe(8);
  });
});

/**
 * The reference: the per-run rule written plainly (one read per run, frames in run order), as
 * classifyRuns() did before it gathered reads in frame order.
 */
function classifyPerRun(runs: PageRuns, source: KpageflagsSource): number[][] {
  const rows: number[][] = [];
  for (let r = 0; r < runs.count; r++) {
    const [va, pfn, n] = [runs.va[r], runs.pfn[r], runs.npages[r]];
    if (pfn === 0) {
      rows.push([va, 0, n, RunKind.UNKNOWN]);
      continue;
    }
    const words = new Uint32Array(2 * n);
    source.read(pfn, n, words);
    let cur = -1;
    for (let k = 0; k < n; k++) {
      const lo = words[2 * k];
      const kind = frameKind(lo);
      const head = (lo & HEAD) !== 0 && (kind === RunKind.THP || kind === RunKind.HUGETLB);
      if (kind !== cur || head) rows.push([va + k * 4096, pfn + k, 1, kind]);
      else rows[rows.length - 1][2]++;
      cur = kind;
    }
  }
  return rows;
}

/** A source over frames 1..span whose flags come from a table, counting reads and frames read. */
function tableSource(flagsOf: (pfn: number) => number) {
  const stats = { reads: 0, frames: 0 };
  const source: KpageflagsSource = {
    read(pfn, count, out) {
      stats.reads++;
      stats.frames += count;
      for (let k = 0; k < count; k++) {
        out[2 * k] = flagsOf(pfn + k);
        out[2 * k + 1] = 0;
      }
    },
    close() {},
  };
  return { source, stats };
}

describe("classifyRuns() reads in frame order", () => {
  it("gives what one read per run gives, for any runs, gap and read size", () => {
    // Frames carry folios of 1, 4 or 8 pages (head + tails) of random kinds, fixed per seed.
    const folioFlags = (seed: number) => (pfn: number) => {
      const size = [1, 4, 8][(seed + (pfn >> 3)) % 3];
      const kind = [LRU_ANON, LRU_ANON | bit(KPF.THP), bit(KPF.HUGE), bit(KPF.ZERO_PAGE)][
        (seed * 7 + (pfn >> 3)) % 4
      ];
      return size === 1 ? kind & ~bit(KPF.THP) & ~bit(KPF.HUGE) : kind | (pfn % size === 0 ? HEAD : TAIL);
    };
    fc.assert(
      fc.property(
        fc.array(fc.record({ pfn: fc.integer({ min: 1, max: 400 }), n: fc.integer({ min: 1, max: 40 }) }), {
          maxLength: 40,
        }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 1, max: 64 }),
        fc.nat(100),
        (list, gap, maxRead, seed) => {
          const runs = new PageRuns(0, 2 ** 30);
          let va = 0;
          for (const { pfn, n } of list) {
            runs.push(va, pfn, n, RunFlag.PRESENT);
            va += (n + 1) * 4096; // a hole between runs keeps them apart in VA
            runs.presentPages += n;
          }
          runs.unmappedPages = 2 ** 18 - runs.presentPages;
          const { source } = tableSource(folioFlags(seed));
          const out = classifyRuns(runs, source, { gapFrames: gap, maxReadFrames: maxRead });
          out.checkValid();
          expect(rows(out)).toEqual(classifyPerRun(runs, source));
        },
      ),
      fcRuns(300),
    );
  });

  it("reads runs whose frames lie within the gap of each other in one read, whatever their VA order", () => {
    // Three runs in VA order at frames 0x1000, 0x100 and 0x120: frame order is 0x100, 0x120, 0x1000.
    const runs = new PageRuns(0, 64 * 4096);
    runs.push(0, 0x1000, 4, RunFlag.PRESENT);
    runs.push(8 * 4096, 0x100, 4, RunFlag.PRESENT);
    runs.push(16 * 4096, 0x120, 4, RunFlag.PRESENT);
    const { source, stats } = tableSource(() => LRU_ANON);
    classifyRuns(runs, source, { gapFrames: 64 });
    // 0x100..0x124 in one read (gap 0x1c <= 64), 0x1000..0x1004 in another.
    expect(stats).toEqual({ reads: 2, frames: 0x24 + 4 });
    const per = tableSource(() => LRU_ANON);
    classifyRuns(runs, per.source, { gapFrames: 0 });
    expect(per.stats).toEqual({ reads: 3, frames: 12 });
  });

  it("refuses a negative gap or a read size outside 1..2^24, reading nothing", () => {
    const runs = new PageRuns(0, 4096);
    runs.push(0, 0x10, 1, RunFlag.PRESENT);
    const { source, stats } = tableSource(() => 0);
    expect(() => classifyRuns(runs, source, { gapFrames: -1 })).toThrow(/gapFrames -1 is invalid/);
    expect(() => classifyRuns(runs, source, { maxReadFrames: 0 })).toThrow(/maxReadFrames 0 is invalid/);
    expect(stats.reads).toBe(0);
  });
});
