/**
 * What backs a frame, by the rules of fs/proc/page.c stable_page_flags(): every page of a large
 * folio carries KPF_COMPOUND_HEAD (first page) or KPF_COMPOUND_TAIL (the rest); a hugetlb folio
 * adds KPF_HUGE to all its pages; any other large folio that is anonymous or on the LRU adds
 * KPF_THP; the zero page (and the huge zero page, which is also a THP) has KPF_ZERO_PAGE.
 * Expected kinds below follow from those rules, not from running this code.
 */
import { describe, expect, it } from "vitest";
import { classifyRuns, frameKind, KPF, type KpageflagsSource, parseKpageflagsExtract } from "./kpageflags.js";
import { PageRuns, RunFlag, RunKind } from "./runs.js";

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
