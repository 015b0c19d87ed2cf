/**
 * The view of an IOMMU DMA domain that dma/ uses (drivers/iommu/dma-iommu.c's calls into the
 * IOMMU core): granule, IOVA alloc/free, map/unmap with gathered invalidation, and a device-side
 * translation that records faults. The domain itself lives in iommu/; {@link iommuPort} adapts one.
 */
import { PAGE_SIZE } from "../core/index.js";
import { type IommuDomain, IommuProt } from "../iommu/index.js";
import type { DmaDirection } from "./types.js";

/** What dma/ calls on a DMA-type IOMMU domain. */
export interface IommuPort {
  /** Smallest IOMMU page size (iova granule), e.g. 4096. */
  readonly granule: number;
  /** Supported page sizes bitmap. */
  readonly pgsizeBitmap: number;
  /**
   * iommu_dma_alloc_iova(): `size` bytes (granule multiple) below `dmaLimit`, size-aligned as the
   * kernel does. `physHint` asks instead for an IOVA congruent with that physical address modulo
   * the large page sizes: the phyr design's placement, which no kernel path uses. Returns the IOVA.
   * @throws IovaExhausted
   */
  allocIova(size: number, dmaLimit: number, physHint?: number): number;
  /** iommu_dma_free_iova(). */
  freeIova(iova: number, size: number): void;
  /** iommu_map(): maps [iova, iova+size) to paddr with prot (IommuProt bits). @throws on conflict */
  map(iova: number, paddr: number, size: number, prot: number): void;
  /** iommu_unmap(): unmaps, syncing the gathered IOTLB invalidation once (strict) or queueing it (lazy). */
  unmap(iova: number, size: number): number;
  /**
   * The device's access through the IOMMU: IOTLB then page walk. Returns the physical address.
   * @throws IommuFault (recorded by the domain) when unmapped or without permission.
   */
  translate(device: string, iova: number, write: boolean): number;
  /** iommu_iova_to_phys(): the page table's answer, no IOTLB fill, no fault record; -1 when unmapped. */
  iovaToPhys(iova: number): number;
}

/**
 * dma_info_to_prot() (drivers/iommu/dma-iommu.c) for a coherent device: the IOMMU prot bits of a
 * direction, plus IOMMU_MMIO for a BAR or IOMMU_CACHE for memory. O(1).
 */
export function protOf(dir: DmaDirection, mmio: boolean): number {
  const rw =
    dir === "to-device"
      ? IommuProt.READ
      : dir === "from-device"
        ? IommuProt.WRITE
        : IommuProt.READ | IommuProt.WRITE;
  return rw | (mmio ? IommuProt.MMIO : IommuProt.CACHE);
}

/**
 * Adapts an iommu/ domain for dma/. An identity (passthrough) domain returns undefined: the device
 * then uses dma-direct, as the kernel does for IOMMU_DOMAIN_IDENTITY. Blocked domains are kept:
 * mapping through them fails and every access faults. O(1).
 */
export function iommuPort(domain: IommuDomain): IommuPort | undefined {
  if (domain.type === "identity") return undefined;
  const granule = domain.iovad ? domain.iovad.granule : PAGE_SIZE;
  return {
    granule,
    pgsizeBitmap: domain.pgsizeBitmap,
    allocIova: (size, dmaLimit, physHint) =>
      domain.iovaAlloc(size, dmaLimit, physHint === undefined ? {} : { physHint }),
    freeIova: (iova, size) => domain.iovaFree(iova, size),
    map: (iova, paddr, size, prot) => domain.map(iova, paddr, size, prot),
    unmap: (iova, size) => domain.unmap(iova, size),
    translate: (device, iova, write) => domain.translate(device, iova, write ? "write" : "read"),
    iovaToPhys: (iova) => domain.iovaToPhys(iova),
  };
}
