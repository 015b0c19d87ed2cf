/**
 * Nouns of the DMA API shared by every file of dma/: directions, attributes, how a mapping was
 * produced, and the mapping type returned by dmaMap().
 */
import type { PhyrRead } from "../phyr/index.js";

/** enum dma_data_direction (include/linux/dma-direction.h), as strings. */
export type DmaDirection = "bidirectional" | "to-device" | "from-device";

/** Every direction (for input checks and property tests). */
export const DMA_DIRECTIONS: readonly DmaDirection[] = ["bidirectional", "to-device", "from-device"];

/** DMA attributes (include/linux/dma-mapping.h bit values). */
export const DmaAttr = {
  /** DMA_ATTR_SKIP_CPU_SYNC: no bounce copy at map/unmap time (the caller syncs). */
  SKIP_CPU_SYNC: 1 << 5,
  /** DMA_ATTR_MMIO: the range is MMIO; dma = phys, never bounced, no cache maintenance. */
  MMIO: 1 << 10,
} as const;

/** Mask of the attributes the model understands. */
export const DMA_ATTR_MASK = DmaAttr.SKIP_CPU_SYNC | DmaAttr.MMIO;

/**
 * How a mapping was produced:
 * - `identity`: no IOMMU, no offset, every entry capable -> the input list itself;
 * - `offset`: dma-direct through a dma_range_map offset (a new list, one entry per input entry);
 * - `bounce`: at least one entry bounced through swiotlb (others direct);
 * - `iommu-single`: one IOVA allocation that came out as one contiguous entry;
 * - `iommu-segments`: one IOVA allocation, several output entries (padding, merges);
 * - `p2p-bus`: every entry is a P2P bus address (IOMMU bypassed);
 * - `mixed`: bus-address entries together with IOMMU or direct entries.
 */
export type DmaMapKind =
  | "identity"
  | "offset"
  | "bounce"
  | "iommu-single"
  | "iommu-segments"
  | "p2p-bus"
  | "mixed";

/**
 * What dmaMap() returns: a read-only range list of DMA addresses. In the identity case it is the
 * input PhyrList object itself; otherwise a {@link DmaList}.
 */
export type DmaMapping = PhyrRead;

/**
 * Checks a direction value.
 * @throws TypeError naming the value.
 */
export function checkDirection(dir: DmaDirection): void {
  if (dir !== "bidirectional" && dir !== "to-device" && dir !== "from-device") {
    throw new TypeError(
      `direction ${JSON.stringify(dir)} is invalid: expected bidirectional, to-device or from-device`,
    );
  }
}

/**
 * Checks attribute bits.
 * @throws RangeError naming the value.
 */
export function checkAttrs(attrs: number): void {
  // The bit test works on 32 bits: a value above the mask (2**32 has no low bits set) is refused
  // by the comparison before it.
  if (!Number.isInteger(attrs) || attrs < 0 || attrs > DMA_ATTR_MASK || (attrs & ~DMA_ATTR_MASK) !== 0) {
    throw new RangeError(
      `attrs ${String(attrs)} is invalid: expected bits of DmaAttr (mask ${DMA_ATTR_MASK})`,
    );
  }
}

/** True when the device may write memory in this direction (from-device or bidirectional). */
export function deviceWrites(dir: DmaDirection): boolean {
  return dir !== "to-device";
}

/** True when the device may read memory in this direction (to-device or bidirectional). */
export function deviceReads(dir: DmaDirection): boolean {
  return dir !== "from-device";
}
