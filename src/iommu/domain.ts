/**
 * IOMMU domains (struct iommu_domain): blocked, identity, DMA strict and DMA lazy (flush queue),
 * with their page table, IOTLB, IOVA space and fault log.
 *
 * - blocked: every access faults ("blocked").
 * - identity: IOVA = physical address, no table.
 * - dma (strict): unmap syncs the gathered IOTLB invalidation at once; freed IOVAs return at once.
 * - dma-fq (lazy): unmap skips the IOTLB sync and IOVA frees wait in a flush queue; stale IOTLB
 *   entries keep translating until the queue is flushed (flush_iotlb_all, then the IOVAs are freed),
 *   which happens when `fqSize` unmaps or frees are pending (IOVA_FQ_SIZE 256) or on {@link IommuDomain.flush}.
 *   The kernel's 10 ms flush timer is not modelled.
 */
import { checkAddr, DmaApiError, hex, IommuFault } from "../core/index.js";
import type { PhyrRead } from "../phyr/index.js";
import { type DmaIovaOptions, iommuDmaAllocIova, iommuDmaFreeIova } from "./dma-iova.js";
import { type IoPgtableFormat, type IoPgtableFormatName, ioPgtableFormat } from "./format.js";
import { Iotlb, type IotlbOptions } from "./iotlb.js";
import { IovaDomain, type IovaDomainOptions } from "./iova.js";
import { type IotlbGather, ioMap, ioMapList, iotlbGatherInit, ioUnmap } from "./map.js";
import { IoPageTable } from "./pgtable.js";
import { type IommuAccess, type IommuFaultReason, IommuMapError, IommuProt } from "./prot.js";

/** Kinds of domain. */
export type IommuDomainType = "blocked" | "identity" | "dma" | "dma-fq";

/** Flush-queue entries per CPU in drivers/iommu/dma-iommu.c (IOVA_FQ_SIZE). */
export const IOVA_FQ_SIZE = 256;

/** Options of {@link IommuDomain}. */
export interface IommuDomainOptions {
  /** Domain type. */
  type: IommuDomainType;
  /** Page-table format of paging domains; default "x86-4level". */
  format?: IoPgtableFormatName;
  /** IOTLB geometry. */
  iotlb?: IotlbOptions;
  /** Pending unmaps or IOVA frees that trigger a flush in a dma-fq domain; default 256. */
  fqSize?: number;
  /** IOVA space options (granule defaults to the format's smallest page). */
  iova?: IovaDomainOptions;
  /** Name used in messages. */
  name?: string;
}

/** One recorded fault. */
export interface IommuFaultRecord {
  device: string;
  iova: number;
  access: IommuAccess;
  reason: IommuFaultReason;
}

/** Counters of a domain. */
export interface IommuDomainStats {
  /** Successful map calls. */
  maps: number;
  /** Unmap calls. */
  unmaps: number;
  /** IOTLB range syncs (one per gather). */
  iotlbSyncs: number;
  /** Whole-IOTLB flushes (flush queue). */
  iotlbFlushAll: number;
  /** Page-table walks after an IOTLB miss. */
  walks: number;
}

/** An IOMMU domain. */
export class IommuDomain {
  /** Domain type. */
  readonly type: IommuDomainType;
  /** Name used in messages. */
  readonly name: string;
  /** Page-table format (null for blocked and identity). */
  readonly format: IoPgtableFormat | null;
  /** Supported page sizes (0 for blocked and identity). */
  readonly pgsizeBitmap: number;
  /** The IO page table (null for blocked and identity). */
  readonly pgtable: IoPageTable | null;
  /** The IOTLB. */
  readonly iotlb: Iotlb;
  /** IOVA space (dma and dma-fq only). */
  readonly iovad: IovaDomain | null;
  /** Every fault, in order. */
  readonly faults: IommuFaultRecord[] = [];
  /** Counters. */
  readonly stats: IommuDomainStats = { maps: 0, unmaps: 0, iotlbSyncs: 0, iotlbFlushAll: 0, walks: 0 };
  /** Flush-queue threshold (dma-fq). */
  readonly fqSize: number;
  private fqIova: number[] = [];
  private fqPendingUnmaps = 0;
  private readonly syncFn = (g: IotlbGather): void => this.iotlbSync(g);

  /**
   * A new empty domain.
   * @throws RangeError for an unknown type or format, or bad IOTLB / IOVA options.
   */
  constructor(opts: IommuDomainOptions) {
    const t = opts.type;
    if (t !== "blocked" && t !== "identity" && t !== "dma" && t !== "dma-fq") {
      throw new RangeError(
        `domain type ${JSON.stringify(t)} is invalid: expected blocked, identity, dma or dma-fq`,
      );
    }
    this.type = t;
    this.name = opts.name ?? `${t} domain`;
    this.iotlb = new Iotlb(opts.iotlb);
    const fq = opts.fqSize ?? IOVA_FQ_SIZE;
    if (!Number.isInteger(fq) || fq < 1)
      throw new RangeError(`fqSize ${String(fq)} is invalid: expected an integer >= 1`);
    this.fqSize = fq;
    if (t === "dma" || t === "dma-fq") {
      this.format = ioPgtableFormat(opts.format ?? "x86-4level");
      this.pgsizeBitmap = this.format.pgsizeBitmap;
      this.pgtable = new IoPageTable(this.format);
      this.iovad = new IovaDomain({ granule: 2 ** this.format.granuleShift, ...opts.iova });
    } else {
      this.format = null;
      this.pgsizeBitmap = 0;
      this.pgtable = null;
      this.iovad = null;
    }
  }

  /** True for dma and dma-fq (struct iommu_domain __IOMMU_DOMAIN_PAGING). */
  get paging(): boolean {
    return this.pgtable !== null;
  }

  /** IOVA frees waiting in the flush queue. O(1). */
  get fqPending(): number {
    return this.fqIova.length / 2;
  }

  /**
   * iommu_map: maps [iova, iova+size) to [paddr, ...) with `prot` (IommuProt bits), choosing page
   * sizes with iommu_pgsize. All-or-nothing.
   * @throws IommuMapError "IOMMU_EINVAL" on a non-paging domain, misalignment or beyond the
   *   aperture; "IOMMU_EEXIST" when already mapped. RangeError for bad numbers or prot.
   * Cost: O(levels x steps + pages written).
   */
  map(iova: number, paddr: number, size: number, prot: number): void {
    ioMap(this.paging_(), iova, paddr, size, prot);
    this.stats.maps++;
  }

  /**
   * Maps the entries of a range list back to back from `iova`, like iommu_map_sg: one run per
   * entry, page sizes chosen per run as {@link map} does. Unlike the kernel's iommu_map_sg (one
   * __iommu_map, so one walk from the root, per segment), leaf tables are filled in order and a
   * run landing in the table the previous run used does not walk again. MMIO-flagged entries get
   * `mmioProt`. All-or-nothing. Counts one map per entry.
   * @returns Entries mapped.
   * @throws IommuMapError "IOMMU_EINVAL" on a non-paging domain, an entry or `iova` not aligned to
   *   the smallest page size, or beyond the aperture; "IOMMU_EEXIST" when already mapped.
   *   RangeError for a bad `iova` or prot.
   * Cost: O(entries + pages written + tables entered x levels).
   */
  mapPhyrs(iova: number, list: PhyrRead, prot: number, mmioProt = prot): number {
    const n = ioMapList(this.paging_(), iova, list, prot, mmioProt);
    this.stats.maps += n;
    return n;
  }

  /**
   * iommu_unmap: unmaps from `iova` up to `size` bytes (stopping at a hole). Strict domains sync
   * the gathered invalidation before returning; lazy ones leave the IOTLB stale until a flush.
   * @returns Bytes unmapped.
   * @throws IommuMapError "IOMMU_EINVAL" on a non-paging domain, misalignment, or inside a large page.
   * Cost: O(levels) per table entered, O(1) per leaf, plus one IOTLB range invalidation per gather.
   */
  unmap(iova: number, size: number): number {
    const pt = this.paging_();
    this.stats.unmaps++;
    if (this.type === "dma-fq") {
      const n = ioUnmap(pt, iova, size, null, null);
      if (++this.fqPendingUnmaps >= this.fqSize) this.flush();
      return n;
    }
    const gather = iotlbGatherInit();
    const n = ioUnmap(pt, iova, size, gather, this.syncFn);
    if (gather.start <= gather.end) this.iotlbSync(gather);
    return n;
  }

  /** iommu_iova_to_phys: the physical address of `iova`, or -1 when unmapped. O(levels). */
  iovaToPhys(iova: number): number {
    checkAddr("iova", iova);
    if (this.type === "identity") return iova;
    if (this.pgtable === null) return -1;
    return this.pgtable.iovaToPhys(iova);
  }

  /**
   * A device access at `iova`: consults the IOTLB, walks the table on a miss and fills the IOTLB.
   * @returns The physical address.
   * @throws IommuFault naming device, IOVA and reason (also recorded in {@link faults}).
   * @throws RangeError for a bad IOVA.
   * Cost: O(IOTLB probe) on a hit, O(levels) on a miss.
   */
  translate(device: string, iova: number, access: IommuAccess): number {
    const phys = this.tryTranslate(device, iova, access);
    if (phys < 0) {
      const f = this.faults[this.faults.length - 1];
      throw new IommuFault(
        `IOMMU fault in ${this.name}: ${device} ${access} at ${hex(iova)}: ${f.reason}`,
        device,
        iova,
        f.reason,
      );
    }
    return phys;
  }

  /**
   * Like {@link translate} but returns -1 on a fault (still recorded). No allocation on success.
   * @throws RangeError for a bad IOVA.
   */
  tryTranslate(device: string, iova: number, access: IommuAccess): number {
    checkAddr("iova", iova);
    if (this.type === "identity") return iova;
    if (this.pgtable === null) return this.fault(device, iova, access, "blocked");
    let phys: number;
    let prot: number;
    if (this.iotlb.lookup(iova)) {
      phys = this.iotlb.lastPhys;
      prot = this.iotlb.lastProt;
    } else {
      this.stats.walks++;
      if (!this.pgtable.lookup(iova)) return this.fault(device, iova, access, "unmapped");
      const f = this.pgtable.found;
      this.iotlb.fill(f.pageIova, f.pgsize, f.pageBase, f.prot);
      phys = f.phys;
      prot = f.prot;
    }
    if (access === "read" && (prot & IommuProt.READ) === 0)
      return this.fault(device, iova, access, "no-read");
    if (access === "write" && (prot & IommuProt.WRITE) === 0)
      return this.fault(device, iova, access, "no-write");
    return phys;
  }

  /**
   * Allocates IOVA space for DMA (iommu_dma_alloc_iova) inside the domain's aperture
   * (geometry.aperture_end: 2^47 - 1 for the sign-extended VT-d first stage, see format.ts).
   * @throws IovaExhausted when nothing fits; IommuMapError "IOMMU_EINVAL" on a non-DMA domain.
   */
  iovaAlloc(size: number, dmaLimit: number, opts: DmaIovaOptions = {}): number {
    const pt = this.paging_();
    return iommuDmaAllocIova(this.iovad!, size, dmaLimit, {
      pgsizeBitmap: this.pgsizeBitmap,
      apertureEnd: 2 ** Math.min(52, pt.format.apertureBits) - 1,
      ...opts,
    });
  }

  /**
   * Frees IOVA space (iommu_dma_free_iova): at once in a strict domain, after the next flush in a
   * lazy one.
   * @throws DmaApiError "IOVA_NOT_ALLOCATED" (strict: at once; lazy: checked now, freed later).
   */
  iovaFree(iova: number, size: number): void {
    this.paging_();
    const iovad = this.iovad!;
    if (this.type === "dma-fq") {
      const r = iovad.findIova(Math.floor(iova / iovad.granule));
      if (r === undefined || r.reserved || r.lo * iovad.granule !== iova) {
        iommuDmaFreeIova(iovad, iova, size); // throws the typed error
      }
      for (let i = 0; i < this.fqIova.length; i += 2) {
        if (this.fqIova[i] === iova) {
          throw new DmaApiError(
            "IOVA_NOT_ALLOCATED",
            `Cannot free IOVA ${hex(iova)}: already queued for freeing`,
          );
        }
      }
      this.fqIova.push(iova, size);
      if (this.fqIova.length / 2 >= this.fqSize) this.flush();
      return;
    }
    iommuDmaFreeIova(iovad, iova, size);
  }

  /**
   * Flushes the lazy queue: invalidates the whole IOTLB, then frees the queued IOVAs. A no-op
   * on an empty queue. O(IOTLB entries + queued frees).
   */
  flush(): void {
    if (this.fqPendingUnmaps === 0 && this.fqIova.length === 0) return;
    this.iotlb.invalidateAll();
    this.stats.iotlbFlushAll++;
    const q = this.fqIova;
    this.fqIova = [];
    this.fqPendingUnmaps = 0;
    for (let i = 0; i < q.length; i += 2) iommuDmaFreeIova(this.iovad!, q[i], q[i + 1]);
  }

  /**
   * Verifies the page table, IOTLB and IOVA space, and that every IOTLB entry of a strict domain
   * still matches the table.
   * @throws Error naming the first broken invariant. O(table + IOTLB + IOVA ranges).
   */
  checkValid(): void {
    this.iotlb.checkValid();
    this.pgtable?.checkValid();
    this.iovad?.checkValid();
    if (this.type === "dma-fq" && this.fqIova.length / 2 >= this.fqSize)
      throw new Error("flush queue over its size");
  }

  private iotlbSync(g: IotlbGather): void {
    this.iotlb.invalidateRange(g.start, g.end);
    this.stats.iotlbSyncs++;
  }

  private fault(device: string, iova: number, access: IommuAccess, reason: IommuFaultReason): number {
    this.faults.push({ device, iova, access, reason });
    return -1;
  }

  private paging_(): IoPageTable {
    if (this.pgtable === null) {
      throw new IommuMapError(
        "IOMMU_EINVAL",
        `Cannot map or unmap in ${this.name}: a ${this.type} domain has no page table`,
      );
    }
    return this.pgtable;
  }
}

/**
 * iommu_map as a function: see {@link IommuDomain.map}.
 * @throws as IommuDomain.map.
 */
export function iommuMap(domain: IommuDomain, iova: number, paddr: number, size: number, prot: number): void {
  domain.map(iova, paddr, size, prot);
}

/**
 * iommu_unmap as a function: see {@link IommuDomain.unmap}.
 * @returns Bytes unmapped.
 */
export function iommuUnmap(domain: IommuDomain, iova: number, size: number): number {
  return domain.unmap(iova, size);
}
