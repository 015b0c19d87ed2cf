/**
 * Pinning a memfd's folios by file offset, without a mapping: the kernel's memfd_pin_folios
 * (mm/gup.c, used by IOMMU_IOAS_MAP_FILE and udmabuf) and, beside it, the design's range pin of a
 * file. A {@link MappedFile} made with `{ hugetlb }` is a hugetlbfs memfd; an ordinary one stands
 * for a shmem memfd of 4 KiB folios.
 *
 * memfd_pin_folios(memfd, start, end, folios, max_folios, &offset): every folio covering the byte
 * range [start, end] is looked up or allocated (memfd_alloc_folio), pinned with one FOLL_PIN
 * reference (try_grab_folio(folio, 1, FOLL_PIN)), and -- the pins being long-term, under
 * memalloc_pin -- a folio that is not long-term pinnable is migrated first
 * (check_and_migrate_movable_folios; hugetlb folios through mem/hugetlb.ts). `offset` is start's
 * byte offset in the first folio.
 */
import { hex, MemError, PAGE_SIZE, PinFailed } from "../core/index.js";
import { FolioFlag, folioIsLongtermPinnable, migrateHugetlbForPin, Zone } from "../mem/index.js";
import { PhyrFlag, PhyrList } from "../phyr/index.js";
import type { MappedFile } from "./file.js";

function checkFileRange(file: MappedFile, start: number, end: number): void {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start > end || end >= 2 ** 52) {
    throw new RangeError(
      `memfd range ${String(start)}..${String(end)} of ${JSON.stringify(file.name)} is invalid: expected 0 <= start <= end (-EINVAL)`,
    );
  }
}

/** Faults in and migrates (long-term) the folios covering pages [first, last]; returns their ids in order. */
function prepareFolios(file: MappedFile, first: number, last: number): number[] {
  const mem = file.mem;
  const f = mem.folios;
  const ids: number[] = [];
  for (let p = first; p <= last; ) {
    let id = file.getPage(p);
    if (!folioIsLongtermPinnable(mem, id)) {
      const head = f.head[id];
      try {
        id =
          f.flags[id] & FolioFlag.HUGETLB
            ? migrateHugetlbForPin(mem, id)
            : mem.migrateFolio(id, { movable: false, zones: [Zone.NORMAL, Zone.DMA32] });
      } catch (e) {
        if (e instanceof MemError) {
          throw new PinFailed(
            `Cannot pin memfd ${JSON.stringify(file.name)} page ${p}: migrating pfn ${hex(head)} failed: ${e.message}`,
            head,
          );
        }
        throw e;
      }
    }
    ids.push(id);
    p = f.index[id] / PAGE_SIZE + f.npages(id);
  }
  return ids;
}

/**
 * memfd_pin_folios: pins every folio covering bytes [start, end] of `file` once. O(folios) plus
 * allocation and migration.
 * @returns the folio ids in file order and `offset`, start's byte offset in the first folio.
 * @throws RangeError for a bad range; PinFailed naming the frame when a folio cannot migrate;
 *   MemError NOMEM / HUGETLB_EMPTY when a folio cannot be allocated.
 */
export function memfdPinFolios(
  file: MappedFile,
  start: number,
  end: number,
): { folios: number[]; offset: number } {
  checkFileRange(file, start, end);
  const ids = prepareFolios(file, Math.floor(start / PAGE_SIZE), Math.floor(end / PAGE_SIZE));
  for (const id of ids) file.mem.grabFolio(id, 1, "pin");
  const f = file.mem.folios;
  return { folios: ids, offset: start - f.index[ids[0]] };
}

/**
 * The design's range pin of a memfd: bytes [start, start+len) as one PINNED entry per physically
 * contiguous run, one grab per folio for all the pages it covers. O(folios).
 * @throws RangeError for a bad or unaligned range; as {@link memfdPinFolios} otherwise.
 */
export function pinFileRange(file: MappedFile, start: number, len: number): PhyrList {
  checkFileRange(file, start, start + len - 1);
  if (start % PAGE_SIZE || len % PAGE_SIZE || len === 0)
    throw new RangeError(`memfd range ${hex(start)}+${hex(len)} is invalid: not whole pages`);
  const first = start / PAGE_SIZE;
  const last = first + len / PAGE_SIZE - 1;
  const ids = prepareFolios(file, first, last);
  const f = file.mem.folios;
  const list = new PhyrList({ store: "compact" });
  let runAddr = -1;
  let runLen = 0;
  for (const id of ids) {
    const base = f.index[id] / PAGE_SIZE;
    const lo = Math.max(first, base);
    const hi = Math.min(last + 1, base + f.npages(id));
    file.mem.grabFolio(id, hi - lo, "pin");
    const addr = (f.head[id] + lo - base) * PAGE_SIZE;
    if (runAddr + runLen === addr) runLen += (hi - lo) * PAGE_SIZE;
    else {
      if (runAddr >= 0) list.append(runAddr, runLen, PhyrFlag.PINNED, 0);
      runAddr = addr;
      runLen = (hi - lo) * PAGE_SIZE;
    }
  }
  list.append(runAddr, runLen, PhyrFlag.PINNED, 0);
  return list;
}
