/**
 * What the reference machine's processes look like through /proc: page runs formed from the
 * model's page tables by the rule linux/pagemap.ts applies to pagemap (tools/mm/page-types.c -l: a
 * run continues while the virtual page and the frame both continue and the flags are equal) and
 * split the way linux/kpageflags.ts classifyRuns splits them (at a change of kind and at every THP
 * or hugetlb compound head), and smaps counters per VMA (fs/proc/task_mmu.c smaps_pte_entry /
 * smaps_pmd_entry / smaps_hugetlb_range).
 *
 * Page flags follow fs/proc/task_mmu.c pte_to_pagemap_entry: PM_FILE for a page that is not
 * anonymous (page cache, shared hugetlb), PM_MMAP_EXCLUSIVE when mapped once, PM_SOFT_DIRTY since a
 * new VMA carries VM_SOFTDIRTY.
 */

import { FolioFlag, type MachineMemory } from "../mem/index.js";
import { PteFlag, pteFlags, ptePfn } from "../mm/index.js";
import { clipRuns, PageRuns, RunFlag, RunKind } from "./page-runs.js";
import type { ReferenceProcess, ReferenceVma } from "./processes.js";
import type { VmaStats } from "./source-types.js";

/**
 * Every present page of a process as runs over its whole address space. O(page-table leaves).
 * @param mem the machine's memory (folio flags and map counts)
 * @param p the process
 * @returns runs in VA order, classified (BASE, THP, HUGETLB), over [first VMA start, last VMA end)
 *   (pages between VMAs count as unmapped)
 */
export function processRuns(mem: MachineMemory, p: ReferenceProcess): PageRuns {
  const first = p.vmas[0]?.vma.start ?? 0;
  const last = p.vmas.at(-1)?.vma.end ?? 0;
  const out = new PageRuns(first, last, 1024);
  const f = mem.folios;
  let nextVa = -1;
  let nextPfn = -1;
  let curFlags = -1;
  let curKind = -1;
  let vi = 0;
  p.mm.pt.forEachLeaf((va, size, e) => {
    if (pteFlags(e) & (PteFlag.DEVPRIV | PteFlag.SPECIAL)) return;
    while (vi < p.vmas.length && p.vmas[vi].vma.end <= va) vi++;
    const v = p.vmas[vi];
    const pfn = ptePfn(e);
    const id = f.folioOfPfn(pfn);
    const ff = id >= 0 ? f.flags[id] : 0;
    const kind = ff & FolioFlag.HUGETLB ? RunKind.HUGETLB : ff & FolioFlag.THP ? RunKind.THP : RunKind.BASE;
    const file = (ff & FolioFlag.FILE) !== 0 || (v?.shared ?? false);
    const flags =
      RunFlag.PRESENT |
      RunFlag.SOFT_DIRTY |
      (file ? RunFlag.FILE : 0) |
      (id >= 0 && f.mapcount[id] === 1 ? RunFlag.EXCLUSIVE : 0);
    const n = size / 4096;
    out.presentPages += n;
    if (
      kind === RunKind.BASE &&
      curKind === RunKind.BASE &&
      va === nextVa &&
      pfn === nextPfn &&
      flags === curFlags
    ) {
      out.npages[out.count - 1] += n;
    } else out.push(va, pfn, n, flags, kind);
    nextVa = va + size;
    nextPfn = pfn + n;
    curFlags = flags;
    curKind = kind;
  });
  out.unmappedPages = out.totalPages - out.presentPages;
  return out;
}

/**
 * smaps counters of one VMA from the page table: Rss counts 4 KiB and THP leaves (hugetlb pages
 * are counted apart, in Shared/Private_Hugetlb, as smaps_hugetlb_range does), AnonHugePages the THP
 * leaves. Every page is mapped once, so Pss equals Rss. O(leaves of the VMA).
 */
export function vmaStats(
  mem: MachineMemory,
  p: ReferenceProcess,
  rv: ReferenceVma,
  runs: PageRuns,
): VmaStats {
  const v = rv.vma;
  const l = rv.layout;
  const part = clipRuns([runs], v.start, v.end);
  let rss = 0;
  let anon = 0;
  let thp = 0;
  let huge = 0;
  const f = mem.folios;
  for (let i = 0; i < part.count; i++) {
    const bytes = part.npages[i] * 4096;
    if (part.kind[i] === RunKind.HUGETLB) {
      huge += bytes;
      continue;
    }
    rss += bytes;
    if (part.kind[i] === RunKind.THP) thp += bytes;
    const id = f.folioOfPfn(part.pfn[i]);
    if (id >= 0 && f.flags[id] & FolioFlag.ANON) anon += bytes;
  }
  const hugetlb = v.kind === "hugetlb";
  const eligible = v.kind === "anon" && (p.mm.thp === "always" || (p.mm.thp === "madvise" && v.hugepage));
  const flags = ["rd"];
  if (v.write) flags.push("wr");
  if (l.kind === "text") flags.push("ex");
  if (rv.shared) flags.push("sh");
  flags.push("mr", "mw", "me");
  if (rv.shared) flags.push("ms");
  if (l.path === "[stack]") flags.push("gd");
  if (v.write && !rv.shared) flags.push("ac");
  if (hugetlb) flags.push("ht");
  if (v.hugepage) flags.push("hg");
  flags.push("sd");
  return {
    start: v.start,
    end: v.end,
    perms: rv.perms,
    offset: v.offset,
    dev: rv.dev,
    inode: rv.inode,
    path: l.path,
    size: v.end - v.start,
    rss,
    pss: rss,
    anonymous: anon,
    anonHugePages: thp,
    swap: 0,
    locked: 0,
    hugetlb: huge,
    kernelPageSize: hugetlb ? (v.hugeSize === "1G" ? 2 ** 30 : 2 ** 21) : 4096,
    thpEligible: eligible,
    vmFlags: flags,
  };
}
