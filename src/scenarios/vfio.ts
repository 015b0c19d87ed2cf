/**
 * VFIO scenarios: a VM's guest memory mapped into an IOMMU domain by the kernel's way as in
 * Linux 7.2 (baseline: VFIO type1's batched page-array loop, or iommufd's own pin_user_pages_fast +
 * pfn_batch path) and by range pinning + range mapping (design).
 */
import { alignUp, hex, SZ_1G, SZ_2M, VFIO_BATCH_MAX_CAPACITY } from "../core/index.js";
import { IommuDomain } from "../iommu/index.js";
import { MachineMemory } from "../mem/index.js";
import { AddressSpace } from "../mm/index.js";
import {
  IOMMUFD_BATCH_MAX,
  IOMMUFD_UPAGES_MAX,
  IommufdIoas,
  type VfioMapStats,
  VfioType1Container,
} from "../subsys/index.js";
import { type Metrics, type ScenarioOptions, scenarioSize } from "./types.js";

/** Guest memory backing of a VFIO scenario. */
export type GuestBacking = "1g" | "thp" | "fragmented";

/** Guest physical address where guest memory starts (the IOVA it is mapped at). */
export const GUEST_IOVA = 2 ** 32;

/**
 * Builds a machine whose process holds `size` bytes of populated guest memory with the backing.
 * O(size / page) faults (O(pages) for fragmented memory).
 * @returns memory, address space and the guest's VA.
 */
export function buildGuest(
  backing: GuestBacking,
  size: number,
  seed: number,
): { mem: MachineMemory; mm: AddressSpace; va: number } {
  const pages1G = backing === "1g" ? size / SZ_1G : 0;
  const ram = backing === "1g" ? size + SZ_1G : 2 * size + SZ_1G;
  const mem = new MachineMemory({
    nodes: [{ start: 0, size: alignUp(ram, 2 ** 27) }],
    seed,
    hugetlb: { pages1G },
  });
  const mm = new AddressSpace(mem, { thp: backing === "thp" ? "always" : "never" });
  const v = mm.mmap(
    backing === "1g"
      ? { kind: "hugetlb", hugeSize: "1G", len: size }
      : { kind: "anon", len: size, hugepage: backing === "thp" },
  );
  if (backing === "1g") mm.populate(v.start, size, true);
  else {
    // A busy host: the guest's folios (4 KiB pages, or 2 MiB THPs) interleave with another
    // process's, so no two of them are physically adjacent.
    const step = backing === "thp" ? SZ_2M : 4096;
    const other = mm.mmap({ kind: "anon", len: size, hugepage: backing === "thp" });
    for (let off = 0; off < size; off += step) {
      mm.fault(v.start + off, true);
      mm.fault(other.start + off, true);
    }
  }
  return { mem, mm, va: v.start };
}

function domainMetrics(d: IommuDomain, st: VfioMapStats): Metrics {
  const pt = d.pgtable!;
  const m: Metrics = {
    pinOps: st.pinOps,
    pinCalls: st.pinCalls,
    iommuMaps: st.iommuMaps,
    trackingBytes: st.trackingBytes,
    lockedPages: st.lockedPages,
    leaves4K: pt.leafCount(4096),
    leaves2M: pt.leafCount(SZ_2M),
    leaves1G: pt.leafCount(SZ_1G),
    pageTableBytes: pt.tableBytes,
  };
  m.iotlbEntriesToCover = m.leaves4K + m.leaves2M + m.leaves1G;
  return m;
}

/** The kernel-side path a VFIO scenario measures: VFIO type1, or iommufd's own pinning. */
export type VfioBaseline = "type1" | "iommufd";

/**
 * Runs one VFIO scenario. O(pages) for the baseline (on a slice above `baselineLimit`), O(ranges +
 * leaves) for the design.
 * @throws ScenarioSizeError when `size` is not a positive multiple of the backing's page size.
 */
export function runVfio(
  backing: GuestBacking,
  o: ScenarioOptions,
  defaultSize: number,
  kernel: VfioBaseline = "type1",
): { size: number; design: Metrics; baseline: Metrics; notes: string[] } {
  const seed = o.seed ?? 1;
  const unit = backing === "1g" ? SZ_1G : backing === "thp" ? SZ_2M : 4096;
  const size = scenarioSize(o.size ?? defaultSize, unit, `${backing} guest memory`);
  const limit = o.baselineLimit ?? 64 * SZ_1G;
  const notes: string[] = [];
  const g = buildGuest(backing, size, seed);
  const dd = new IommuDomain({ type: "dma", name: "iommufd" });
  const ioas = new IommufdIoas(g.mm, dd);
  const design = domainMetrics(dd, ioas.map(g.va, GUEST_IOVA, size));
  const runKernel = (len: number): Metrics => {
    const bd = new IommuDomain({ type: "dma", name: kernel });
    if (kernel === "type1") {
      const c = new VfioType1Container(g.mm, bd);
      const m = domainMetrics(bd, c.mapDma(g.va, GUEST_IOVA, len));
      c.unmapDma(GUEST_IOVA, len);
      return m;
    }
    const k = new IommufdIoas(g.mm, bd, { pinPath: "kernel" });
    const m = domainMetrics(bd, k.map(g.va, GUEST_IOVA, len));
    k.unmap(GUEST_IOVA, len);
    return m;
  };
  let baseline: Metrics;
  if (size <= limit) baseline = runKernel(size);
  else {
    // Run the baseline for real on a slice, then derive the full-size counts exactly: both kernel
    // paths put every page in a page array (size / 4096 entries, in calls of 512 for type1 and
    // 8,192 for iommufd) and map one run per physically contiguous pfn run -- the same runs the
    // range pin returned, so the same iommu_map calls and leaves.
    const slice = Math.floor(limit / unit) * unit;
    const sl = runKernel(slice);
    const pages = size / 4096;
    const perCall = kernel === "type1" ? VFIO_BATCH_MAX_CAPACITY : IOMMUFD_UPAGES_MAX;
    baseline = {
      ...design,
      pinOps: pages,
      pinCalls: Math.ceil(pages / perCall),
      trackingBytes:
        kernel === "type1"
          ? 8 * VFIO_BATCH_MAX_CAPACITY
          : Math.min(pages, IOMMUFD_UPAGES_MAX) * 8 + Math.min(pages, IOMMUFD_BATCH_MAX) * 12,
      lockedPages: pages,
    };
    notes.push(
      `baseline ran on a ${hex(slice)}-byte slice (${sl.pinOps} page pins, ${sl.iommuMaps} iommu_map calls); full-size pin counts are size / 4096 and ceil(pages / ${perCall}); iommu_map calls and leaves equal the design's because ${kernel} maps one run per contiguous pfn run`,
    );
  }
  ioas.unmap(GUEST_IOVA, size);
  g.mem.checkValid();
  return { size, design, baseline, notes };
}
