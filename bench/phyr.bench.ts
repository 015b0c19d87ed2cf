/**
 * PhyrList against every representation it replaces (issue 2 §4-5), on the same seeded inputs:
 *
 * - building a compact list from a 16M-entry PFN array (GUP output) against the plain run-counting
 *   loop (the memory-bandwidth limit) and against the kernel's way: fill a struct page * array, then
 *   sg_alloc_table_from_pages() into a real chained scatterlist. All three read the same
 *   Uint32Array and are sampled in paired rounds of main-thread time with a GC before each
 *   sample (harness pairedRuns); the ratios are the medians of the per-round ratios, printed with
 *   their range;
 * - encode/decode time and exact bytes of each format on that list;
 * - the brotli-11 size of the phys_vec bytes as a density limit, and `packed` against it on the
 *   standard and on a randomly fragmented list (an exact ratio of sizes);
 * - the compact store's bytes per naturally aligned chunk and per irregular run (exact sizes).
 */
import { brotliCompressSync, constants } from "node:zlib";
import { PAGE_SIZE, Rng } from "../src/core/index.js";
import {
  compactWords,
  FORMATS,
  packedFormat,
  pagePointerArray,
  phyr16Format,
  sgAllocTableFromPages,
} from "../src/formats/index.js";
import { countRuns, PhyrList, type PhyrRead, phyrFromPfns } from "../src/phyr/index.js";
import { fragmentedPfns, standardPfns } from "./gen.js";
import {
  type BenchOptions,
  type BenchRow,
  type BenchSuite,
  exactRatio,
  fractionRow,
  median,
  pairedRuns,
  roundRatios,
  speedRow,
  timeNs,
} from "./harness.js";

/** Timed rounds of the paired build measurements ({@link pairedRuns}, 2 warm-up rounds first). */
const ROUNDS = 15;
const QUICK_ROUNDS = 9;

/** Row comparing an exact size with an upper target: ratio = value / target, want <= 1. */
function atMostRow(name: string, value: number, unit: string, target: number): BenchRow {
  return {
    name,
    value,
    unit,
    ratio: exactRatio(`${target} ${unit} target`, value / target, "size", { max: 1 }),
  };
}

function brotli11(bytes: Uint8Array): number {
  return brotliCompressSync(bytes, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
  }).length;
}

function densityRows(label: string, list: PhyrRead): BenchRow[] {
  const limit = brotli11(phyr16Format.encode(list));
  const packed = packedFormat.bytesFor(list);
  const r = packed / limit;
  return [
    { name: `${label}: brotli-11 of phyr16 bytes (density limit)`, value: limit, unit: "B" },
    { name: `${label}: brotli-11 per run`, value: limit / list.nents, unit: "B/run" },
    {
      name: `${label}: packed`,
      value: packed,
      unit: "B",
      ratio: exactRatio("brotli-11", r, "size", { max: 1.25 }),
    },
  ];
}

/** Per-entry compact cost of `n` entries made by `make`: store byteSize and words alone. */
function compactCost(
  label: string,
  n: number,
  make: (rng: Rng) => { addr: number; len: number },
  target: number,
): BenchRow[] {
  const rng = new Rng(7);
  const list = new PhyrList({ store: "compact" });
  let words = 0;
  for (let i = 0; i < n; i++) {
    const e = make(rng);
    list.append(e.addr, e.len);
    words += compactWords(e.addr, e.len, 0, 0) * 4;
  }
  return [
    atMostRow(`compact words per ${label}`, words / n, "B/entry", target),
    {
      name: `compact store byteSize per ${label} (chunks + segments)`,
      value: list.byteSize / n,
      unit: "B/entry",
    },
  ];
}

async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const npages = opts.quick ? 1 << 20 : 1 << 24;
  const label = opts.quick ? "1M" : "16M";
  const pfns = standardPfns(npages);
  const heavy = { ...opts, heavy: true };

  // Building: limit, PhyrList, kernel baseline, in paired rounds over the same Uint32Array.
  const [tCount, tBuild, tKernel] = pairedRuns(
    [
      () => countRuns(pfns),
      () => phyrFromPfns(pfns),
      () => sgAllocTableFromPages(pagePointerArray(pfns), 0, npages * PAGE_SIZE),
    ],
    { rounds: opts.quick ? QUICK_ROUNDS : ROUNDS },
  );
  rows.push({
    name: `countRuns over ${label} PFNs (memory-bandwidth limit)`,
    value: median(tCount),
    unit: "ns",
  });
  rows.push(
    fractionRow(
      `phyrFromPfns -> compact list, ${label} PFNs`,
      median(tBuild),
      "countRuns",
      roundRatios(tCount, tBuild),
      0.4,
    ),
  );
  rows.push(
    speedRow(
      "phyrFromPfns vs page array + sg_alloc_table_from_pages",
      median(tBuild),
      "page array + scatterlist",
      roundRatios(tKernel, tBuild),
      5,
    ),
  );
  rows.push({
    name: `page array + sg_alloc_table_from_pages, ${label} pages`,
    value: median(tKernel),
    unit: "ns",
  });

  const list = phyrFromPfns(pfns);
  const runs = list.nents;
  rows.push({ name: `standard list: runs (entries) in ${label} pages`, value: runs, unit: "entries" });
  rows.push({
    name: "standard list: compact store byteSize per run",
    value: list.byteSize / runs,
    unit: "B/run",
  });

  // Sizes side by side.
  for (const f of FORMATS) {
    const b = f.bytesFor(list);
    rows.push({ name: `${f.name}: bytes`, value: b, unit: "B" });
    rows.push({ name: `${f.name}: bytes per run`, value: b / runs, unit: "B/run" });
  }

  // Codec throughput (quick mode times the list of the first 256K pages to stay within budget).
  const codecList = opts.quick ? phyrFromPfns(pfns.subarray(0, 1 << 18)) : list;
  const codecLabel = opts.quick ? "256K" : label;
  for (const f of FORMATS) {
    const bytes = f.encode(codecList);
    const tEnc = await timeNs(() => f.encode(codecList), heavy);
    const tDec = await timeNs(() => f.decode(bytes), heavy);
    const per = codecList.nents;
    rows.push({ name: `${f.name}: encode ${codecLabel}-page list (${per} runs)`, value: tEnc, unit: "ns" });
    rows.push({ name: `${f.name}: decode ${codecLabel}-page list`, value: tDec, unit: "ns" });
    rows.push({ name: `${f.name}: encode + decode per run`, value: (tEnc + tDec) / per, unit: "ns/run" });
  }

  // Density limit.
  rows.push(...densityRows("standard list", list));
  const frag = phyrFromPfns(fragmentedPfns(opts.quick ? 1 << 18 : 1 << 22));
  rows.push({ name: "fragmented list: runs", value: frag.nents, unit: "entries" });
  rows.push(...densityRows("fragmented list", frag));

  // Compact store cost per entry kind.
  const orders = [0, 9, 18];
  rows.push(
    ...compactCost(
      "naturally aligned chunk",
      opts.quick ? 20000 : 200000,
      (rng) => {
        const order = orders[rng.int(3)];
        return { addr: rng.int(2 ** (28 - order)) * 2 ** (order + 12), len: 2 ** (order + 12) };
      },
      8,
    ),
  );
  rows.push(
    ...compactCost(
      "irregular run",
      opts.quick ? 20000 : 200000,
      (rng) => ({ addr: (rng.int(2 ** 28) * 2 + 1) * PAGE_SIZE, len: rng.range(3, 200) * PAGE_SIZE }),
      12,
    ),
  );
  return rows;
}

/** The phyr suite: PhyrList against page arrays, scatterlists and every other format. */
export const suite: BenchSuite = { name: "phyr", run };
