/**
 * IOMMU mapping permissions and the errors of the IOMMU layer.
 *
 * Prot bits follow include/linux/iommu.h (IOMMU_READ 1 << 0, IOMMU_WRITE 1 << 1,
 * IOMMU_CACHE 1 << 2, IOMMU_NOEXEC 1 << 3, IOMMU_MMIO 1 << 4, IOMMU_PRIV 1 << 5).
 */
import { hex, PhyrError } from "../core/index.js";

/** Mapping permission bits (include/linux/iommu.h). */
export const IommuProt = {
  /** Device may read. */
  READ: 1,
  /** Device may write. */
  WRITE: 2,
  /** Cache-coherent mapping. */
  CACHE: 4,
  /** No instruction fetch. */
  NOEXEC: 8,
  /** The target is MMIO (a BAR reached through the host bridge): uncached, never bounced. */
  MMIO: 16,
  /** Privileged access only. */
  PRIV: 32,
} as const;

/** Mask of every defined prot bit. */
export const IOMMU_PROT_MASK = 63;

/** The kind of access a device makes. */
export type IommuAccess = "read" | "write";

/** Why a translation faulted. */
export type IommuFaultReason = "unmapped" | "no-read" | "no-write" | "blocked";

/**
 * A mapping request broken by the caller or a state conflict (the kernel's -EINVAL / -EEXIST /
 * -ENODEV from iommu_map). `code` is "IOMMU_EINVAL", "IOMMU_EEXIST" or "IOMMU_ENODEV".
 */
export class IommuMapError extends PhyrError {
  override name = "IommuMapError";
  /**
   * @param code "IOMMU_EINVAL", "IOMMU_EEXIST" or "IOMMU_ENODEV".
   * @param message What failed and why.
   * @param mapped Bytes a page-table call mapped before failing (io-pgtable's *mapped), else 0.
   */
  constructor(
    code: string,
    message: string,
    readonly mapped = 0,
  ) {
    super(code, message);
  }
}

/**
 * Checks prot bits: an integer within {@link IOMMU_PROT_MASK}.
 * @throws RangeError naming the value.
 */
export function checkProt(prot: number): void {
  if (!Number.isInteger(prot) || prot < 0 || prot > IOMMU_PROT_MASK) {
    const shown = Number.isInteger(prot) && prot >= 0 ? hex(prot) : String(prot);
    throw new RangeError(`prot ${shown} is invalid: expected an integer within mask ${hex(IOMMU_PROT_MASK)}`);
  }
}
