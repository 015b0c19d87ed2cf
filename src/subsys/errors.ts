/**
 * Named errors of the consumers (ARCHITECTURE.md, Conventions). Each carries a stable `code`.
 */
import { PhyrError } from "../core/index.js";

/** A bio or request the block layer refuses: cannot be split to fit the queue limits, misaligned, or bad limits. */
export class BlockError extends PhyrError {
  override name = "BlockError";
}

/** An NVMe command cannot be built from the given DMA segments (a PRP gap, an empty transfer). */
export class NvmeError extends PhyrError {
  override name = "NvmeError";
}

/** An RDMA memory registration refused (no supported page size, unpinnable memory). */
export class RdmaError extends PhyrError {
  override name = "RdmaError";
}

/** A VFIO / iommufd request refused (container mapping limit, overlap, unmapped range). */
export class VfioError extends PhyrError {
  override name = "VfioError";
}

/** A dma-buf operation refused (revoked exporter, detached attachment, double map). */
export class DmaBufError extends PhyrError {
  override name = "DmaBufError";
}

/** A devmem binding or packet placement refused (no such queue, header split off, queue already bound, buffer pool exhausted, binding released). */
export class DevmemError extends PhyrError {
  override name = "DevmemError";
}
