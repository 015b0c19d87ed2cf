/**
 * Provider revoke (a BAR's device was reset or unplugged, like vfio-pci revoking its dma-bufs):
 * every live mapping that references the provider loses those ranges at once -- IOMMU chunks are
 * unmapped and the IOTLB synced, bus-address ranges are dropped -- and later device access to them
 * faults. The mapping stays recorded until its owner calls dmaUnmap().
 */
import type { DmaDevice } from "./device.js";
import type { MapRecord } from "./mappings.js";
import type { DmaSystem } from "./system.js";

/**
 * Registers revoke listeners for every provider `rec` references. O(providers referenced).
 */
export function attachRevoke(sys: DmaSystem, dev: DmaDevice, rec: MapRecord): void {
  const p2p = sys.p2p;
  if (!p2p) return;
  const seen = new Set<number>();
  for (const p of rec.directProvider) if (p !== 0) seen.add(p);
  for (const p of rec.iommuProvider) if (p !== 0) seen.add(p);
  for (const p of seen) rec.detach.push(p2p.onRevoke(p, () => revokeRecord(sys, dev, rec, p)));
}

/** Tears down the parts of `rec` that reference provider `p`. O(ranges of rec). */
export function revokeRecord(sys: DmaSystem, dev: DmaDevice, rec: MapRecord, p: number): void {
  const port = sys.iommuOf(dev);
  for (let i = rec.iommuProvider.length - 1; i >= 0; i--) {
    if (rec.iommuProvider[i] !== p) continue;
    const [iova, , len] = rec.iommu.splice(3 * i, 3);
    rec.iommuProvider.splice(i, 1);
    port?.unmap(iova, len);
    rec.revokedRanges.push(iova, len);
  }
  for (let i = rec.directProvider.length - 1; i >= 0; i--) {
    if (rec.directProvider[i] !== p) continue;
    const [dma, , len] = rec.direct.splice(3 * i, 3);
    rec.directProvider.splice(i, 1);
    rec.revokedRanges.push(dma, len);
  }
  rec.revoked = true;
}
