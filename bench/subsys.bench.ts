/**
 * Consumers (src/subsys): every named scenario at full size (small sizes with --quick), printing the
 * range-list design against the current-kernel baseline as ratios (baseline / design: above 1 means
 * the design needs less), plus VFIO mapping times: range pin + range iommu_map against the type1
 * page-at-a-time loop on the same guest memory.
 */
import { PAGE_SIZE } from "../src/core/index.js";
import { IommuDomain } from "../src/iommu/index.js";
import { pinUserRange, unpinPhyrs } from "../src/mm/index.js";
import { buildGuest, GUEST_IOVA, type GuestBacking, runScenario, SCENARIOS } from "../src/scenarios/index.js";
import { IommufdIoas, VfioType1Container } from "../src/subsys/index.js";
import { type BenchOptions, type BenchRow, type BenchSuite, speedRow, timeNs } from "./harness.js";

const GiB = 2 ** 30;

function unitOf(metric: string): string {
  return /Bytes$/.test(metric)
    ? "B"
    : metric === "pageSize"
      ? "B"
      : metric.startsWith("leaves")
        ? "leaves"
        : "ops";
}

/**
 * Times one VFIO map + unmap for both paths on the same guest. The range path is sampled (median
 * after `warm` untimed runs); the type1 loop too when `warm > 0` (it takes about a second on 2 GiB
 * of fragmented memory), otherwise it is timed once (on 1 TiB of 1 GiB pages it takes tens of seconds).
 */
async function vfioTimes(
  backing: GuestBacking,
  size: number,
  opts: BenchOptions,
  warm = 0,
): Promise<BenchRow> {
  const g = buildGuest(backing, size, 1);
  // Keep one pinned list and a cursor over it alive while sampling. mitata forces a full GC between
  // samples; with no live PhyrList or cursor that GC frees their hidden classes, which deoptimizes
  // every function of the range path at each sample (32 MiB fragmented samples went from 3 ms to
  // 40-120 ms). A running VMM always holds other pinned mappings, so live lists are the steady state.
  const held = pinUserRange(g.mm, g.va, 16 * PAGE_SIZE);
  const heldCursor = held.cursor();
  const ioas = new IommufdIoas(g.mm, new IommuDomain({ type: "dma", name: "iommufd" }));
  const range = () => {
    const st = ioas.map(g.va, GUEST_IOVA, size);
    ioas.unmap(GUEST_IOVA, size);
    return st;
  };
  for (let i = 0; i < warm; i++) range();
  const design = await timeNs(range, { ...opts, heavy: true });
  const c = new VfioType1Container(g.mm, new IommuDomain({ type: "dma", name: "type1" }));
  const type1 = () => {
    const st = c.mapDma(g.va, GUEST_IOVA, size);
    c.unmapDma(GUEST_IOVA, size);
    return st;
  };
  let baseline: number;
  if (warm > 0) {
    for (let i = 0; i < warm; i++) type1();
    baseline = await timeNs(type1, { ...opts, heavy: true });
  } else {
    // The page-at-a-time loop is slow at full size: one timed run (it completes well under 60 s).
    const t0 = performance.now();
    type1();
    baseline = (performance.now() - t0) * 1e6;
  }
  heldCursor.reset();
  unpinPhyrs(g.mm, held);
  g.mem.checkValid();
  // On fragmented 4 KiB memory both paths pin, map and unpin every page; the range path must still
  // not lose (one pin call, leaf tables walked in order, one unmap, per-folio unpin).
  const want = backing === "fragmented" ? 1 : 10;
  return speedRow(
    `vfio-${backing} map+unmap ${size / GiB} GiB: range path (type1 ${warm > 0 ? "median" : "timed once"})`,
    design,
    "type1 page-at-a-time",
    baseline,
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
        rows.push({
          name: `${s.name} (${r.size >= GiB ? `${r.size / GiB} GiB` : `${r.size / 2 ** 20} MiB`}): ${k}`,
          value: r.design[k],
          unit: unitOf(k),
          ratio: { against: `baseline ${r.baseline[k]}`, value: r.ratios[k] },
        });
      }
      for (const n of r.notes) rows.push({ name: `${s.name} note: ${n}`, value: 0, unit: "" });
    }
    rows.push(await vfioTimes("1g", opts.quick ? 4 * GiB : 1024 * GiB, opts));
    rows.push(await vfioTimes("thp", opts.quick ? GiB / 4 : 64 * GiB, opts));
    // Both fragmented paths are warmed and sampled alike (small quick runs are otherwise JIT noise).
    rows.push(await vfioTimes("fragmented", opts.quick ? 32 * 2 ** 20 : 2 * GiB, opts, opts.quick ? 5 : 2));
    return rows;
  },
};
