/**
 * PhyrList against every representation it replaces (issue 2 §4-5), on the same seeded inputs:
 *
 * - building a compact list from a 16M-entry PFN array (GUP output) against the plain run-counting
 *   loop (the memory-bandwidth limit) and against the kernel's way: fill a struct page * array, then
 *   sg_alloc_table_from_pages() into a real chained scatterlist. All three read the same
 *   Uint32Array and are sampled in paired rounds with a GC before each sample ({@link pairedSamples});
 * - encode/decode time and exact bytes of each format on that list;
 * - the brotli-11 size of the phys_vec bytes as a density limit, and `packed` against it on the
 *   standard and on a randomly fragmented list;
 * - the compact store's bytes per naturally aligned chunk and per irregular run.
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
import { type BenchOptions, type BenchRow, type BenchSuite, median, timeNs } from "./harness.js";

/** Timed rounds of the paired build measurements (see {@link pairedSamples}). */
const ROUNDS = 15;
const QUICK_ROUNDS = 9;
/** Untimed rounds first, so every side runs optimised code. */
const WARM_ROUNDS = 2;

/**
 * Paired sampling for ratios on a shared machine (mitata samples one function at a time, so a
 * load change between two measurements skews their ratio). Every round runs each function once,
 * in an order rotated by one each round, each after a full GC outside the timing, so the garbage
 * of earlier samples is not collected inside a timed one. A ratio is then the median over rounds
 * of that round's ratio, so load that comes and goes moves both sides together. Each function's
 * last output stays alive until its next output replaces it, as in a program that holds its
 * lists: with no PhyrList alive at a GC, V8 drops the classes' hidden maps and deoptimises the
 * code built on them, a cost a live program does not pay on every call. Needs --expose-gc (the
 * bench script passes it). O(rounds * sum of costs).
 * @returns ns per round, one array per function.
 */
function pairedSamples(fns: (() => unknown)[], rounds: number): number[][] {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("the phyr bench needs node --expose-gc");
  const out = fns.map(() => [] as number[]);
  const held: unknown[] = fns.map(() => undefined);
  for (let r = -WARM_ROUNDS; r < rounds; r++) {
    for (let k = 0; k < fns.length; k++) {
      const j = (k + Math.max(r, 0)) % fns.length;
      gc();
      const t0 = process.hrtime.bigint();
      held[j] = fns[j]();
      const ns = Number(process.hrtime.bigint() - t0);
      if (r >= 0) out[j].push(ns);
    }
  }
  return out;
}

/** Row of a time `ns` with a ratio that is the median of per-round ratios (listed in `against`). */
function pairedRow(
  name: string,
  ns: number,
  against: string,
  ratios: number[],
  want: number,
  unit: "x" | "",
): BenchRow {
  const r = median(ratios);
  const s = [...ratios].sort((x, y) => x - y);
  const spread = `${s[0].toFixed(2)}..${s[s.length - 1].toFixed(2)}`;
  return {
    name,
    value: ns,
    unit: "ns",
    ratio: {
      against: `${against} (median of ${ratios.length} paired rounds, range ${spread})`,
      value: r,
      want: `>= ${want}${unit}`,
      ok: r >= want,
    },
  };
}

/** Row comparing a measured value with an upper target: ratio = value / target, want <= 1. */
function atMostRow(name: string, value: number, unit: string, target: number): BenchRow {
  const r = value / target;
  return {
    name,
    value,
    unit,
    ratio: { against: `${target} ${unit} target`, value: r, want: "<= 1", ok: r <= 1 },
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
      ratio: { against: "brotli-11", value: r, want: "<= 1.25", ok: r <= 1.25 },
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
  const [tCount, tBuild, tKernel] = pairedSamples(
    [
      () => countRuns(pfns),
      () => phyrFromPfns(pfns),
      () => sgAllocTableFromPages(pagePointerArray(pfns), 0, npages * PAGE_SIZE),
    ],
    opts.quick ? QUICK_ROUNDS : ROUNDS,
  );
  rows.push({
    name: `countRuns over ${label} PFNs (memory-bandwidth limit)`,
    value: median(tCount),
    unit: "ns",
  });
  rows.push(
    pairedRow(
      `phyrFromPfns -> compact list, ${label} PFNs`,
      median(tBuild),
      "countRuns",
      tBuild.map((t, r) => tCount[r] / t),
      0.4,
      "",
    ),
  );
  rows.push(
    pairedRow(
      `phyrFromPfns vs page array + sg_alloc_table_from_pages`,
      median(tBuild),
      "page array + scatterlist",
      tBuild.map((t, r) => tKernel[r] / t),
      5,
      "x",
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
