/**
 * Virtual memory areas (include/linux/mm_types.h struct vm_area_struct): what backs each range
 * of an address space and how faults there are served.
 */
import type { AllocOptions } from "../mem/index.js";
import type { MappedFile } from "./file.js";

/**
 * What backs a VMA:
 * - `anon`: private anonymous memory (THP per policy);
 * - `file`: a shared file mapping through the page cache;
 * - `hugetlb`: hugetlbfs pages of 2 MiB or 1 GiB;
 * - `dax`: direct mapping of a pgmap's frames (fsdax / device-dax pmem, or PCI_P2PDMA BAR memory);
 * - `pfnmap`: a device mmap of a BAR with remap_pfn_range (VM_PFNMAP | VM_IO): no struct pages.
 */
export type VmaKind = "anon" | "file" | "hugetlb" | "dax" | "pfnmap";

/** Transparent huge page policy (/sys/kernel/mm/transparent_hugepage/enabled). */
export type ThpPolicy = "never" | "madvise" | "always";

/** A mapping request. */
export interface MmapSpec {
  kind: VmaKind;
  /** Length in bytes (page aligned; hugetlb: a multiple of the huge page size). */
  len: number;
  /** Fixed start address (MAP_FIXED); chosen by the address space when omitted. */
  start?: number;
  /** PROT_WRITE. Default true. */
  write?: boolean;
  /** MADV_HUGEPAGE (anon, for the "madvise" THP policy). */
  hugepage?: boolean;
  /** hugetlb page size. Default "2M". */
  hugeSize?: "2M" | "1G";
  /** The file of a `file` mapping. */
  file?: MappedFile;
  /** Byte offset into the file / pgmap / BAR. Default 0. */
  offset?: number;
  /** Pgmap id of a `dax` mapping. */
  pgmap?: number;
  /** Physical start of a `pfnmap` mapping's BAR. */
  phys?: number;
  /** P2P provider index of a `pfnmap` BAR (1..0xffff): carried by pinned entries. */
  provider?: number;
  /** Placement of anonymous/file folios (node, zones, CMA), like mbind. */
  policy?: AllocOptions;
}

/** A mapped area: the request plus its final range. */
export interface Vma {
  readonly start: number;
  readonly end: number;
  readonly kind: VmaKind;
  readonly write: boolean;
  readonly hugepage: boolean;
  readonly hugeSize: "2M" | "1G";
  readonly file: MappedFile | undefined;
  readonly offset: number;
  readonly pgmap: number;
  readonly phys: number;
  readonly provider: number;
  readonly policy: AllocOptions;
}
