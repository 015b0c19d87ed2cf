/**
 * Consumers (src/subsys): every named scenario at full size (small sizes with --quick), printing the
 * range-list design against the current-kernel baseline as ratios (baseline / design: above 1 means
 * the design needs less; counts and sizes of the model, so exact), plus VFIO mapping times: range
 * pin + range iommu_map against the type1 page-at-a-time loop on the same guest memory, in paired
 * rounds of main-thread time (the median of the per-round ratios, printed with their range).
 */
import { PAGE_SIZE } from "../src/core/index.js";
import { IommuDomain } from "../src/iommu/index.js";
import { pinUserRange, unpinPhyrs } from "../src/mm/index.js";
import { buildGuest, GUEST_IOVA, type GuestBacking, runScenario, SCENARIOS } from "../src/scenarios/index.js";
import { IommufdIoas, VfioType1Container } from "../src/subsys/index.js";
import {
  type BenchOptions,
  type BenchRow,
  type BenchSuite,
  exactRatio,
  median,
  pairedRuns,
  roundRatios,
  speedRow,
} from "./harness.js";

const GiB = 2 ** 30;

/** The unit of a scenario metric: bytes for sizes, leaves for leaf counts, else operations. O(1). */
function unitOf(metric: string): string {
  if (/Bytes$/.test(metric) || metric === "pageSize") return "B";
  return metric.startsWith("leaves") ? "leaves" : "ops";
}

/**
 * Times one VFIO map + unmap for both paths on the same guest, in paired rounds of main-thread time
 * (harness pairedRuns: `rounds` timed rounds after one warm-up round; the fast range path is
 * repeated within a sample to at least 1 ms, the type1 loop, up to seconds on 1 TiB of
 * 1 GiB pages, runs once per sample). O((rounds + 1) x both paths).
 */
function vfioTimes(backing: GuestBacking, size: number, rounds: number): BenchRow {
  const g = buildGuest(backing, size, 1);
  // Keep one pinned list and a cursor over it alive while sampling. A full GC runs before every
  // sample; with no live PhyrList or cursor that GC frees their hidden classes, which deoptimizes
  // every function of the range path at each sample (32 MiB fragmented samples went from 3 ms to
  // 40-120 ms). A running VMM always holds other pinned mappings, so live lists are the steady state.
  const held = pinUserRange(g.mm, g.va, 16 * PAGE_SIZE);
  const heldCursor = held.cursor();
  const ioas = new IommufdIoas(g.mm, new IommuDomain({ type: "dma", name: "iommufd" }));
  const c = new VfioType1Container(g.mm, new IommuDomain({ type: "dma", name: "type1" }));
  const [design, baseline] = pairedRuns(
    [
      () => {
        const st = ioas.map(g.va, GUEST_IOVA, size);
        ioas.unmap(GUEST_IOVA, size);
        return st;
      },
      () => {
        const st = c.mapDma(g.va, GUEST_IOVA, size);
        c.unmapDma(GUEST_IOVA, size);
        return st;
      },
    ],
    { rounds, warm: 1 },
  );
  heldCursor.reset();
  unpinPhyrs(g.mm, held);
  g.mem.checkValid();
  // On fragmented 4 KiB memory both paths pin, map and unpin every page; the range path must still
  // not lose (one pin call, leaf tables walked in order, one unmap, per-folio unpin).
  const want = backing === "fragmented" ? 1 : 10;
  return speedRow(
    `vfio-${backing} map+unmap ${size / GiB} GiB: range path`,
    median(design),
    "type1 page-at-a-time",
    roundRatios(baseline, design),
    want,
  );
}

export const suite: BenchSuite = {
  name: "subsys",
  async run(opts: BenchOptions): Promise<BenchRow[]> {
    const rows: BenchRow[] = [];
    for (const s of SCENARIOS) {
      const size = opts.quick ? undefined : s.fullSize;
      const r = runScenario(s.name, { seed: 1, size });
      for (const k of Object.keys(r.ratios)) {
        const unit = unitOf(k);
        rows.push({
          name: `${s.name} (${r.size >= GiB ? `${r.size / GiB} GiB` : `${r.size / 2 ** 20} MiB`}): ${k}`,
          value: r.design[k],
          unit,
          ratio: exactRatio(`baseline ${r.baseline[k]}`, r.ratios[k], unit === "B" ? "size" : "count"),
        });
      }
      for (const n of r.notes) rows.push({ name: `${s.name} note: ${n}`, value: 0, unit: "" });
    }
    // Full size: type1 takes seconds per sample on 1 TiB of 1 GiB pages, so 3 rounds there.
    rows.push(vfioTimes("1g", opts.quick ? 4 * GiB : 1024 * GiB, opts.quick ? 5 : 3));
    rows.push(vfioTimes("thp", opts.quick ? GiB / 4 : 64 * GiB, opts.quick ? 5 : 7));
    rows.push(vfioTimes("fragmented", opts.quick ? 32 * 2 ** 20 : 2 * GiB, opts.quick ? 5 : 7));
    return rows;
  },
};
