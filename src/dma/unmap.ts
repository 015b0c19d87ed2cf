/**
 * dmaUnmap() and the sync calls (kernel/dma/mapping.c dma_unmap_sg_attrs, dma_sync_sg_for_cpu /
 * _for_device). Unmap is exact because dmaMap() recorded how it mapped; misuse -- never mapped,
 * double unmap, different size, different direction -- throws a DmaApiError (logged by the debug
 * checker) and changes nothing.
 */
import { hex } from "../core/index.js";
import { type DmaDevice, mappingsOf } from "./device.js";
import { undo } from "./map.js";
import type { MapRecord } from "./mappings.js";
import type { DmaSystem } from "./system.js";
import { checkAttrs, checkDirection, DmaAttr, type DmaDirection, type DmaMapping } from "./types.js";

/**
 * Finds the record of `mapping` on `dev` and checks direction and size. O(records of the key).
 * @throws DmaApiError DMA_NOT_MAPPED, DMA_DOUBLE_UNMAP, DMA_WRONG_DIR, DMA_WRONG_SIZE.
 */
export function findRecord(
  sys: DmaSystem,
  dev: DmaDevice,
  key: object,
  dir: DmaDirection,
  size: number,
  what: string,
): MapRecord {
  const recs = mappingsOf(dev).recordsOf(key);
  if (!recs || recs.length === 0) {
    const double = recs !== undefined || sys.debug.wasUnmapped(key);
    throw sys.debug.violation(
      double ? "DMA_DOUBLE_UNMAP" : "DMA_NOT_MAPPED",
      dev.name,
      `${dev.name}: device driver tries to ${what} ${double ? "DMA memory it has already unmapped" : "DMA memory it has not mapped"} [size=${hex(size)}]`,
    );
  }
  const rec = recs.find((r) => r.dir === dir) ?? recs[0];
  if (rec.totalBytes !== size) {
    throw sys.debug.violation(
      "DMA_WRONG_SIZE",
      dev.name,
      `${dev.name}: device driver tries to ${what} DMA memory with different size [map size=${hex(rec.totalBytes)}] [unmap size=${hex(size)}]`,
    );
  }
  if (rec.dir !== dir) {
    throw sys.debug.violation(
      "DMA_WRONG_DIR",
      dev.name,
      `${dev.name}: device driver tries to ${what} DMA memory with different direction [size=${hex(size)}] [mapped as ${rec.dir}] [unmapped as ${dir}]`,
    );
  }
  return rec;
}

/** Removes `rec` from the device and the checker. */
export function dropRecord(sys: DmaSystem, dev: DmaDevice, key: object, rec: MapRecord): void {
  // The key goes with its last record: a later unmap is named a double unmap by the checker's WeakSet.
  mappingsOf(dev).dropRecord(key, rec);
  sys.debug.remove(dev.name, rec);
  sys.debug.remove(dev.name, key);
}

/**
 * Unmaps what dmaMap() returned. Bounced entries are copied back (from-device / bidirectional,
 * unless SKIP_CPU_SYNC) and their slots released; IOMMU chunks are unmapped with one IOTLB sync and
 * the IOVA freed; bus-address entries need nothing. O(n).
 * @param mapping exactly the object dmaMap() returned.
 * @throws DmaApiError (not mapped, double unmap, wrong size, wrong direction); state unchanged.
 */
export function dmaUnmap(
  sys: DmaSystem,
  dev: DmaDevice,
  mapping: DmaMapping,
  dir: DmaDirection = "bidirectional",
  attrs = 0,
): void {
  checkDirection(dir);
  checkAttrs(attrs);
  const rec = findRecord(sys, dev, mapping, dir, mapping.totalBytes, "unmap");
  if ((attrs & DmaAttr.SKIP_CPU_SYNC) === 0 && dir !== "to-device") copyBack(sys, rec);
  undo(sys, sys.iommuOf(dev), rec);
  dropRecord(sys, dev, mapping, rec);
}

/** swiotlb_bounce(..., DMA_FROM_DEVICE) for every bounced entry. */
function copyBack(sys: DmaSystem, rec: MapRecord): void {
  const b = rec.bounces;
  for (let i = 0; i < b.length; i += 3) sys.memory.writePhys(b[i + 1], sys.memory.readPhys(b[i], b[i + 2]));
}

/** swiotlb_bounce(..., DMA_TO_DEVICE) for every bounced entry. */
function copyIn(sys: DmaSystem, rec: MapRecord): void {
  const b = rec.bounces;
  for (let i = 0; i < b.length; i += 3) sys.memory.writePhys(b[i], sys.memory.readPhys(b[i + 1], b[i + 2]));
}

/**
 * dma_sync_sg_for_cpu(): makes device writes visible to the CPU -- bounced entries are copied back
 * for from-device / bidirectional mappings (to-device needs nothing). O(bounced bytes).
 * @throws DmaApiError when not mapped or synced with a different direction.
 */
export function dmaSyncForCpu(sys: DmaSystem, dev: DmaDevice, mapping: DmaMapping, dir: DmaDirection): void {
  checkDirection(dir);
  const rec = findRecord(sys, dev, mapping, dir, mapping.totalBytes, "sync");
  if (dir !== "to-device") copyBack(sys, rec);
}

/**
 * dma_sync_sg_for_device(): makes CPU writes visible to the device -- bounced entries are copied in
 * for to-device / bidirectional mappings. O(bounced bytes).
 * @throws DmaApiError when not mapped or synced with a different direction.
 */
export function dmaSyncForDevice(
  sys: DmaSystem,
  dev: DmaDevice,
  mapping: DmaMapping,
  dir: DmaDirection,
): void {
  checkDirection(dir);
  const rec = findRecord(sys, dev, mapping, dir, mapping.totalBytes, "sync");
  if (dir !== "from-device") copyIn(sys, rec);
}
