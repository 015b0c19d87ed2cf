/**
 * Migration of an in-use hugetlb folio for a long-term pin (mm/gup.c
 * collect_longterm_unpinnable_folios -> folio_isolate_hugetlb, migrate_longterm_unpinnable_folios
 * -> migrate_pages with alloc_migration_target, MR_LONGTERM_PIN, GFP_USER under PF_MEMALLOC_PIN).
 *
 * The target comes from mm/hugetlb.c alloc_hugetlb_folio_nodemask(): first a free pool folio that
 * is long-term pinnable (dequeue_hugetlb_folio_node_exact skips the others while PF_MEMALLOC_PIN is
 * set, newest first as the free list is LIFO); otherwise alloc_migrate_hugetlb_folio() allocates a
 * fresh "temporary" folio from the buddy allocator outside ZONE_MOVABLE and CMA (memalloc_pin
 * clears __GFP_MOVABLE) -- but never for a gigantic (1 GiB) page, which then cannot migrate.
 * move_hugetlb_state() hands the temporary flag to the old folio, so after migration the pool keeps
 * its size: the new folio joins it, the old one goes back to the buddy allocator. A dequeued target
 * leaves the old folio in the pool's free list instead.
 */
import { hex, MemError, ORDER_1G, ORDER_2M } from "../core/index.js";
import { folioIsLongtermPinnable } from "./isolation.js";
import type { MachineMemory } from "./memory.js";
import { FolioFlag, Zone } from "./types.js";

/**
 * Migrates hugetlb folio `id` to a long-term pinnable hugetlb folio. O(pool size + 2^order).
 * @returns the new folio id.
 * @throws RangeError for an id that is not a live in-use hugetlb folio; MemError FOLIO_PINNED
 *   (extra references: migration fails), NOMEM (no pinnable pool folio and, for 1 GiB, no fresh
 *   gigantic allocation; for 2 MiB, no free order-9 block outside ZONE_MOVABLE/CMA). Nothing
 *   changes on any error.
 */
export function migrateHugetlbForPin(mem: MachineMemory, id: number): number {
  const f = mem.folios;
  if (
    !Number.isInteger(id) ||
    id < 0 ||
    id >= f.capacity ||
    !f.used[id] ||
    !(f.flags[id] & FolioFlag.HUGETLB) ||
    f.flags[id] & FolioFlag.POOL_FREE
  ) {
    throw new RangeError(`folio id ${id} is invalid: not an in-use hugetlb folio`);
  }
  const pfn = f.head[id];
  if (f.ref[id] !== 1 || f.owner[id] < 0) {
    throw new MemError(
      "FOLIO_PINNED",
      `Cannot migrate hugetlb pfn ${hex(pfn)}: refcount ${f.ref[id]} holds ${f.pins[id]} pin(s) and ${f.gets[id]} extra reference(s)`,
      pfn,
    );
  }
  const size = f.order[id] === ORDER_1G ? "1G" : "2M";
  const free = mem.hugetlbFree[size];
  let to = -1;
  for (let i = free.length - 1; i >= 0; i--) {
    if (folioIsLongtermPinnable(mem, free[i])) {
      to = free[i];
      free.splice(i, 1);
      break;
    }
  }
  let temporary = false;
  if (to < 0) {
    if (size === "1G") {
      throw new MemError(
        "NOMEM",
        `Cannot migrate hugetlb pfn ${hex(pfn)}: no long-term pinnable 1 GiB page is free in the pool, and gigantic pages are never allocated for migration (alloc_migrate_hugetlb_folio)`,
        pfn,
      );
    }
    try {
      to = mem.allocFolio(ORDER_2M, { movable: false, zones: [Zone.NORMAL, Zone.DMA32] });
    } catch (e) {
      if (e instanceof MemError) {
        throw new MemError(
          "NOMEM",
          `Cannot migrate hugetlb pfn ${hex(pfn)}: no pinnable 2 MiB page in the pool and no free order-9 block outside ZONE_MOVABLE and CMA`,
          pfn,
        );
      }
      throw e;
    }
    temporary = true;
  }
  f.flags[to] = FolioFlag.HUGETLB;
  f.ref[to] = 1;
  // moveFolio copies flags, owner and index, repoints the owner's mapping and releases the old
  // folio: a hugetlb folio returns to its pool's free list.
  mem.moveFolio(id, to);
  if (temporary) {
    // move_hugetlb_state: the old folio is now the temporary one and is freed to the buddy allocator.
    free.splice(free.lastIndexOf(id), 1);
    mem.freeToBuddy(id);
  }
  return to;
}
