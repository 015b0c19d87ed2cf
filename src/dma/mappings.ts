/**
 * DeviceMappings: every live mapping of one device, in one place (the kernel keeps the same facts
 * spread over the scatterlist's dma fields, the IOVA domain and, with CONFIG_DMA_API_DEBUG, the
 * dma_debug_entry hash; kernel/dma/debug.c add_dma_entry()). Owned by its DmaDevice and reached
 * from dma/ through `mappingsOf(dev)` (device.ts); no layer index or entry point exports it.
 *
 * Four kinds, each keyed the way its unmap call finds it again:
 * - dmaMap records: the mapped object (the input list when identity, else the DmaList) -> records,
 *   oldest first (a list may be mapped more than once);
 * - dma_map_phys: the returned DMA address -> the mappings made there, newest last;
 * - dma_iova_link: per IOVA state, the debug checker's token of each linked offset;
 * - the kernel-way baselines (dma_map_sg on a scatterlist, page-at-a-time IOMMU): table or mapping
 *   object -> its record.
 */
import type { DmaDirection, DmaMapKind, DmaMapping } from "./types.js";

/** How one dmaMap() call was done, kept until its dmaUnmap(). */
export interface MapRecord {
  kind: DmaMapKind;
  dir: DmaDirection;
  attrs: number;
  /** Input entry count and bytes at map time (unmap checks the size against them). */
  nents: number;
  totalBytes: number;
  /** IOVA allocation start and size (size 0: none). */
  iova: number;
  iovaSize: number;
  /** Bounced entries as triples [tlbAddr, origAddr, len]. */
  bounces: number[];
  /** Device-visible ranges that bypass the IOMMU, as triples [dma, phys, len] (direct, bus address). */
  direct: number[];
  /** Bus-address triples' P2P provider per triple (0 = memory). */
  directProvider: number[];
  /** IOMMU-mapped chunks as triples [iova, phys, len] (physically contiguous, granule padded). */
  iommu: number[];
  /** IOMMU chunk provider per triple (0 = memory). */
  iommuProvider: number[];
  /** True once a provider revoke tore some of it down. */
  revoked: boolean;
  /** DMA ranges torn down by a revoke, as pairs [dma, len]: device access there faults. */
  revokedRanges: number[];
  /** Unregisters the revoke listeners (called at unmap). */
  detach: (() => void)[];
}

/** How a baseline (kernel-way) mapping was made, until its unmap. */
export interface BaselineRecord {
  readonly dir: DmaDirection;
  /** IOVA allocation (page-at-a-time IOMMU), or 0 / 0 for a dma-direct scatterlist. */
  readonly iova: number;
  readonly size: number;
}

/** The mapping state of one device; see the module comment. */
export class DeviceMappings {
  private readonly records = new Map<object, MapRecord[]>();
  private readonly phys = new Map<number, DmaMapping[]>();
  private readonly links = new Map<object, Map<number, object>>();
  private readonly baseline = new Map<object, BaselineRecord>();

  /** Number of live dmaMap records (dmaMap and dmaMapPhys). O(mapped objects). */
  get recordCount(): number {
    let n = 0;
    for (const r of this.records.values()) n += r.length;
    return n;
  }

  /** Records `rec` as one more mapping of `key`. O(1). */
  addRecord(key: object, rec: MapRecord): void {
    const recs = this.records.get(key);
    if (recs) recs.push(rec);
    else this.records.set(key, [rec]);
  }

  /** The live records of `key`, oldest first; undefined when none. O(1). */
  recordsOf(key: object): readonly MapRecord[] | undefined {
    return this.records.get(key);
  }

  /** Forgets `rec` (a record of `key`); the key goes when its last record does. O(records of key). */
  dropRecord(key: object, rec: MapRecord): void {
    const recs = this.records.get(key);
    const i = recs ? recs.indexOf(rec) : -1;
    if (!recs || i < 0) throw new Error("dropRecord: the record is not live on this device");
    recs.splice(i, 1);
    if (recs.length === 0) this.records.delete(key);
  }

  /** The live records grouped by key, in mapping order of the keys (read only). O(1) to start. */
  recordGroups(): IterableIterator<readonly MapRecord[]> {
    return this.records.values();
  }

  /** Records a dma_map_phys mapping `m` returned at DMA address `dma`. O(1). */
  addPhys(dma: number, m: DmaMapping): void {
    const same = this.phys.get(dma);
    if (same) same.push(m);
    else this.phys.set(dma, [m]);
  }

  /** The newest dma_map_phys mapping at `dma`, or undefined. O(1). */
  lastPhys(dma: number): DmaMapping | undefined {
    const same = this.phys.get(dma);
    return same === undefined ? undefined : same[same.length - 1];
  }

  /** Forgets the newest dma_map_phys mapping at `dma` (there is one: see lastPhys). O(1). */
  popPhys(dma: number): void {
    const same = this.phys.get(dma);
    if (!same) throw new Error(`popPhys: nothing is mapped at ${dma}`);
    same.pop();
    if (same.length === 0) this.phys.delete(dma);
  }

  /** The checker's token for the range linked at `offset` of IOVA state `state` (made on first use). O(1). */
  linkToken(state: object, offset: number): object {
    let m = this.links.get(state);
    if (!m) {
      m = new Map();
      this.links.set(state, m);
    }
    let k = m.get(offset);
    if (!k) {
      k = {};
      m.set(offset, k);
    }
    return k;
  }

  /** Forgets the token of `offset` in `state` (after its unlink). O(1). */
  dropLinkToken(state: object, offset: number): void {
    const m = this.links.get(state);
    if (!m) return;
    m.delete(offset);
    if (m.size === 0) this.links.delete(state);
  }

  /** The baseline record of `key`, or undefined. O(1). */
  baselineOf(key: object): BaselineRecord | undefined {
    return this.baseline.get(key);
  }

  /** Records a baseline mapping. O(1). */
  addBaseline(key: object, rec: BaselineRecord): void {
    this.baseline.set(key, rec);
  }

  /** Forgets a baseline mapping. O(1). */
  dropBaseline(key: object): void {
    this.baseline.delete(key);
  }

  /** True when nothing of any kind is live (no records, phys keys, link tokens or baselines). O(1). */
  get empty(): boolean {
    return (
      this.records.size === 0 && this.phys.size === 0 && this.links.size === 0 && this.baseline.size === 0
    );
  }

  /**
   * Verifies the invariants: no key without records; each record's triples come in threes with
   * one provider per triple, its bounces in threes and its revoked ranges in pairs; every
   * dma_map_phys mapping is a live record key; no empty phys or link entry. O(records + ranges).
   * @throws Error naming the first broken invariant.
   */
  checkValid(): void {
    for (const recs of this.records.values()) {
      if (recs.length === 0) throw new Error("mappings: a key is kept with no records");
      for (const r of recs) {
        if (r.direct.length % 3 !== 0 || r.direct.length / 3 !== r.directProvider.length)
          throw new Error(
            `mappings: direct triples ${r.direct.length} / providers ${r.directProvider.length}`,
          );
        if (r.iommu.length % 3 !== 0 || r.iommu.length / 3 !== r.iommuProvider.length)
          throw new Error(`mappings: iommu triples ${r.iommu.length} / providers ${r.iommuProvider.length}`);
        if (r.bounces.length % 3 !== 0) throw new Error(`mappings: bounces ${r.bounces.length} not triples`);
        if (r.revokedRanges.length % 2 !== 0)
          throw new Error(`mappings: revoked ranges ${r.revokedRanges.length} not pairs`);
        if (r.iovaSize < 0 || (r.iovaSize === 0 && r.iommu.length > 0))
          throw new Error(`mappings: IOMMU chunks without an IOVA allocation (iovaSize ${r.iovaSize})`);
      }
    }
    for (const [dma, ms] of this.phys) {
      if (ms.length === 0) throw new Error(`mappings: dma_map_phys address ${dma} kept with no mapping`);
      for (const m of ms) {
        if (!this.records.has(m)) throw new Error(`mappings: dma_map_phys mapping at ${dma} has no record`);
      }
    }
    for (const m of this.links.values()) {
      if (m.size === 0) throw new Error("mappings: an IOVA state is kept with no link token");
    }
  }
}
