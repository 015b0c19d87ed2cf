/**
 * The consumers' testbed: a small simulated machine (not the reference machine of machine/) with
 * memory, one process address space, the DMA context (with a swiotlb pool carved from RAM), and
 * devices with or without their own IOMMU domain. Deterministic from the seed.
 */
import { PAGE_SIZE } from "../core/index.js";
import { DmaDebug, type DmaDevice, DmaSystem, SwiotlbPool } from "../dma/index.js";
import { IommuDomain } from "../iommu/index.js";
import { MachineMemory } from "../mem/index.js";
import { AddressSpace } from "../mm/index.js";

/** Options of {@link buildTestbed}. */
export interface TestbedOptions {
  /** Seed of everything random. Default 1. */
  seed?: number;
  /** System RAM in bytes (one node at 0); default 1 GiB plus the hugetlb pools. */
  ramBytes?: number;
  /** Boot-time hugetlb pools. */
  hugetlb?: { pages2M?: number; pages1G?: number };
  /** Reserve a 4 MiB swiotlb pool. Default true. */
  swiotlb?: boolean;
  /** Run the DMA debug checker. Default true (benches pass false). */
  debug?: boolean;
  /** THP policy of the process. Default "always". */
  thp?: "never" | "madvise" | "always";
}

/** The parts of a built machine. */
export interface Testbed {
  mem: MachineMemory;
  /** The process whose buffers are pinned. */
  mm: AddressSpace;
  sys: DmaSystem;
}

/** Options of {@link addDevice}. */
export interface SubsysDeviceOptions {
  /** Put the device behind its own DMA-API IOMMU domain (x86 4-level). Default false. */
  iommu?: boolean;
  /** Force bouncing through swiotlb. Default false. */
  forceSwiotlb?: boolean;
  /** dma_mask; default full. */
  dmaMask?: number;
}

/**
 * Builds the machine. O(hugetlb pages + sections touched).
 * @throws RangeError / MemError from the memory model for an impossible spec.
 */
export function buildTestbed(o: TestbedOptions = {}): Testbed {
  const huge = (o.hugetlb?.pages1G ?? 0) * 2 ** 30 + (o.hugetlb?.pages2M ?? 0) * 2 ** 21;
  const ram = o.ramBytes ?? 2 ** 30 + huge;
  const mem = new MachineMemory({ nodes: [{ start: 0, size: ram }], seed: o.seed ?? 1, hugetlb: o.hugetlb });
  let swiotlb: SwiotlbPool | undefined;
  if (o.swiotlb ?? true) {
    // The pool is a boot-time allocation: take a 4 MiB unmovable block so no folio shares it.
    const id = mem.allocFolio(10, { movable: false });
    swiotlb = new SwiotlbPool({ start: mem.folios.head[id] * PAGE_SIZE, size: 4 * 2 ** 20 });
  }
  const sys = new DmaSystem({ memory: mem, swiotlb, debug: new DmaDebug(o.debug ?? true) });
  const mm = new AddressSpace(mem, { thp: o.thp ?? "always" });
  return { mem, mm, sys };
}

/**
 * Adds a DMA device to the machine. O(1).
 * @returns the device and its IOMMU domain (undefined for dma-direct).
 * @throws RangeError when the name is taken or an option is bad.
 */
export function addDevice(
  m: Testbed,
  name: string,
  o: SubsysDeviceOptions = {},
): { dev: DmaDevice; domain: IommuDomain | undefined } {
  const domain = o.iommu ? new IommuDomain({ type: "dma", name: `${name} domain` }) : undefined;
  return { dev: m.sys.addDevice({ name, forceSwiotlb: o.forceSwiotlb, dmaMask: o.dmaMask }, domain), domain };
}
