/**
 * dma-direct address rules (include/linux/dma-direct.h, kernel/dma/direct.c): translating a CPU
 * physical address to a DMA address through the device's `dma_range_map`, and `dma_capable`.
 * Every function here is O(regions) (a device has a handful) and allocation-free.
 */
import { checkAddr, checkLen, hex } from "../core/index.js";

/** One `struct bus_dma_region`: CPU range [cpuStart, cpuStart+size) appears at dmaStart on the bus. */
export interface DmaRangeRegion {
  /** CPU physical start of the region. */
  readonly cpuStart: number;
  /** DMA (bus) address of `cpuStart`. */
  readonly dmaStart: number;
  /** Region length in bytes. */
  readonly size: number;
}

/** The address facts dma-direct needs about a device. */
export interface DirectAddressing {
  /** `*dev->dma_mask`: highest DMA address the device can drive. */
  readonly dmaMask: number;
  /** `dev->bus_dma_limit`: the interconnect's limit; 0 means none (min_not_zero). */
  readonly busDmaLimit: number;
  /** `dev->dma_range_map`; empty means dma == phys. */
  readonly dmaRangeMap: readonly DmaRangeRegion[];
}

/**
 * translate_phys_to_dma(): `dma = phys - cpu_start + dma_start` of the region holding `phys`;
 * identity when the map is empty. Returns -1 (DMA_MAPPING_ERROR) when a map exists and no region
 * holds `phys`. O(regions).
 * @param dev the device's addressing.
 * @param phys CPU physical address.
 */
export function physToDma(dev: DirectAddressing, phys: number): number {
  const map = dev.dmaRangeMap;
  if (map.length === 0) return phys;
  for (let i = 0; i < map.length; i++) {
    const r = map[i];
    if (phys >= r.cpuStart && phys - r.cpuStart < r.size) return phys - r.cpuStart + r.dmaStart;
  }
  return -1;
}

/**
 * translate_dma_to_phys(): the inverse of {@link physToDma}. Returns -1 when no region holds `dma`.
 * O(regions).
 */
export function dmaToPhys(dev: DirectAddressing, dma: number): number {
  const map = dev.dmaRangeMap;
  if (map.length === 0) return dma;
  for (let i = 0; i < map.length; i++) {
    const r = map[i];
    if (dma >= r.dmaStart && dma - r.dmaStart < r.size) return dma - r.dmaStart + r.cpuStart;
  }
  return -1;
}

/**
 * The effective DMA limit: `min_not_zero(*dev->dma_mask, dev->bus_dma_limit)`. O(1).
 */
export function dmaLimit(dev: DirectAddressing): number {
  if (dev.busDmaLimit === 0) return dev.dmaMask;
  if (dev.dmaMask === 0) return dev.busDmaLimit;
  return Math.min(dev.dmaMask, dev.busDmaLimit);
}

/**
 * dma_capable(): the device can reach [dma, dma+size) when `dma` is not the mapping error and
 * `dma + size - 1 <= min_not_zero(dma_mask, bus_dma_limit)`. O(1).
 */
export function dmaCapable(dev: DirectAddressing, dma: number, size: number): boolean {
  if (dma < 0) return false;
  return dma + size - 1 <= dmaLimit(dev);
}

/**
 * True when the whole CPU range [phys, phys+len) lies in one dma_range_map region (or the map is
 * empty), so one subtraction translates every byte. O(regions).
 */
export function rangeInOneRegion(dev: DirectAddressing, phys: number, len: number): boolean {
  const map = dev.dmaRangeMap;
  if (map.length === 0) return true;
  for (let i = 0; i < map.length; i++) {
    const r = map[i];
    if (phys >= r.cpuStart && phys - r.cpuStart < r.size) return phys + len <= r.cpuStart + r.size;
  }
  return false;
}

/**
 * Checks a dma_range_map: sizes positive, regions inside 2^52, no two CPU ranges and no two DMA
 * ranges overlap. Returns nothing.
 * @throws RangeError naming the region and the reason.
 */
export function checkDmaRangeMap(map: readonly DmaRangeRegion[]): void {
  for (let i = 0; i < map.length; i++) {
    const r = map[i];
    checkAddr(`dma_range_map[${i}].cpuStart`, r.cpuStart);
    checkAddr(`dma_range_map[${i}].dmaStart`, r.dmaStart);
    checkLen(`dma_range_map[${i}].size`, r.size);
    if (r.cpuStart + r.size > 2 ** 52 || r.dmaStart + r.size > 2 ** 52) {
      throw new RangeError(
        `dma_range_map[${i}] ${hex(r.cpuStart)}+${hex(r.size)} is invalid: it ends beyond 2^52`,
      );
    }
    for (let j = 0; j < i; j++) {
      const q = map[j];
      if (r.cpuStart < q.cpuStart + q.size && q.cpuStart < r.cpuStart + r.size) {
        throw new RangeError(
          `dma_range_map[${i}] CPU range ${hex(r.cpuStart)}+${hex(r.size)} is invalid: it overlaps region ${j}`,
        );
      }
      if (r.dmaStart < q.dmaStart + q.size && q.dmaStart < r.dmaStart + r.size) {
        throw new RangeError(
          `dma_range_map[${i}] DMA range ${hex(r.dmaStart)}+${hex(r.size)} is invalid: it overlaps region ${j}`,
        );
      }
    }
  }
}

/** True when any region of the map has a non-zero offset (dma != phys somewhere). O(regions). */
export function hasBusOffset(dev: DirectAddressing): boolean {
  const map = dev.dmaRangeMap;
  for (let i = 0; i < map.length; i++) if (map[i].cpuStart !== map[i].dmaStart) return true;
  return false;
}
