/**
 * dma_map_phys() / dma_unmap_phys() (Linux 6.17): map one physical range and get one DMA address.
 * Built on dmaMap() over a one-entry list, so every path (direct, offset, bounce, IOMMU, P2P, MMIO)
 * behaves the same; the record is found again by its DMA address (the device's mapping state,
 * mappings.ts).
 */
import { checkRange, hex } from "../core/index.js";
import { PhyrList } from "../phyr/index.js";
import { type DmaDevice, mappingsOf } from "./device.js";
import { dmaMap } from "./map.js";
import type { DmaSystem } from "./system.js";
import type { DmaDirection } from "./types.js";
import { dmaUnmap, findRecord } from "./unmap.js";

/**
 * Maps [phys, phys+size) for `dev`. O(1) plus the path's cost.
 * @returns the DMA address of `phys`.
 * @throws as {@link dmaMap}; RangeError for a bad range.
 */
export function dmaMapPhys(
  sys: DmaSystem,
  dev: DmaDevice,
  phys: number,
  size: number,
  dir: DmaDirection = "bidirectional",
  attrs = 0,
): number {
  checkRange("dma_map_phys", phys, size);
  const l = new PhyrList({ store: "wide", chunkCapacity: 2 });
  l.append(phys, size);
  const m = dmaMap(sys, dev, l, dir, attrs);
  const dma = m.entry(0).addr;
  mappingsOf(dev).addPhys(dma, m);
  return dma;
}

/**
 * Unmaps what {@link dmaMapPhys} returned. O(1) plus the path's cost.
 * @throws DmaApiError DMA_NOT_MAPPED (naming the address), DMA_WRONG_SIZE, DMA_WRONG_DIR; state unchanged.
 */
export function dmaUnmapPhys(
  sys: DmaSystem,
  dev: DmaDevice,
  dma: number,
  size: number,
  dir: DmaDirection = "bidirectional",
  attrs = 0,
): void {
  const maps = mappingsOf(dev);
  const m = maps.lastPhys(dma);
  if (m === undefined) {
    throw sys.debug.violation(
      "DMA_NOT_MAPPED",
      dev.name,
      `${dev.name}: device driver tries to unmap DMA memory it has not mapped [device address=${hex(dma)}] [size=${hex(size)}]`,
    );
  }
  findRecord(sys, dev, m, dir, size, "unmap");
  dmaUnmap(sys, dev, m, dir, attrs);
  maps.popPhys(dma);
}
