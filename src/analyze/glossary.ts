/**
 * The glossary: one or two sentences for every term phyr prints (terminal summary, HTML report,
 * JSON field names), each with the kernel source it comes from. `phyr explain [TERM]` prints it and
 * the HTML report renders the same entries. Terms marked `design` are phyr's own (no kernel file).
 */

import { FORMATS } from "../formats/index.js";

/** One glossary entry. */
export interface GlossaryEntry {
  /** The term as phyr prints it (lower-case lookup key). */
  term: string;
  /** Other spellings that find the entry (`phyr explain iova`). */
  aliases: readonly string[];
  /** One or two sentences. */
  text: string;
  /** The kernel file and function (or structure) the term comes from; `phyr design` for our own. */
  source: string;
}

/** Extra sentence per format name (the kernel file comes from the format's own `kernelSource`). */
const FORMAT_TEXT: Readonly<Record<string, string>> = {
  pages:
    "The struct page * array that pin_user_pages() fills today: one 8-byte pointer per 4 KiB page touched, however contiguous the memory is.",
  scatterlist:
    "struct scatterlist entries (32 B each) built by sg_alloc_table_from_pages_segment(), one per physically contiguous segment of at most the segment limit, plus the sg_table chaining pages.",
  "biovec-page":
    "Single-page struct bio_vec entries (16 B each), one per page, as a bio built page by page holds them.",
  biovec:
    "Multi-page struct bio_vec entries (16 B each), one per contiguous run (bv_len is a u32), as bio_add_page() merges them.",
  phyr16:
    "struct phys_vec { paddr, len } (16 B per range): the physical range list of the phyr design, byte-exact, no flags.",
  pfnbatch: "iommufd's struct pfn_batch: a u64 pfn and a u32 count per run (12 B), page-granular.",
  jason8:
    "Jason Gunthorpe's proposed 8-byte word per naturally aligned power-of-two chunk (frame, order, mode), after a 24-byte header.",
  rlist: "Jason Gunthorpe's unmerged 2023 rlist prototype: a variable-size entry per range.",
  compact:
    "phyr's compact store: 2 to 4 u32 words per range in 4 KiB chunks, keeping flags and providers (phyr design).",
  packed:
    "phyr's bit-packed archival form with a restart index every 64 entries (phyr design; no kernel structure).",
};

const TERMS: readonly GlossaryEntry[] = [
  {
    term: "run",
    aliases: ["runs", "contiguous run", "average run", "avg run"],
    text: "Pages whose virtual and physical addresses both continue: one physically contiguous piece of a buffer, as page-types -l lists them. Counted only where pagemap gave real frame numbers.",
    source: "tools/mm/page-types.c show_page_range(); fs/proc/task_mmu.c pagemap_read()",
  },
  {
    term: "buffer",
    aliases: ["buffers"],
    text: "What phyr analyses as one unit: the resident memory of one process (its VMAs with memory, in VA order) or one --range of one process. Each buffer is costed as if pinned and DMA-mapped whole.",
    source: "phyr design (compare mm/gup.c pin_user_pages() of one VA range)",
  },
  {
    term: "frame number",
    aliases: ["pfn", "pfns", "frame numbers", "hidden frame numbers"],
    text: "The physical page frame number of a virtual page, read from /proc/PID/pagemap bits 0-54. Without CAP_SYS_ADMIN the kernel zeroes it, so no physical contiguity can be measured.",
    source: "fs/proc/task_mmu.c pagemap_open() (show_pfn), pte_to_pagemap_entry()",
  },
  {
    term: "pin ops",
    aliases: ["pin calls", "pin", "pinning", "range pinning"],
    text: "Calls that take a pin reference on user memory so a device can DMA to it. Today's VFIO type1 pins in batches of struct page pointers; the design pins a whole physical range per call.",
    source: "mm/gup.c pin_user_pages_remote(); drivers/vfio/vfio_iommu_type1.c vfio_pin_pages_remote()",
  },
  {
    term: "vfio type1",
    aliases: ["type1", "vfio"],
    text: "The VFIO IOMMU backend that maps a VM's guest memory for device assignment: it pins pages and calls iommu_map() once per physically contiguous chunk it finds.",
    source: "drivers/vfio/vfio_iommu_type1.c vfio_pin_map_dma()",
  },
  {
    term: "kernel iova",
    aliases: ["kernel", "iova", "kernel placement"],
    text: "IOVA placement as the DMA API does it today: one size-aligned IOVA range for the whole mapping, so a physical 2 MiB or 1 GiB page lands at an IOVA that may not be aligned to it and must be mapped with smaller leaves.",
    source:
      "drivers/iommu/dma-iommu.c iommu_dma_alloc_iova(), iommu_dma_map_sg(); drivers/iommu/iova.c alloc_iova_fast()",
  },
  {
    term: "congruent",
    aliases: ["congruent iova", "congruent placement"],
    text: "phyr's IOVA placement: the IOVA base is chosen so each segment keeps IOVA = physical address modulo the largest page size, so huge physical pages map as huge IOMMU leaves.",
    source: "phyr design (compare drivers/iommu/dma-iommu.c dma_iova_try_alloc() phys hint)",
  },
  {
    term: "leaves",
    aliases: ["leaf", "leaf entries", "by size"],
    text: "IOMMU page-table entries that map memory (not lower tables), by page size: each chunk of a mapping gets the largest page size its IOVA, physical address and length allow.",
    source: "drivers/iommu/iommu.c __iommu_map(), iommu_pgsize()",
  },
  {
    term: "tables",
    aliases: ["table pages", "page-table pages", "iommu page sizes"],
    text: "IOMMU page-table pages (4 KiB each, all levels including the root) a mapping needs; larger leaves need fewer lower-level tables.",
    source:
      "drivers/iommu/io-pgtable-arm.c __arm_lpae_map(); drivers/iommu/generic_pt/iommu_pt.h (x86-64, AMD v1)",
  },
  {
    term: "iotlb",
    aliases: ["iotlb entries"],
    text: "The IOMMU's translation cache: one entry per leaf it caches, so fewer, larger leaves mean fewer IOTLB misses and invalidations.",
    source: "include/linux/iommu.h struct iommu_iotlb_gather; drivers/iommu/iommu.c iommu_iotlb_sync()",
  },
  {
    term: "mtt",
    aliases: ["mtt entries", "rdma", "rdma page sizes", "best page", "registration", "registrations"],
    text: "RDMA memory translation table entries of a memory registration: one per block of the best page size ib_umem_find_best_pgsz() picks for that registration. phyr sums them over registrations (one per VA-contiguous piece of a buffer), so the best page is per registration.",
    source:
      "drivers/infiniband/core/umem.c ib_umem_find_best_pgsz(); include/rdma/ib_umem.h ib_umem_num_dma_blocks()",
  },
  {
    term: "prp",
    aliases: ["prp entries", "prp list"],
    text: "NVMe Physical Region Page entries: one 8-byte DMA address per device page (4 KiB) of an I/O, in PRP1/PRP2 or chained PRP list pages.",
    source: "drivers/nvme/host/pci.c nvme_pci_setup_data_prp()",
  },
  {
    term: "sgl",
    aliases: ["sgl descriptors", "nvme sgl"],
    text: "NVMe Scatter Gather List descriptors: one 16-byte {address, length} descriptor per DMA-contiguous segment of an I/O.",
    source: "drivers/nvme/host/pci.c nvme_pci_setup_data_sgl()",
  },
  {
    term: "bus_addr",
    aliases: ["bus address", "bus_addr distance", "distance"],
    text: "P2P map type: the two devices share a PCI switch, so DMA goes by PCI bus address without the host bridge. The distance is the number of hops through the PCI hierarchy between them (lower is closer).",
    source: "drivers/pci/p2pdma.c calc_map_type_and_dist(), enum pci_p2pdma_map_type PCI_P2PDMA_MAP_BUS_ADDR",
  },
  {
    term: "thru_host_bridge",
    aliases: ["through host bridge", "host bridge"],
    text: "P2P map type: the path goes through the root complex, allowed only for allowlisted host bridges or CPUs that forward P2P; DMA uses the CPU physical address through the IOMMU.",
    source: "drivers/pci/p2pdma.c calc_map_type_and_dist(), pci_p2pdma_whitelist",
  },
  {
    term: "other",
    aliases: ["not_supported", "none", "other pairs"],
    text: "P2P pairs that are neither bus-address nor through-host-bridge: NOT_SUPPORTED (no allowed path, e.g. different host bridges not on the allowlist, or ACS redirect) or NONE (not evaluated).",
    source: "drivers/pci/p2pdma.c calc_map_type_and_dist(), PCI_P2PDMA_MAP_NOT_SUPPORTED",
  },
  {
    term: "thp",
    aliases: ["transparent huge pages", "huge page"],
    text: "Transparent huge pages: 2 MiB folios the kernel gives anonymous memory when it can, so a buffer on them has 2 MiB physical runs. Read from /proc/kpageflags (KPF_THP) where readable.",
    source: "mm/huge_memory.c do_huge_pmd_anonymous_page(); fs/proc/page.c stable_page_flags()",
  },
  {
    term: "hugetlb",
    aliases: ["hugetlbfs", "1g pages"],
    text: "Pages from the hugetlb pools (2 MiB or 1 GiB) reserved ahead and mapped explicitly; read from /proc/kpageflags (KPF_HUGE).",
    source: "mm/hugetlb.c alloc_hugetlb_folio(); fs/proc/page.c stable_page_flags()",
  },
  {
    term: "dma_map_sg",
    aliases: ["dma map", "dma mapping"],
    text: "Today's DMA API call that maps a scatterlist for a device, merging segments where the IOMMU allows; the design maps a physical range list instead.",
    source: "kernel/dma/mapping.c dma_map_sg_attrs(); drivers/iommu/dma-iommu.c iommu_dma_map_sg()",
  },
  {
    term: "model",
    aliases: ["scenario", "scenarios", "simulated", "reference machine", "reference"],
    text: "A number computed on phyr's simulated machine, not read from this one: the fixed consumer scenarios of `phyr simulate` and the reference machine (a documented simulated server).",
    source: "phyr design (src/subsys scenarios, src/machine reference machine)",
  },
  {
    term: "kernel way",
    aliases: ["baseline"],
    text: "What today's kernel does for the same work (page arrays, scatterlists, page-at-a-time pinning, size-aligned IOVAs), computed by the same model next to the phyr design.",
    source: "mm/gup.c, lib/scatterlist.c, drivers/vfio/vfio_iommu_type1.c, drivers/iommu/dma-iommu.c",
  },
  {
    term: "design",
    aliases: ["phyr design", "phyr"],
    text: "The physical range list design: memory described as (physical address, length) ranges end to end, pinned, mapped and handed to devices as ranges.",
    source: "phyr design (compare include/linux/types.h struct phys_vec)",
  },
];

function formatEntries(): GlossaryEntry[] {
  return FORMATS.map((f) => ({
    term: f.name,
    aliases: [],
    text: FORMAT_TEXT[f.name] ?? `The ${f.name} representation of a page list.`,
    source: f.kernelSource,
  }));
}

/** Every glossary entry: the terms above, then one per format name. Built once at load. */
export const GLOSSARY: readonly GlossaryEntry[] = [...TERMS, ...formatEntries()];

/**
 * Finds the entry for `term` by its name or an alias, case- and separator-insensitively.
 * O(entries x aliases).
 * @param term the word as a user types it (`IOTLB`, `bus-addr`, `phyr16`).
 * @returns the entry, or undefined when no term or alias matches.
 */
export function findGlossaryEntry(term: string): GlossaryEntry | undefined {
  const key = normalize(term);
  return GLOSSARY.find((e) => normalize(e.term) === key || e.aliases.some((a) => normalize(a) === key));
}

function normalize(s: string): string {
  return s
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, " ");
}
