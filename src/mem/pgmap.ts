/**
 * ZONE_DEVICE page maps (include/linux/memremap.h struct dev_pagemap): a physical range given
 * struct pages in ZONE_DEVICE, of one of five types, each with its rules (docs/kernel-fidelity.md, GUP and memory management):
 *
 * | type | CPU access | GUP | FOLL_LONGTERM | DMA |
 * |---|---|---|---|---|
 * | PRIVATE | none (device-only) | owner only | - | owner only |
 * | COHERENT | yes (CXL-like) | yes | migrate out first | yes |
 * | FS_DAX | yes (pmem under a fs) | yes | refused | yes |
 * | GENERIC | yes (device-dax) | yes | yes | yes |
 * | PCI_P2PDMA | uncached MMIO (a BAR) | yes | yes | via a P2P provider |
 *
 * memremap_pages() hot-adds the range with arch_add_memory(), which works in 2 MiB subsections
 * (mm/memremap.c, mm/sparse.c subsection_map_init): start and size must be subsection aligned,
 * so a 4 KiB BAR cannot get a pgmap of its own and two pgmaps cannot share a subsection.
 */
import { checkRange, hex, MemError } from "../core/index.js";
import { SUBSECTION_SIZE } from "./types.js";

/** The five memory types of include/linux/memremap.h enum memory_type. */
export type PgmapType = "PRIVATE" | "COHERENT" | "FS_DAX" | "GENERIC" | "PCI_P2PDMA";

/** Every pgmap type. */
export const PGMAP_TYPES: readonly PgmapType[] = ["PRIVATE", "COHERENT", "FS_DAX", "GENERIC", "PCI_P2PDMA"];

/** A request to create a pgmap. */
export interface PgmapSpec {
  /** Memory type. */
  type: PgmapType;
  /** First byte (subsection aligned). */
  start: number;
  /** Size in bytes (a multiple of 2 MiB). */
  size: number;
  /** Owner token: for PRIVATE, who may reach the pages (pgmap->owner); any number otherwise. */
  owner?: number;
  /** P2P provider index carried by entries of PCI_P2PDMA pages (1..0xffff); 0 otherwise. */
  provider?: number;
  /** Name for /proc/iomem. */
  name?: string;
}

/** A created pgmap. Frames are allocated from it with a first-fit page bitmap. */
export interface Pgmap {
  /** Index in {@link MachineMemory.pgmaps} (folios store id + 1). */
  readonly id: number;
  readonly type: PgmapType;
  /** First frame. */
  readonly startPfn: number;
  /** Frame count. */
  readonly npages: number;
  readonly owner: number;
  readonly provider: number;
  /** Per frame: 1 when held by a folio. */
  readonly inUse: Uint8Array;
}

/** True when the CPU may load/store the type's pages (everything but PRIVATE). */
export function pgmapCpuAccessible(type: PgmapType): boolean {
  return type !== "PRIVATE";
}

/** True when FOLL_LONGTERM may pin the type's pages in place (GENERIC and PCI_P2PDMA; mm/gup.c folio_is_longterm_pinnable). */
export function pgmapLongtermPinnable(type: PgmapType): boolean {
  return type === "GENERIC" || type === "PCI_P2PDMA";
}

/**
 * Checks the subsection rule for a pgmap request. O(1).
 * @throws RangeError for a bad range; MemError code PGMAP_UNALIGNED naming start and size and why.
 */
export function checkPgmapAlignment(spec: PgmapSpec): void {
  checkRange(`pgmap ${spec.type}`, spec.start, spec.size);
  if (spec.start % SUBSECTION_SIZE !== 0 || spec.size % SUBSECTION_SIZE !== 0) {
    throw new MemError(
      "PGMAP_UNALIGNED",
      `Cannot create ${spec.type} pgmap ${hex(spec.start)}+${hex(spec.size)}: ZONE_DEVICE memory is added in 2 MiB subsections ` +
        `(SUBSECTION_SHIFT 21), so start and size must be multiples of ${hex(SUBSECTION_SIZE)}; a region smaller than a ` +
        `subsection (such as a 4 KiB BAR) cannot get its own pgmap and two pgmaps cannot share a subsection`,
    );
  }
}
