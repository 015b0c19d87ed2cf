/**
 * `referenceMachine()`: builds phyr's embedded reference machine (spec.ts, README.md) from the
 * model, deterministically: boot (RAM, reserved ranges, hugetlb pools), the PCI tree and its
 * /proc/iomem entries, boot-to-now kernel churn (mem/aging.ts), then the processes faulted in
 * through mm/ in order. Same seed, same machine: the tests compare digests and run tables.
 */
import { type IoPgtableFormat, ioPgtableFormat } from "../iommu/index.js";
import { ageMemory, MachineMemory } from "../mem/index.js";
import { buildReferencePci, insertPciIomem, type ReferencePci } from "./pci.js";
import { buildProcess, type ReferenceProcess } from "./processes.js";
import { IOMMU_UNITS, PROCESSES, REFERENCE_MEMORY, REFERENCE_SEED } from "./spec.js";

/** The built reference machine. */
export interface ReferenceMachine {
  mem: MachineMemory;
  pci: ReferencePci;
  /** IOMMU unit names (/sys/class/iommu) and their page-table format. */
  iommu: { units: readonly string[]; format: IoPgtableFormat };
  /** Processes sorted by pid. */
  processes: ReferenceProcess[];
  /** Milliseconds the build took (informative; not part of the machine's state). */
  buildMs: number;
}

/**
 * Builds the reference machine. O(aging steps + page-table leaves + churn steps); about half a
 * second of work is tens of thousands of huge leaves and 65,536 4 KiB faults (see bench/machine.bench.ts).
 * @returns memory, PCI tree, IOMMU and processes
 */
export function referenceMachine(): ReferenceMachine {
  const t0 = performance.now();
  const pci = buildReferencePci();
  const t = pci.topology;
  const mem = new MachineMemory({
    seed: REFERENCE_SEED,
    nodes: REFERENCE_MEMORY.nodes.map((n) => ({ ...n })),
    reserved: REFERENCE_MEMORY.reserved.map((r) => ({ ...r })),
    hugetlb: { ...REFERENCE_MEMORY.hugetlb },
  });
  insertPciIomem(mem.iomem, t);
  ageMemory(mem, { steps: REFERENCE_MEMORY.agingSteps });
  const inode = { next: 1048577 };
  const processes = PROCESSES.map((p) => buildProcess(mem, p, inode)).sort((a, b) => a.pid - b.pid);
  return {
    mem,
    pci,
    iommu: { units: IOMMU_UNITS, format: ioPgtableFormat("x86-4level") },
    processes,
    buildMs: performance.now() - t0,
  };
}
