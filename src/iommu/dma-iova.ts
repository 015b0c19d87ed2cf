/**
 * IOVA allocation for DMA mapping, as drivers/iommu/dma-iommu.c iommu_dma_alloc_iova /
 * iommu_dma_free_iova, plus the congruent option.
 *
 * Kernel default: sizes in granules, `alloc_iova_fast` (size-aligned, small sizes rounded to a
 * power of two, rcache); a PCI device whose DMA limit is above 4 GiB tries below 4 GiB first
 * ("pci_32bit_workaround", cleared for the device after the first failure), then the full limit.
 *
 * Congruent option (`physHint`), the phyr design, not the kernel's (Linux 7.2 dma_iova_try_alloc
 * uses its phys argument only for the in-granule offset): keeps the IOVA congruent with the
 * physical address modulo the largest supported page size not above the allocation (instead of
 * the size alignment), so iommu_pgsize can use large pages even when the buffer starts inside a
 * huge page. It applies to sizes above 32 granules (smaller ones take the default path, so cached
 * ranges stay size-aligned).
 */
import { hex, IovaExhausted } from "../core/index.js";
import type { IovaDomain } from "./iova.js";
import { pgsizeList } from "./pgsize.js";

/** Per-device allocation state (struct dev_iommu's pci_32bit_workaround). */
export interface IovaDeviceState {
  /** Try below 4 GiB first; cleared after the first 32-bit failure. */
  pci32bitWorkaround: boolean;
}

/** Options of {@link iommuDmaAllocIova}. */
export interface DmaIovaOptions {
  /** The device is PCI (enables 32-bit first); default true. */
  pci?: boolean;
  /** Per-device state; without it a PCI device always tries 32-bit first. */
  dev?: IovaDeviceState;
  /** Physical address of the buffer's first granule: enables the congruent option. */
  physHint?: number;
  /** Page sizes of the domain (needed with `physHint`). */
  pgsizeBitmap?: number;
  /** Highest IOVA the domain can translate (aperture end, inclusive); default 2^52 - 1. */
  apertureEnd?: number;
}

const DMA_BIT_MASK_32 = 0xffffffff;

/**
 * Allocates `size` bytes of IOVA space below `dmaLimit` (inclusive).
 * @param iovad The IOVA space.
 * @param size Bytes, a multiple of the granule.
 * @param dmaLimit The device's DMA mask (inclusive highest address).
 * @returns The IOVA (byte address).
 * @throws IovaExhausted naming the size and limit when nothing fits.
 * @throws RangeError for a size that is not a positive multiple of the granule.
 * Cost: as IovaDomain.allocIovaFast (one or two attempts).
 */
export function iommuDmaAllocIova(
  iovad: IovaDomain,
  size: number,
  dmaLimit: number,
  opts: DmaIovaOptions = {},
): number {
  const g = iovad.granule;
  if (!Number.isInteger(size) || size <= 0 || size % g !== 0 || size > 2 ** 52) {
    throw new RangeError(
      `IOVA size ${String(size)} is invalid: expected a positive multiple of the granule ${hex(g)}`,
    );
  }
  if (!Number.isInteger(dmaLimit) || dmaLimit < g) {
    throw new RangeError(
      `DMA limit ${String(dmaLimit)} is invalid: expected an integer of at least ${hex(g)}`,
    );
  }
  const npages = size / g;
  const limit = Math.min(dmaLimit, opts.apertureEnd ?? 2 ** 52 - 1);
  let modulus = 1;
  let residue = 0;
  if (opts.physHint !== undefined && npages > 32 && opts.pgsizeBitmap !== undefined) {
    const sizes = pgsizeList(opts.pgsizeBitmap).filter((s) => s <= size);
    const p = sizes.length > 0 ? sizes[sizes.length - 1] : g;
    if (p > g) {
      modulus = p / g;
      residue = Math.floor(opts.physHint / g) % modulus;
    }
  }
  const pci = opts.pci ?? true;
  const try32 = pci && (opts.dev === undefined || opts.dev.pci32bitWorkaround);
  if (limit > DMA_BIT_MASK_32 && try32) {
    const pfn = allocOnce(iovad, npages, Math.floor(DMA_BIT_MASK_32 / g), false, modulus, residue);
    if (pfn >= 0) return pfn * g;
    if (opts.dev !== undefined) opts.dev.pci32bitWorkaround = false;
  }
  const pfn = allocOnce(iovad, npages, Math.floor(limit / g), true, modulus, residue);
  if (pfn < 0) {
    throw new IovaExhausted(
      `Cannot allocate IOVA of ${hex(size)} below ${hex(limit)}: no free range of that size`,
    );
  }
  return pfn * g;
}

function allocOnce(
  iovad: IovaDomain,
  npages: number,
  limitPfn: number,
  flush: boolean,
  modulus: number,
  residue: number,
): number {
  if (modulus > 1) {
    const pfn = iovad.allocIova(npages, limitPfn, false, modulus, residue);
    if (pfn >= 0 || !flush) return pfn;
    iovad.flushRcache();
    return iovad.allocIova(npages, limitPfn, false, modulus, residue);
  }
  return iovad.allocIovaFast(npages, limitPfn, flush);
}

/**
 * Frees an IOVA from {@link iommuDmaAllocIova} (free_iova_fast: small ones go to the rcache).
 * @param iova The IOVA returned by the allocation.
 * @param size The size passed to the allocation.
 * @throws DmaApiError "IOVA_NOT_ALLOCATED" when nothing was allocated there.
 * Cost: as IovaDomain.freeIovaFast.
 */
export function iommuDmaFreeIova(iovad: IovaDomain, iova: number, size: number): void {
  iovad.freeIovaFast(Math.floor(iova / iovad.granule), Math.ceil(size / iovad.granule));
}
