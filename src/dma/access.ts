/**
 * Data mode: the device side of DMA. `dmaRead` / `dmaWrite` take a DMA address as the device
 * would put it on the bus and go through the same translation the mapping set up -- a bus address
 * or dma-direct range (bus offset, swiotlb slot) of a live mapping, else the IOMMU walk (which
 * records faults) -- to RAM or BAR bytes. Without an IOMMU an access outside every live mapping
 * is caught by the debug checker (DMA_ACCESS_UNMAPPED); with the checker off it reaches whatever
 * dma_to_phys names, as real hardware would.
 *
 * Cost: O(live ranges of the device) to find the range, plus one IOMMU translation per page.
 */
import { checkAddr, checkLen, DmaApiError, hex, IommuFault } from "../core/index.js";
import { type DmaDevice, mappingsOf } from "./device.js";
import { dmaToPhys } from "./direct.js";
import type { DmaSystem } from "./system.js";

/**
 * Translates a device access of [dma, dma+len) into CPU physical pieces, calling
 * `fn(phys, offset, n)` for each. O(live ranges + pages).
 * @throws IommuFault (IOMMU fault, or a range torn down by a provider revoke), DmaApiError
 *   DMA_ACCESS_UNMAPPED (debug checker, no IOMMU).
 */
export function dmaTranslate(
  sys: DmaSystem,
  dev: DmaDevice,
  dma: number,
  len: number,
  write: boolean,
  fn: (phys: number, offset: number, n: number) => void,
): void {
  checkAddr("DMA address", dma);
  checkLen("DMA access length", len);
  for (const recs of mappingsOf(dev).recordGroups()) {
    for (const rec of recs) {
      const rv = rec.revokedRanges;
      for (let i = 0; i < rv.length; i += 2) {
        if (dma < rv[i] + rv[i + 1] && rv[i] < dma + len) {
          throw new IommuFault(
            `${dev.name}: DMA ${write ? "write" : "read"} at ${hex(dma)} faulted: the provider behind it was revoked`,
            dev.name,
            dma,
            "revoked",
          );
        }
      }
      const d = rec.direct;
      for (let i = 0; i < d.length; i += 3) {
        if (dma >= d[i] && dma + len <= d[i] + d[i + 2]) {
          if (sys.debug.enabled) sys.debug.checkAccess(dev.name, dma, len, write);
          fn(d[i + 1] + (dma - d[i]), 0, len);
          return;
        }
      }
    }
  }
  const port = sys.iommuOf(dev);
  if (port) {
    let off = 0;
    while (off < len) {
      const iova = dma + off;
      const n = Math.min(len - off, port.granule - (iova % port.granule));
      fn(port.translate(dev.name, iova, write), off, n);
      off += n;
    }
    return;
  }
  if (sys.debug.enabled) sys.debug.checkAccess(dev.name, dma, len, write);
  const phys = dmaToPhys(dev, dma);
  if (phys < 0) {
    throw new DmaApiError(
      "DMA_ACCESS_UNMAPPED",
      `${dev.name}: DMA at ${hex(dma)} is outside every dma_range_map region`,
    );
  }
  fn(phys, 0, len);
}

/**
 * The device reads `len` bytes at DMA address `dma`. O(live ranges + pages + len).
 * @returns the bytes.
 * @throws as {@link dmaTranslate}.
 */
export function dmaRead(sys: DmaSystem, dev: DmaDevice, dma: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  dmaTranslate(sys, dev, dma, len, false, (phys, off, n) => out.set(sys.memory.readPhys(phys, n), off));
  return out;
}

/**
 * The device writes `bytes` at DMA address `dma`. The translation is complete before any byte is
 * written, so a faulting access writes nothing. O(live ranges + pages + len).
 * @throws as {@link dmaTranslate}.
 */
export function dmaWrite(sys: DmaSystem, dev: DmaDevice, dma: number, bytes: Uint8Array): void {
  const parts: number[] = [];
  dmaTranslate(sys, dev, dma, bytes.length, true, (phys, off, n) => parts.push(phys, off, n));
  for (let i = 0; i < parts.length; i += 3) {
    sys.memory.writePhys(parts[i], bytes.subarray(parts[i + 1], parts[i + 1] + parts[i + 2]));
  }
}
