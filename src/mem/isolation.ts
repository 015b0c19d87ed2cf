/**
 * Pageblock isolation and the long-term pinnability rule that reads it.
 *
 * - {@link isolatePageblocks} / {@link undoIsolatePageblocks}: mm/page_isolation.c
 *   start_isolate_page_range() / undo_isolate_page_range(), as alloc_contig_range (CMA, gigantic
 *   hugetlb allocation, virtio-mem) and memory offlining use them: every pageblock of the range
 *   reads MIGRATE_ISOLATE (the PB_migrate_isolate bit, which get_pfnblock_migratetype() reports as
 *   MIGRATE_ISOLATE) and its free pages leave the allocator, so nothing new is placed there; frames
 *   freed inside an isolated block stay out too. The model isolates whole MAX_PAGE_ORDER blocks
 *   (4 MiB) so no free buddy block straddles the range (docs/kernel-fidelity.md).
 * - {@link folioIsLongtermPinnable}: include/linux/mm.h folio_is_longterm_pinnable() of Linux 7.2.
 */
import { hex, MemError, PAGE_SIZE } from "../core/index.js";
import type { MachineMemory } from "./memory.js";
import { SubKind } from "./sections.js";
import { MAX_ORDER_PAGES, MigrateType, type MigrateTypeId, PAGEBLOCK_PAGES, Zone } from "./types.js";

function checkIsolateRange(mem: MachineMemory, start: number, size: number): [number, number] {
  const align = MAX_ORDER_PAGES * PAGE_SIZE;
  if (
    !Number.isInteger(start) ||
    !Number.isInteger(size) ||
    size <= 0 ||
    start < 0 ||
    start % align ||
    size % align
  ) {
    throw new RangeError(
      `isolate range ${hex(start)}+${hex(size)} is invalid: the model isolates whole 4 MiB MAX_PAGE_ORDER blocks`,
    );
  }
  const pfn = start / PAGE_SIZE;
  const n = size / PAGE_SIZE;
  if (!mem.sections.allOf(pfn, n, SubKind.RAM)) {
    throw new RangeError(`isolate range ${hex(start)}+${hex(size)} is invalid: not all online System RAM`);
  }
  return [pfn, n];
}

/**
 * start_isolate_page_range(): marks every pageblock of `[start, start+size)` MIGRATE_ISOLATE and
 * takes its free frames out of the allocator. O(pageblocks + free blocks).
 * @throws RangeError for a range that is not 4 MiB aligned online RAM; MemError EBUSY when a
 *   pageblock of it is already isolated (nothing changes then).
 */
export function isolatePageblocks(mem: MachineMemory, start: number, size: number): void {
  const [pfn, n] = checkIsolateRange(mem, start, size);
  for (let b = pfn / PAGEBLOCK_PAGES; b < (pfn + n) / PAGEBLOCK_PAGES; b++) {
    if (mem.isolatedBlocks.has(b)) {
      throw new MemError(
        "EBUSY",
        `Cannot isolate ${hex(start)}+${hex(size)}: pageblock at pfn ${hex(b * PAGEBLOCK_PAGES)} is already isolated`,
        b * PAGEBLOCK_PAGES,
      );
    }
  }
  mem.areas.forEach((a, ai) => {
    const taken: number[] = [];
    a.forEachFree((p, k) => {
      const lo = Math.max(p, pfn);
      const hi = Math.min(p + k, pfn + n);
      if (lo < hi) taken.push(lo, hi - lo);
    });
    a.removeRange(pfn, n);
    for (let i = 0; i < taken.length; i += 2) mem.isolatedFree.push(taken[i], taken[i + 1], ai);
  });
  for (let b = pfn / PAGEBLOCK_PAGES; b < (pfn + n) / PAGEBLOCK_PAGES; b++) mem.isolatedBlocks.add(b);
}

/**
 * undo_isolate_page_range(): the pageblocks return to their migrate type and the free frames held
 * back inside them return to the allocator. O(pageblocks + held blocks).
 * @throws RangeError for a bad range; MemError EINVAL when a pageblock of it is not isolated.
 */
export function undoIsolatePageblocks(mem: MachineMemory, start: number, size: number): void {
  const [pfn, n] = checkIsolateRange(mem, start, size);
  for (let b = pfn / PAGEBLOCK_PAGES; b < (pfn + n) / PAGEBLOCK_PAGES; b++) {
    if (!mem.isolatedBlocks.has(b)) {
      throw new MemError(
        "EINVAL",
        `Cannot undo isolation of ${hex(start)}+${hex(size)}: pageblock at pfn ${hex(b * PAGEBLOCK_PAGES)} is not isolated`,
        b * PAGEBLOCK_PAGES,
      );
    }
  }
  for (let b = pfn / PAGEBLOCK_PAGES; b < (pfn + n) / PAGEBLOCK_PAGES; b++) mem.isolatedBlocks.delete(b);
  const keep: number[] = [];
  const held = mem.isolatedFree;
  for (let i = 0; i < held.length; i += 3) {
    const [p, k, ai] = [held[i], held[i + 1], held[i + 2]];
    if (p >= pfn && p + k <= pfn + n) mem.areas[ai].addRange(p, k);
    else keep.push(p, k, ai);
  }
  held.length = 0;
  held.push(...keep);
}

/**
 * get_pageblock_migratetype() of the block holding `pfn` for folio `id`: MIGRATE_ISOLATE while the
 * block is isolated, else the type the folio was allocated from. O(1).
 */
export function folioMigratetype(mem: MachineMemory, id: number): MigrateTypeId {
  const head = mem.folios.head[id];
  if (mem.isolatedBlocks.size > 0 && mem.isolatedBlocks.has(Math.floor(head / PAGEBLOCK_PAGES)))
    return MigrateType.ISOLATE;
  return mem.folios.mt[id] as MigrateTypeId;
}

/**
 * include/linux/mm.h folio_is_longterm_pinnable() (7.2), in the kernel's order: a folio whose
 * pageblock is MIGRATE_CMA or MIGRATE_ISOLATE is not; the zero page is; device-coherent memory is
 * not; fsdax is not; otherwise anything outside ZONE_MOVABLE is. Hugetlb folios get no exemption.
 * O(1).
 */
export function folioIsLongtermPinnable(mem: MachineMemory, id: number): boolean {
  const mt = folioMigratetype(mem, id);
  if (mt === MigrateType.CMA || mt === MigrateType.ISOLATE) return false;
  if (id === mem.zeroFolio) return true;
  const f = mem.folios;
  if (f.pgmap[id] !== 0) {
    const t = mem.pgmaps[f.pgmap[id] - 1].type;
    if (t === "COHERENT" || t === "FS_DAX") return false;
  }
  return f.zone[id] !== Zone.MOVABLE;
}
