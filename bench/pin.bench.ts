/**
 * Pin throughput: GUP to range lists (pinUserRange) against page-at-a-time GUP (pinUserPages, the
 * 512-page-batch page array vfio type1 builds), on the same simulated machine in one run; and the
 * scale case: a 512 GiB machine with 64 GiB of touched process memory, built and pinned, with the
 * memory it costs.
 */
import { SZ_1G } from "../src/core/index.js";
import { MachineMemory } from "../src/mem/index.js";
import { AddressSpace, pinUserPages, pinUserRange, unpinPhyrs, unpinUserPages } from "../src/mm/index.js";
import { type BenchRow, type BenchSuite, exactRatio, pairedNs, speedRow } from "./harness.js";

const GiB = SZ_1G;

function heap(): { heap: number; buffers: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers };
}

async function pinPair(
  name: string,
  mm: AddressSpace,
  va: number,
  len: number,
  quick: boolean,
  want?: number,
) {
  // Paired rounds with a GC and a warm-up before each: this ratio ranged 3.2x-37.8x over six
  // single-shot runs on a busy machine.
  const {
    ns: range,
    refNs: pages,
    ratios,
  } = await pairedNs(
    () => {
      const l = pinUserRange(mm, va, len);
      unpinPhyrs(mm, l);
      return l.nents;
    },
    () => {
      const p = pinUserPages(mm, va, len);
      unpinUserPages(mm, p);
      return p.length;
    },
    { quick, refHeavy: true },
  );
  const entries = pinUserRange(mm, va, len);
  const rows: BenchRow[] = [
    speedRow(`pin+unpin ${name}: range list`, range, "page-at-a-time", ratios, want),
    { name: `pin+unpin ${name}: page-at-a-time (512-page batches)`, value: pages, unit: "ns" },
    { name: `pin+unpin ${name}: range-list throughput`, value: len / GiB / (range / 1e9), unit: "GiB/s" },
    { name: `pin+unpin ${name}: page-at-a-time throughput`, value: len / GiB / (pages / 1e9), unit: "GiB/s" },
    { name: `pin ${name}: range-list entries`, value: entries.nents, unit: "entries" },
    { name: `pin ${name}: page-array entries`, value: len / 4096, unit: "entries" },
  ];
  unpinPhyrs(mm, entries);
  return rows;
}

/** The suite registered with bench/main.ts. */
export const suite: BenchSuite = {
  name: "pin",
  async run({ quick }) {
    const rows: BenchRow[] = [];
    const thpBytes = quick ? 1 * GiB : 8 * GiB;
    const mem = new MachineMemory({
      nodes: [{ start: 0, size: thpBytes + 4 * GiB }],
      hugetlb: { pages1G: 1 },
      seed: 1,
    });
    const mm = new AddressSpace(mem, { thp: "always" });
    const thp = mm.mmap({ kind: "anon", len: thpBytes });
    mm.populate(thp.start, thpBytes, true);
    rows.push(...(await pinPair(`${thpBytes / GiB} GiB THP buffer`, mm, thp.start, thpBytes, quick, 20)));
    const huge = mm.mmap({ kind: "hugetlb", hugeSize: "1G", len: GiB });
    mm.populate(huge.start, GiB, true);
    rows.push(...(await pinPair("1 GiB hugetlb buffer", mm, huge.start, GiB, quick)));
    mem.checkValid();
    mm.checkValid();
    rows.push(...scale(quick));
    return rows;
  },
};

/** 512 GiB machine (64 GiB touched) or, quick, 64 GiB (8 GiB touched): build, populate, pin everything. */
function scale(quick: boolean): BenchRow[] {
  const div = quick ? 8 : 1;
  const before = heap();
  const t0 = performance.now();
  const mem = new MachineMemory({
    nodes: [
      { start: 0, size: (256 * GiB) / div },
      { start: (256 * GiB) / div, size: (256 * GiB) / div },
    ],
    hugetlb: { pages1G: 15 / (quick ? 15 : 1) },
    seed: 9,
  });
  const mm = new AddressSpace(mem, { thp: "always" });
  // 64 GiB touched: 48 GiB THP, 15 GiB of 1 GiB hugetlb pages, 1 GiB of 4 KiB pages.
  const parts = [
    mm.mmap({ kind: "anon", len: (48 * GiB) / div }),
    mm.mmap({ kind: "hugetlb", hugeSize: "1G", len: quick ? GiB : 15 * GiB }),
  ];
  const mm4k = new AddressSpace(mem, { thp: "never" });
  const small = mm4k.mmap({ kind: "anon", len: GiB / div });
  const touched = parts.reduce((s, v) => s + v.end - v.start, 0) + GiB / div;
  const lists = [];
  for (const v of parts) lists.push(pinUserRange(mm, v.start, v.end - v.start, { write: true }));
  lists.push(pinUserRange(mm4k, small.start, small.end - small.start, { write: true }));
  const ms = performance.now() - t0;
  const after = heap();
  const used = after.heap - before.heap;
  const buffers = after.buffers - before.buffers;
  const budget = GiB / div;
  const label = `${512 / div} GiB machine, ${touched / GiB} GiB touched`;
  const nents = lists.reduce((s, l) => s + l.nents, 0);
  const rows: BenchRow[] = [
    { name: `${label}: build + populate + pin`, value: ms * 1e6, unit: "ns" },
    { name: `${label}: pinned entries`, value: nents, unit: "entries" },
    {
      name: `${label}: JS heap + typed arrays`,
      value: used + buffers,
      unit: "B",
      // A size against a budget: the heap after a forced GC, the same for the same inputs.
      ratio: exactRatio(`${budget / GiB} GiB budget`, budget / (used + buffers), "size", { min: 1 }),
    },
    { name: `${label}: of which JS heap (heapUsed delta)`, value: used, unit: "B" },
    { name: `${label}: live folios`, value: mem.folios.live, unit: "folios" },
  ];
  return rows;
}
