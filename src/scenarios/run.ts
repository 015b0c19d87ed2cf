/**
 * Named scenarios: each consumer on the same workload, the range-list design next to the
 * current-kernel baseline, returned as plain JSON-able data (the CLI's `phyr simulate` and the
 * report consume it). Deterministic for a seed and size.
 */
import { runBlockOdirect, runDevmemRx, runDmabufP2p, runNvmePrpVsSgl, runRdmaMr } from "./io.js";
import { type Metrics, ratiosOf, type ScenarioOptions, type ScenarioResult } from "./types.js";
import { runVfio } from "./vfio.js";

type Runner = (o: ScenarioOptions) => { size: number; design: Metrics; baseline: Metrics; notes: string[] };

interface ScenarioDef {
  /** Stable kebab-case name. */
  name: string;
  /** One line. */
  description: string;
  /** Size used by the bench's full run. */
  fullSize: number;
  run: Runner;
}

const GiB = 2 ** 30;
const MiB = 2 ** 20;

const DEFS: readonly ScenarioDef[] = [
  {
    name: "block-odirect",
    description:
      "O_DIRECT write of a THP-backed buffer to NVMe behind an IOMMU: pinned range list + DMA iterator vs the kernel's way on Linux 7.2 (page array + bvecs + the DMA iterator; requests capped at dma_opt_mapping_size)",
    fullSize: 256 * MiB,
    run: runBlockOdirect,
  },
  {
    name: "nvme-prp-vs-sgl",
    description:
      "NVMe data pointers for the same THP-backed buffer over dma-direct: SGL descriptors per segment vs PRP entries per 4 KiB page",
    fullSize: 256 * MiB,
    run: runNvmePrpVsSgl,
  },
  {
    name: "rdma-mr",
    description:
      "RDMA memory registration of a THP-backed buffer: ib_umem_find_best_pgsz MTT entries vs a 4 KiB page array and 4 KiB MTT",
    fullSize: 4 * GiB,
    run: runRdmaMr,
  },
  {
    name: "vfio-1g",
    description:
      "VM guest memory on 1 GiB pages mapped for device assignment: range pin + range iommu_map vs VFIO type1 on Linux 7.2 (512-page batches, one iommu_map per contiguous run)",
    fullSize: 1024 * GiB,
    run: (o) => runVfio("1g", o, 2 * GiB),
  },
  {
    name: "vfio-thp",
    description:
      "VM guest memory on THP mapped for device assignment: range pin + range iommu_map vs VFIO type1 on Linux 7.2 (512-page batches, one iommu_map per contiguous run)",
    fullSize: 64 * GiB,
    run: (o) => runVfio("thp", o, 64 * MiB),
  },
  {
    name: "vfio-fragmented",
    description:
      "VM guest memory on fragmented 4 KiB pages mapped for device assignment: range pin vs VFIO type1 on Linux 7.2 (512-page batches)",
    fullSize: 8 * GiB,
    run: (o) => runVfio("fragmented", o, 8 * MiB),
  },
  {
    name: "iommufd-thp",
    description:
      "VM guest memory on THP mapped through an iommufd IOAS: the kernel's way on Linux 7.2 (pin_user_pages_fast into 8,192-page arrays, pfn_batch, one iommu_map per batch entry) vs the design's range pin",
    fullSize: 64 * GiB,
    run: (o) => runVfio("thp", o, 64 * MiB, "iommufd"),
  },
  {
    name: "dmabuf-p2p",
    description:
      "A GPU BAR exported as a dma-buf to a NIC and an NVMe behind one switch, then revoked: physical ranges + provider vs pgmap struct pages + sg tables",
    fullSize: 16 * GiB,
    run: runDmabufP2p,
  },
  {
    name: "devmem-rx",
    description:
      "devmem TCP: a dma-buf bound to an RX queue, MTU 1500 and 9000 streams placed into 64 KiB packed buffers vs 4 KiB one-packet buffers",
    fullSize: 256 * MiB,
    run: runDevmemRx,
  },
];

/** Every scenario: name, one-line description and the size the full bench runs it at. */
export const SCENARIOS: readonly { name: string; description: string; fullSize: number }[] = DEFS.map(
  (d) => ({ name: d.name, description: d.description, fullSize: d.fullSize }),
);

/**
 * Runs the named scenario.
 * @param name one of {@link SCENARIOS}.
 * @param opts seed (default 1), size in bytes (a small default per scenario), baselineLimit.
 * @returns plain data: design and baseline metrics side by side, ratios baseline / design, notes.
 * @throws RangeError for an unknown name (listing the known ones) or a bad size.
 */
export function runScenario(name: string, opts: ScenarioOptions = {}): ScenarioResult {
  const def = DEFS.find((d) => d.name === name);
  if (!def)
    throw new RangeError(
      `scenario ${JSON.stringify(name)} is invalid: expected one of ${DEFS.map((d) => d.name).join(", ")}`,
    );
  const seed = opts.seed ?? 1;
  const r = def.run({ ...opts, seed });
  return {
    name,
    description: def.description,
    seed,
    size: r.size,
    design: r.design,
    baseline: r.baseline,
    ratios: ratiosOf(r.design, r.baseline),
    notes: r.notes,
  };
}
