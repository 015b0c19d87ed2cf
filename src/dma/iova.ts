/**
 * The two-step DMA API (Linux 6.16, drivers/iommu/dma-iommu.c dma_iova_try_alloc / dma_iova_link /
 * dma_iova_sync / dma_iova_unlink / dma_iova_destroy / dma_iova_free): the caller allocates one IOVA
 * range up front, links physical ranges into it at offsets, syncs once per batch, and tears it down.
 * Without an IOMMU, dmaIovaTryAlloc() returns undefined and the caller maps each range itself.
 *
 * Model note: map-side IOTLB sync (iommu_sync_map) is counted, not simulated -- the domain model
 * caches no non-present entries, so a linked range is reachable before the sync.
 */
import { alignUp, checkRange, hex } from "../core/index.js";
import { type DmaDevice, mappingsOf } from "./device.js";
import { dmaLimit } from "./direct.js";
import { protOf } from "./iommu-port.js";
import type { DmaSystem } from "./system.js";
import { checkDirection, DmaAttr, type DmaDirection } from "./types.js";

/** struct dma_iova_state: the IOVA of the first byte and the usable size. */
export interface DmaIovaState {
  /** DMA address of byte 0 (IOVA + the first range's in-granule offset). */
  readonly addr: number;
  /** Bytes requested. */
  readonly size: number;
  /** Batches synced so far (one dmaIovaSync() each). */
  syncs: number;
  /** @internal linked ranges as triples [offset, size, dirCode]. */
  readonly links: number[];
  /** @internal allocation start and size. */
  readonly iova: number;
  readonly iovaSize: number;
}

const DIR_CODE: Record<DmaDirection, number> = { bidirectional: 0, "to-device": 1, "from-device": 2 };

/**
 * dma_iova_try_alloc(): reserves IOVA space for `size` bytes whose first byte is `phys`. As in
 * drivers/iommu/dma-iommu.c dma_iova_try_alloc (Linux 7.2), `phys` only gives the in-granule
 * offset (iova_offset): the range is iova_align(size + offset) bytes from iommu_dma_alloc_iova,
 * size-aligned like any other; IOVA placement congruent with phys modulo large pages is the phyr
 * design's (iommu/dma-iova.ts physHint), not the kernel's. O(IOVA allocator).
 * @returns the state, or undefined when `dev` has no IOMMU (use dmaMapPhys per range).
 * @throws IovaExhausted; RangeError for a bad range.
 */
export function dmaIovaTryAlloc(
  sys: DmaSystem,
  dev: DmaDevice,
  phys: number,
  size: number,
): DmaIovaState | undefined {
  checkRange("dma_iova_try_alloc", phys, size);
  const port = sys.iommuOf(dev);
  if (!port) return undefined;
  const pad = phys % port.granule;
  const iovaSize = alignUp(size + pad, port.granule);
  const iova = port.allocIova(iovaSize, dmaLimit(dev));
  return { addr: iova + pad, size, syncs: 0, links: [], iova, iovaSize };
}

/**
 * dma_iova_link(): maps [phys, phys+size) at `state.addr + offset`. Only the first range (offset
 * 0) may start inside a granule: every other must start on dma_get_merge_boundary() + 1.
 * O(pages mapped).
 * @throws DmaApiError IOVA_LINK (misaligned, outside the state, overlapping); IommuMapError.
 */
export function dmaIovaLink(
  sys: DmaSystem,
  dev: DmaDevice,
  state: DmaIovaState,
  phys: number,
  offset: number,
  size: number,
  dir: DmaDirection = "bidirectional",
  attrs = 0,
): void {
  checkDirection(dir);
  checkRange("dma_iova_link", phys, size);
  const port = sys.iommuOf(dev)!;
  const g = port.granule;
  const pad = phys % g;
  const at = state.addr + offset;
  const bad =
    !Number.isInteger(offset) || offset < 0 || offset + size > state.size
      ? "outside the IOVA state"
      : pad !== 0 && offset > 0
        ? `interior range starts at ${hex(pad)} into a granule (merge boundary ${hex(g - 1)})`
        : (at - pad) % g !== 0
          ? `IOVA ${hex(at)} and phys ${hex(phys)} differ within the granule`
          : "";
  for (let i = 0; i < state.links.length && bad === ""; i += 3) {
    if (offset < state.links[i] + state.links[i + 1] && state.links[i] < offset + size) {
      throw sys.debug.violation(
        "IOVA_LINK",
        dev.name,
        `${dev.name}: dma_iova_link at offset ${hex(offset)} overlaps a linked range`,
      );
    }
  }
  if (bad !== "") {
    throw sys.debug.violation(
      "IOVA_LINK",
      dev.name,
      `${dev.name}: dma_iova_link ${hex(phys)}+${hex(size)} at offset ${hex(offset)} is invalid: ${bad}`,
    );
  }
  port.map(at - pad, phys - pad, alignUp(size + pad, g), protOf(dir, (attrs & DmaAttr.MMIO) !== 0));
  state.links.push(offset, size, DIR_CODE[dir]);
  sys.debug.add(mappingsOf(dev).linkToken(state, offset), {
    device: dev.name,
    type: "iova",
    dmaAddr: at,
    size,
    dir,
    phys,
    ranges: Float64Array.of(at, size),
  });
}

/** dma_iova_sync(): one IOTLB sync for everything linked since the last one. O(1). */
export function dmaIovaSync(state: DmaIovaState): void {
  state.syncs++;
}

/**
 * dma_iova_unlink(): unmaps exactly one linked range. O(pages).
 * @throws DmaApiError DMA_NOT_MAPPED / DMA_WRONG_SIZE / DMA_WRONG_DIR; state unchanged.
 */
export function dmaIovaUnlink(
  sys: DmaSystem,
  dev: DmaDevice,
  state: DmaIovaState,
  offset: number,
  size: number,
  dir: DmaDirection = "bidirectional",
): void {
  const l = state.links;
  let i = 0;
  while (i < l.length && l[i] !== offset) i += 3;
  if (i >= l.length) {
    throw sys.debug.violation(
      "DMA_NOT_MAPPED",
      dev.name,
      `${dev.name}: dma_iova_unlink at ${hex(state.addr + offset)}: nothing linked there`,
    );
  }
  if (l[i + 1] !== size) {
    throw sys.debug.violation(
      "DMA_WRONG_SIZE",
      dev.name,
      `${dev.name}: dma_iova_unlink at ${hex(state.addr + offset)} with different size [map size=${hex(l[i + 1])}] [unmap size=${hex(size)}]`,
    );
  }
  if (l[i + 2] !== DIR_CODE[dir]) {
    throw sys.debug.violation(
      "DMA_WRONG_DIR",
      dev.name,
      `${dev.name}: dma_iova_unlink at ${hex(state.addr + offset)} with different direction`,
    );
  }
  const port = sys.iommuOf(dev)!;
  const g = port.granule;
  const at = state.addr + offset;
  const pad = at % g;
  port.unmap(at - pad, alignUp(size + pad, g));
  l.splice(i, 3);
  const maps = mappingsOf(dev);
  sys.debug.remove(dev.name, maps.linkToken(state, offset));
  maps.dropLinkToken(state, offset);
}

/**
 * dma_iova_destroy(): unlinks every linked range and frees the IOVA. O(pages).
 * @throws DmaApiError DMA_WRONG_SIZE when `mappedLen` differs from the bytes linked, DMA_WRONG_DIR
 *   when a range was linked with another direction; state unchanged.
 */
export function dmaIovaDestroy(
  sys: DmaSystem,
  dev: DmaDevice,
  state: DmaIovaState,
  mappedLen: number,
  dir: DmaDirection = "bidirectional",
): void {
  let linked = 0;
  for (let i = 0; i < state.links.length; i += 3) linked += state.links[i + 1];
  if (linked !== mappedLen) {
    throw sys.debug.violation(
      "DMA_WRONG_SIZE",
      dev.name,
      `${dev.name}: dma_iova_destroy of ${hex(state.addr)} with mapped_len ${hex(mappedLen)} but ${hex(linked)} linked`,
    );
  }
  for (let i = 0; i < state.links.length; i += 3) {
    if (state.links[i + 2] !== DIR_CODE[dir]) {
      throw sys.debug.violation(
        "DMA_WRONG_DIR",
        dev.name,
        `${dev.name}: dma_iova_destroy of ${hex(state.addr)} as ${dir}, but offset ${hex(state.links[i])} was linked as ${dirOf(state.links[i + 2])}`,
      );
    }
  }
  while (state.links.length > 0) dmaIovaUnlink(sys, dev, state, state.links[0], state.links[1], dir);
  dmaIovaFree(sys, dev, state);
}

/**
 * dma_iova_free(): frees the IOVA range of a state with nothing linked. O(allocator).
 * @throws DmaApiError IOVA_LINK when ranges are still linked.
 */
export function dmaIovaFree(sys: DmaSystem, dev: DmaDevice, state: DmaIovaState): void {
  if (state.links.length > 0) {
    throw sys.debug.violation(
      "IOVA_LINK",
      dev.name,
      `${dev.name}: dma_iova_free of ${hex(state.addr)} with ${state.links.length / 3} ranges still linked`,
    );
  }
  sys.iommuOf(dev)!.freeIova(state.iova, state.iovaSize);
}

function dirOf(code: number): DmaDirection {
  return code === 0 ? "bidirectional" : code === 1 ? "to-device" : "from-device";
}
