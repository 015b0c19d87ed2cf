/**
 * Memory hot-add and hot-remove (mm/memory_hotplug.c), whole 128 MiB sections at a time.
 *
 * hotAddMemory: add_memory() + online_pages(): the sections become present (per subsection), the
 * frames go to the buddy allocator in ZONE_NORMAL or ZONE_MOVABLE, "System RAM" appears in iomem.
 *
 * hotRemoveMemory: offline_pages() + remove_memory(): the range is isolated (its free blocks leave
 * the allocator, like MIGRATE_ISOLATE), every folio in it must be movable and unpinned — otherwise
 * the call fails with a MemError naming the first such frame and nothing changes — then each folio
 * migrates out, free hugetlb pages are dissolved (a free 1 GiB page reaching past the range gives
 * its other frames back to the buddy allocator), and the sections disappear.
 *
 * Where the model differs from the kernel: offline_pages() retries migration of a pinned or busy
 * frame until it succeeds or a signal arrives; the model fails at once with the frame named (what
 * the retry loop would report as -EBUSY). In-use hugetlb folios are treated as unmovable (the kernel
 * can migrate them when hugepage_migration_supported()).
 */
import { checkRange, hex, MemError, ORDER_1G, PAGE_SIZE } from "../core/index.js";
import type { MachineMemory } from "./memory.js";
import { SubKind } from "./sections.js";
import { DMA32_END_PFN, FolioFlag, MigrateType, PAGES_PER_SECTION, SECTION_SIZE, Zone } from "./types.js";

/**
 * Hot-adds `[start, start+size)` as System RAM on `node`. O(sections).
 * @throws RangeError for a bad range, node or alignment; MemError HOTPLUG_OVERLAP when any of it is
 *   present, NO_HOTPLUG when the spec's zoneDevice is false.
 */
export function hotAddMemory(
  mem: MachineMemory,
  start: number,
  size: number,
  opts: { node?: number; movable?: boolean } = {},
): void {
  checkSections("hot-add", start, size);
  if (mem.spec.zoneDevice === false) {
    throw new MemError(
      "NO_HOTPLUG",
      `Cannot hot-add ${hex(start)}+${hex(size)}: this architecture has no memory hotplug (zoneDevice false)`,
    );
  }
  const node = opts.node ?? 0;
  if (!Number.isInteger(node) || node < 0 || node >= mem.nodeCount) {
    throw new RangeError(`hot-add node ${node} is invalid: the machine has ${mem.nodeCount} node(s)`);
  }
  const pfn = start / PAGE_SIZE;
  const n = size / PAGE_SIZE;
  if (mem.sections.anyPresent(pfn, n)) {
    throw new MemError(
      "HOTPLUG_OVERLAP",
      `Cannot hot-add ${hex(start)}+${hex(size)}: part of it is already present`,
      pfn,
    );
  }
  mem.iomem.insert(start, size, "System RAM");
  mem.sections.mark(pfn, n, SubKind.RAM, node, false);
  const zone = opts.movable ? Zone.MOVABLE : Zone.NORMAL;
  if (zone === Zone.NORMAL && pfn < DMA32_END_PFN) {
    const mid = Math.min(pfn + n, DMA32_END_PFN);
    mem.area(node, Zone.DMA32, false).addRange(pfn, mid - pfn);
    if (pfn + n > mid) mem.area(node, Zone.NORMAL, false).addRange(mid, pfn + n - mid);
  } else mem.area(node, zone, false).addRange(pfn, n);
  mem.ramPages += n;
}

/**
 * Offlines and removes `[start, start+size)`: migrates movable folios out, dissolves free hugetlb
 * pages, removes the sections. O(folios in range * migration + frames in range).
 * @throws RangeError for a bad range; MemError NOT_RAM (part is not online RAM), OFFLINE_PINNED or
 *   OFFLINE_UNMOVABLE naming the frame (state unchanged), NOMEM when migration targets run out
 *   (state unchanged).
 */
export function hotRemoveMemory(mem: MachineMemory, start: number, size: number): void {
  checkSections("hot-remove", start, size);
  const pfn = start / PAGE_SIZE;
  const n = size / PAGE_SIZE;
  if (!mem.sections.allOf(pfn, n, SubKind.RAM)) {
    throw new MemError(
      "NOT_RAM",
      `Cannot hot-remove ${hex(start)}+${hex(size)}: not all of it is online System RAM`,
      pfn,
    );
  }
  const f = mem.folios;
  const ids = foliosIn(mem, pfn, n);
  const move: number[] = [];
  const dissolve: number[] = [];
  for (const id of ids) {
    const head = f.head[id];
    if (f.flags[id] & FolioFlag.POOL_FREE) {
      dissolve.push(id);
      continue;
    }
    if (f.ref[id] !== 1) {
      throw new MemError(
        "OFFLINE_PINNED",
        `Cannot offline ${hex(start)}+${hex(size)}: pfn ${hex(head)} is pinned or referenced (refcount ${f.ref[id]}, ${f.pins[id]} pin(s))`,
        head,
      );
    }
    if (f.flags[id] & (FolioFlag.KERNEL | FolioFlag.HUGETLB) || f.owner[id] < 0) {
      throw new MemError(
        "OFFLINE_UNMOVABLE",
        `Cannot offline ${hex(start)}+${hex(size)}: pfn ${hex(head)} is unmovable`,
        head,
      );
    }
    move.push(id);
  }
  // Isolate: take the range's free blocks out of the allocator so targets land elsewhere.
  const isolated = mem.areas.map((a) => collectFree(a, pfn, n));
  for (const a of mem.areas) a.removeRange(pfn, n);
  const targets: number[] = [];
  try {
    for (const id of move) {
      targets.push(
        mem.allocFolio(f.order[id], { node: f.node[id], zones: [Zone.MOVABLE, Zone.NORMAL, Zone.DMA32] }),
      );
    }
  } catch (e) {
    for (const t of targets) mem.putFolio(t);
    mem.areas.forEach((a, i) => {
      for (let j = 0; j < isolated[i].length; j += 2) a.addRange(isolated[i][j], isolated[i][j + 1]);
    });
    throw e;
  }
  move.forEach((id, i) => {
    mem.moveFolio(id, targets[i]);
  });
  for (const a of mem.areas) a.removeRange(pfn, n);
  for (const id of dissolve) {
    // dissolve_free_hugetlb_folio: the folio goes back to the buddy allocator; a 1 GiB folio may
    // extend past the offlined sections, and those frames stay online as free memory.
    const size2 = f.order[id] === ORDER_1G ? "1G" : "2M";
    const list = mem.hugetlbFree[size2];
    list.splice(list.indexOf(id), 1);
    mem.hugetlbTotal[size2]--;
    const head = f.head[id];
    const fend = head + f.npages(id);
    const area = mem.area(f.node[id], f.zone[id], f.mt[id] === MigrateType.CMA);
    f.remove(id);
    if (head < pfn) area.addRange(head, pfn - head);
    if (fend > pfn + n) area.addRange(pfn + n, fend - pfn - n);
  }
  mem.sections.mark(pfn, n, SubKind.NONE, 0, false);
  mem.iomem.cut(start, size, "System RAM");
  mem.ramPages -= n;
}

/** Distinct live folios with a frame in [pfn, pfn+n), in frame order. O(frames in touched sections). */
export function foliosIn(mem: MachineMemory, pfn: number, n: number): number[] {
  const out: number[] = [];
  const seen = new Set<number>();
  let last = -1;
  for (let s = pfn; s < pfn + n; s += PAGES_PER_SECTION) {
    const map = mem.folios.sections.get(Math.floor(s / PAGES_PER_SECTION));
    if (!map) continue;
    for (let i = 0; i < map.length; i++) {
      const id = map[i] - 1;
      if (id >= 0 && id !== last) {
        if (!seen.has(id)) {
          seen.add(id);
          out.push(id);
        }
        last = id;
      }
    }
  }
  return out;
}

function collectFree(
  a: { forEachFree(fn: (p: number, n: number) => void): void },
  pfn: number,
  n: number,
): number[] {
  const out: number[] = [];
  a.forEachFree((p, k) => {
    if (p >= pfn && p < pfn + n) out.push(p, k);
  });
  return out;
}

function checkSections(what: string, start: number, size: number): void {
  checkRange(what, start, size);
  if (start % SECTION_SIZE || size % SECTION_SIZE) {
    throw new RangeError(
      `${what} ${hex(start)}+${hex(size)} is invalid: memory blocks are whole 128 MiB sections (SECTION_SIZE_BITS 27)`,
    );
  }
}
