/**
 * The description a {@link MachineMemory} is built from, and its validation.
 */
import { checkAddr, checkCount, checkRange, hex, PAGE_SIZE } from "../core/index.js";

/** A machine's physical memory layout. All addresses and sizes in bytes. */
export interface MemorySpec {
  /** Seed for everything random (aging). Default 1. */
  seed?: number;
  /** System RAM per NUMA node, page aligned, ascending and disjoint. Frames below 4 GiB are ZONE_DMA32. */
  nodes: { start: number; size: number }[];
  /** Bytes at the top of the last node placed in ZONE_MOVABLE (like `movablecore=`), 128 MiB aligned. */
  movable?: number;
  /** Bytes of CMA pageblocks (MIGRATE_CMA) at the top of node 0's highest non-movable zone, 2 MiB aligned. */
  cma?: number;
  /** e820 reserved ranges (not RAM), listed as "Reserved" in /proc/iomem. */
  reserved?: { start: number; size: number }[];
  /** Persistent memory, each given a pgmap: FS_DAX (pmem under a filesystem) or GENERIC (device-dax). */
  pmem?: { start: number; size: number; type?: "FS_DAX" | "GENERIC"; name?: string }[];
  /** PCI host bridge windows, listed as "PCI Bus ..." in /proc/iomem; BARs are inserted under them. */
  pciWindows?: { start: number; size: number; name?: string }[];
  /**
   * hugetlbfs pools reserved at boot: counts of 2 MiB and 1 GiB pages, and where they are placed
   * (MachineMemory.addHugetlb): "unmovable" (default), "movable" (ZONE_MOVABLE) or "cma".
   */
  hugetlb?: { pages2M?: number; pages1G?: number; placement?: "unmovable" | "movable" | "cma" };
  /**
   * Architecture profile: true (default, x86-64) when ZONE_DEVICE exists. false models an
   * architecture without memremap_pages() or memory hotplug (s390): no pgmap can be created (so no
   * pmem), memory cannot be hot-added, and P2P memory is known through providers alone.
   */
  zoneDevice?: boolean;
}

/**
 * Validates a spec's shape and ranges. O(ranges).
 * @throws RangeError naming the bad field and value.
 */
export function checkMemorySpec(spec: MemorySpec): void {
  if (!spec || !Array.isArray(spec.nodes) || spec.nodes.length === 0) {
    throw new TypeError(
      "memory spec is invalid: expected nodes: [{ start, size }, ...] with at least one node",
    );
  }
  if (spec.nodes.length > 64)
    throw new RangeError(`memory spec nodes ${spec.nodes.length} is invalid: at most 64 nodes`);
  let prevEnd = 0;
  spec.nodes.forEach((n, i) => {
    checkRange(`node ${i}`, n.start, n.size);
    if (n.start % PAGE_SIZE || n.size % PAGE_SIZE) {
      throw new RangeError(`node ${i} ${hex(n.start)}+${hex(n.size)} is invalid: not page aligned`);
    }
    if (n.start < prevEnd)
      throw new RangeError(`node ${i} start ${hex(n.start)} is invalid: nodes must ascend without overlap`);
    prevEnd = n.start + n.size;
  });
  const last = spec.nodes[spec.nodes.length - 1];
  if (spec.movable !== undefined) {
    checkCount("movable size", spec.movable, last.size);
    if (spec.movable % 2 ** 27 || (last.start + last.size) % 2 ** 27) {
      throw new RangeError(
        `movable size ${hex(spec.movable)} is invalid: ZONE_MOVABLE must cover whole 128 MiB sections`,
      );
    }
  }
  if (spec.cma !== undefined) {
    checkCount("cma size", spec.cma, spec.nodes[0].size);
    if (spec.cma % 2 ** 21)
      throw new RangeError(`cma size ${hex(spec.cma)} is invalid: CMA is made of 2 MiB pageblocks`);
  }
  for (const r of [...(spec.reserved ?? []), ...(spec.pmem ?? []), ...(spec.pciWindows ?? [])]) {
    checkRange("memory spec range", r.start, r.size);
    for (const n of spec.nodes) {
      if (r.start < n.start + n.size && n.start < r.start + r.size) {
        throw new RangeError(
          `memory spec range ${hex(r.start)}+${hex(r.size)} is invalid: it overlaps System RAM`,
        );
      }
    }
  }
  if (spec.zoneDevice === false && (spec.pmem?.length ?? 0) > 0) {
    throw new RangeError("memory spec pmem is invalid: zoneDevice is false, so pmem can get no pgmap");
  }
  checkCount("hugetlb pages2M", spec.hugetlb?.pages2M ?? 0, 1 << 24);
  checkCount("hugetlb pages1G", spec.hugetlb?.pages1G ?? 0, 1 << 16);
  const pl = spec.hugetlb?.placement;
  if (pl !== undefined && pl !== "unmovable" && pl !== "movable" && pl !== "cma") {
    throw new RangeError(
      `hugetlb placement ${String(pl)} is invalid: expected "unmovable", "movable" or "cma"`,
    );
  }
  checkAddr("seed", spec.seed ?? 1);
}
