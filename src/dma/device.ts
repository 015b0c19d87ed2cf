/**
 * DmaDevice: what the DMA API knows about a device (struct device's dma fields): dma_mask,
 * bus_dma_limit, dma_range_map, segment limits, forced bouncing, min_align_mask, its IOMMU domain
 * and its PCI function, plus the records of its live mappings that make unmap exact (one
 * DeviceMappings, mappings.ts, reached from dma/ through {@link mappingsOf}).
 */
import { checkAddr, checkCount, checkLen, hex, isPow2 } from "../core/index.js";
import { checkDmaRangeMap, type DirectAddressing, type DmaRangeRegion } from "./direct.js";
import { DeviceMappings } from "./mappings.js";

/** Largest DMA address the model represents: 2^52 - 1 (a 64-bit capable device). */
export const DMA_MASK_FULL = 2 ** 52 - 1;
/** DMA_BIT_MASK(32): a 32-bit device (the PCI default before a driver widens it). */
export const DMA_MASK_32 = 2 ** 32 - 1;

/** How to build a device. */
export interface DmaDeviceOptions {
  /** Device name, a PCI BDF like "0000:03:00.0". */
  name: string;
  /** `*dev->dma_mask`; default {@link DMA_MASK_FULL}. */
  dmaMask?: number;
  /** `dev->bus_dma_limit`; 0 (default) means no limit. */
  busDmaLimit?: number;
  /** `dev->dma_range_map`; default empty (dma == phys). */
  dmaRangeMap?: DmaRangeRegion[];
  /** Bounce every streaming mapping through swiotlb (swiotlb=force, or a confidential guest). */
  forceSwiotlb?: boolean;
  /** dma_get_min_align_mask (NVMe: 0xfff); default 0. */
  minAlignMask?: number;
  /**
   * dma_get_seg_boundary; default 2^52 - 1, i.e. none. The PCI core sets 0xffffffff for the
   * scatterlist's sake; a DmaList has no u32 length, so the model's default is "no boundary".
   */
  segBoundaryMask?: number;
  /** dma_get_max_seg_size; default 2^52 (the PCI core's 64 KiB is a scatterlist limit). */
  maxSegmentSize?: number;
}

// Set by DmaDevice's static block: the one door to a device's private mapping state.
let mappings: (dev: DmaDevice) => DeviceMappings;

/** A device as the DMA API sees it. */
export class DmaDevice implements DirectAddressing {
  /** Device name (BDF). */
  readonly name: string;
  readonly dmaMask: number;
  readonly busDmaLimit: number;
  readonly dmaRangeMap: readonly DmaRangeRegion[];
  readonly forceSwiotlb: boolean;
  readonly minAlignMask: number;
  readonly segBoundaryMask: number;
  readonly maxSegmentSize: number;
  /** Every live mapping of this device (mappings.ts); dma/ reaches it through mappingsOf(). */
  private readonly _mappings = new DeviceMappings();

  /**
   * Validates and builds a device. O(regions^2).
   * @throws RangeError naming a bad mask, limit, region or segment option.
   */
  constructor(opts: DmaDeviceOptions) {
    if (typeof opts.name !== "string" || opts.name.length === 0) {
      throw new TypeError(`device name ${JSON.stringify(opts.name)} is invalid: expected a non-empty string`);
    }
    this.name = opts.name;
    this.dmaMask = checkAddr("dma_mask", opts.dmaMask ?? DMA_MASK_FULL);
    if (!isLowMask(this.dmaMask)) {
      throw new RangeError(`dma_mask ${hex(this.dmaMask)} is invalid: expected 2^n - 1`);
    }
    this.busDmaLimit = checkAddr("bus_dma_limit", opts.busDmaLimit ?? 0);
    const map = opts.dmaRangeMap ?? [];
    checkDmaRangeMap(map);
    this.dmaRangeMap = map.map((r) => ({ cpuStart: r.cpuStart, dmaStart: r.dmaStart, size: r.size }));
    this.forceSwiotlb = opts.forceSwiotlb ?? false;
    this.minAlignMask = checkCount("min_align_mask", opts.minAlignMask ?? 0, 0xffffffff);
    if (!isLowMask(this.minAlignMask)) {
      throw new RangeError(`min_align_mask ${hex(this.minAlignMask)} is invalid: expected 2^n - 1`);
    }
    this.segBoundaryMask = checkAddr("seg_boundary_mask", opts.segBoundaryMask ?? DMA_MASK_FULL);
    if (!isLowMask(this.segBoundaryMask) || this.segBoundaryMask < 0xfff) {
      throw new RangeError(
        `seg_boundary_mask ${hex(this.segBoundaryMask)} is invalid: expected 2^n - 1 >= 0xfff`,
      );
    }
    this.maxSegmentSize = checkLen("max_segment_size", opts.maxSegmentSize ?? 2 ** 52);
  }

  /** Number of live dmaMap / dmaMapPhys mappings. O(mapped objects). */
  get liveMappings(): number {
    return this._mappings.recordCount;
  }

  /**
   * Verifies the invariants of this device's mapping state (see DeviceMappings.checkValid).
   * O(live records + their ranges).
   * @throws Error naming the first broken invariant.
   */
  checkValid(): void {
    this._mappings.checkValid();
  }

  static {
    mappings = (dev) => dev._mappings;
  }
}

/**
 * The mapping state of `dev`, for the dma/ modules that map, unmap and translate. Exported from
 * this module only: dma/index.ts re-exports DmaDevice, not this. O(1).
 * @internal
 */
export function mappingsOf(dev: DmaDevice): DeviceMappings {
  return mappings(dev);
}

/** True for 2^n - 1 (including 0). */
function isLowMask(m: number): boolean {
  return isPow2(m + 1);
}
