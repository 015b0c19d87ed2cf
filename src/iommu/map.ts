/**
 * The mapping loops of drivers/iommu/iommu.c over an {@link IoPageTable}: __iommu_map (page size
 * chosen by iommu_pgsize, unrolled on failure) and __iommu_unmap (bytes unmapped, invalidations
 * gathered as {start, end, pgsize}).
 */
import { checkAddr, checkLen, hex } from "../core/index.js";
import { PhyrFlag, type PhyrRead } from "../phyr/index.js";
import { iommuPgsizeInto, type PgsizeChoice } from "./pgsize.js";
import type { IoPageTable } from "./pgtable.js";
import { checkProt, IommuMapError } from "./prot.js";

/**
 * Pending IOTLB invalidation (struct iommu_iotlb_gather): the range [start, end] (inclusive) of
 * pages of `pgsize`; empty when `start > end`.
 */
export interface IotlbGather {
  start: number;
  end: number;
  pgsize: number;
}

/** An empty gather (iommu_iotlb_gather_init: start = ULONG_MAX, end = 0, pgsize = 0). O(1). */
export function iotlbGatherInit(): IotlbGather {
  return { start: Number.POSITIVE_INFINITY, end: 0, pgsize: 0 };
}

/**
 * Adds an unmapped range to the gather as iommu_iotlb_gather_add_page does: when the range is
 * disjoint from the gathered one or of another page size, `sync` is called on the gather first
 * (and the gather reset). O(1) plus the sync.
 */
export function iotlbGatherAdd(
  gather: IotlbGather,
  iova: number,
  size: number,
  pgsize: number,
  sync: (g: IotlbGather) => void,
): void {
  const empty = gather.start > gather.end;
  const disjoint = !empty && (iova + size - 1 < gather.start - 1 || iova > gather.end + 1);
  if (!empty && (gather.pgsize !== pgsize || disjoint)) {
    sync(gather);
    gather.start = Number.POSITIVE_INFINITY;
    gather.end = 0;
  }
  gather.pgsize = pgsize;
  gather.start = Math.min(gather.start, iova);
  gather.end = Math.max(gather.end, iova + size - 1);
}

/**
 * Adds an unmapped range as iommu_iotlb_gather_add_range does (include/linux/iommu.h): the
 * gather grows to cover it, nothing is synced. The generic page-table code calls it once per
 * unmap_pages with the range asked for (drivers/iommu/generic_pt/iommu_pt.h gather_range_pages,
 * PT_FEAT_FLUSH_RANGE), so one iommu_unmap ends in one IOTLB sync. O(1).
 */
export function iotlbGatherAddRange(gather: IotlbGather, iova: number, size: number): void {
  gather.start = Math.min(gather.start, iova);
  gather.end = Math.max(gather.end, iova + size - 1);
}

/** Checks iova/paddr/size against the smallest page size and the aperture. @throws */
function checkMapArgs(what: string, pt: IoPageTable, iova: number, paddr: number, size: number): void {
  checkAddr(`${what} iova`, iova);
  checkAddr(`${what} paddr`, paddr);
  checkLen(`${what} size`, size);
  const min = 2 ** pt.format.granuleShift;
  if (
    Math.floor(iova / min) * min !== iova ||
    Math.floor(paddr / min) * min !== paddr ||
    Math.floor(size / min) * min !== size
  ) {
    throw new IommuMapError(
      "IOMMU_EINVAL",
      `Cannot ${what} ${hex(iova)}+${hex(size)} -> ${hex(paddr)}: not aligned to the smallest page size ${hex(min)}`,
    );
  }
  if (iova + size > 2 ** pt.format.iovaBits || paddr + size > 2 ** 52) {
    throw new IommuMapError(
      "IOMMU_EINVAL",
      `Cannot ${what} ${hex(iova)}+${hex(size)}: beyond the ${pt.format.iovaBits}-bit aperture`,
    );
  }
}

const choice: PgsizeChoice = { pgsize: 0, count: 0 };

/**
 * __iommu_map: maps [iova, iova+size) to [paddr, ...) choosing each step's page size with
 * iommu_pgsize; on failure unmaps what this call mapped, so the table is unchanged.
 * @throws IommuMapError "IOMMU_EINVAL" for misalignment or beyond the aperture,
 *   "IOMMU_EEXIST" when part of the range is already mapped.
 * @throws RangeError for non-integer or out-of-range arguments, bad prot.
 * Cost: O(levels x steps + pages written).
 */
export function ioMap(pt: IoPageTable, iova: number, paddr: number, size: number, prot: number): void {
  checkMapArgs("map", pt, iova, paddr, size);
  checkProt(prot);
  const bitmap = pt.format.pgsizeBitmap;
  let done = 0;
  try {
    while (done < size) {
      iommuPgsizeInto(bitmap, iova + done, paddr + done, size - done, choice);
      done += pt.mapPages(iova + done, paddr + done, choice.pgsize, choice.count, prot);
    }
  } catch (e) {
    const partial = e instanceof IommuMapError ? e.mapped : 0;
    const mapped = done + partial;
    if (mapped > 0) ioUnmap(pt, iova, mapped, null, null);
    throw e;
  }
}

/**
 * Maps every entry of `list` back to back from `iova` (iommu_map_sg over a range list): each entry
 * is one run mapped with __iommu_map's page-size choice, and consecutive runs that land in one
 * table reuse it instead of walking from the root per run (the kernel's iommu_map_sg walks per
 * segment). Entries flagged MMIO get `mmioProt`, the others `prot`. All-or-nothing: on failure
 * everything this call mapped is unmapped.
 * @returns Entries mapped.
 * @throws IommuMapError "IOMMU_EINVAL" when `iova` or an entry is not aligned to the smallest page
 *   size or the range ends beyond the aperture, "IOMMU_EEXIST" when part of it is already mapped.
 * @throws RangeError for a bad `iova` or prot.
 * Cost: O(entries + pages written + tables entered x levels).
 */
export function ioMapList(
  pt: IoPageTable,
  iova: number,
  list: PhyrRead,
  prot: number,
  mmioProt: number,
): number {
  checkAddr("map iova", iova);
  checkProt(prot);
  checkProt(mmioProt);
  const total = list.totalBytes;
  if (total === 0) return 0;
  const min = 2 ** pt.format.granuleShift;
  if (Math.floor(iova / min) * min !== iova || iova + total > 2 ** pt.format.iovaBits) {
    throw new IommuMapError(
      "IOMMU_EINVAL",
      `Cannot map ${hex(iova)}+${hex(total)}: not aligned to the smallest page size ${hex(min)} or beyond the ${pt.format.iovaBits}-bit aperture`,
    );
  }
  const bitmap = pt.format.pgsizeBitmap;
  let pos = iova;
  let done = 0;
  let n = 0;
  try {
    for (const c = list.cursor(); !c.done; c.nextEntry()) {
      const addr = c.entryAddr;
      const len = c.entryLen;
      if (Math.floor(addr / min) * min !== addr || Math.floor(len / min) * min !== len) {
        throw new IommuMapError(
          "IOMMU_EINVAL",
          `Cannot map entry ${c.index} ${hex(addr)}+${hex(len)} at iova ${hex(pos)}: not aligned to the smallest page size ${hex(min)}`,
        );
      }
      const p = c.flags & PhyrFlag.MMIO ? mmioProt : prot;
      if (len === min) {
        // One smallest page: iommu_pgsize can only choose (min, 1).
        done = pt.mapPages(pos, addr, min, 1, p, true);
      } else {
        while (done < len) {
          iommuPgsizeInto(bitmap, pos + done, addr + done, len - done, choice);
          done += pt.mapPages(pos + done, addr + done, choice.pgsize, choice.count, p, true);
        }
      }
      pos += len;
      done = 0; // so a failure in a later entry's checks unmaps exactly [iova, pos)
      n++;
    }
  } catch (e) {
    const mapped = pos - iova + done + (e instanceof IommuMapError ? e.mapped : 0);
    if (mapped > 0) ioUnmap(pt, iova, mapped, null, null);
    throw e;
  }
  return n;
}

/**
 * __iommu_unmap: unmaps from `iova` until `size` bytes are covered or an unmapped hole is met,
 * one unmap_pages call per iommu_pgsize step; gathers each call's range into `gather` (when
 * given) the way the format's driver does: generic_pt formats (VT-d, AMD v1) with
 * {@link iotlbGatherAddRange} (the range asked for), io-pgtable-arm with {@link iotlbGatherAdd}
 * (the bytes unmapped; `sync` called on a new page size or a disjoint range). The caller syncs
 * the final gather.
 * @returns Bytes unmapped (may exceed `size` when a larger page covered the end, as VT-d does).
 * @throws IommuMapError "IOMMU_EINVAL" for misalignment or when `iova` is inside a large page.
 * Cost: O(levels) per table entered plus O(1) per leaf.
 */
export function ioUnmap(
  pt: IoPageTable,
  iova: number,
  size: number,
  gather: IotlbGather | null,
  sync: ((g: IotlbGather) => void) | null,
): number {
  checkMapArgs("unmap", pt, iova, 0, size);
  const bitmap = pt.format.pgsizeBitmap;
  let unmapped = 0;
  const local: PgsizeChoice = { pgsize: 0, count: 0 };
  while (unmapped < size) {
    const at = iova + unmapped;
    iommuPgsizeInto(bitmap, at, at, size - unmapped, local);
    const n = pt.unmapPages(at, local.pgsize, local.count);
    if (n === 0) break;
    if (gather !== null && pt.format.gather === "range") {
      iotlbGatherAddRange(gather, at, local.pgsize * local.count);
    } else if (gather !== null && sync !== null) iotlbGatherAdd(gather, at, n, local.pgsize, sync);
    unmapped += n;
  }
  return unmapped;
}
