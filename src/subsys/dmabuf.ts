/**
 * dma-buf exporters and importers over range lists (drivers/dma-buf/dma-buf.c; the vfio-pci BAR
 * exporter of drivers/vfio/pci/vfio_pci_dmabuf.c built from phys_vec ranges with its provider).
 *
 * An exporter owns CPU physical ranges (system memory, or a BAR's ranges carrying the BAR's P2P
 * provider). `attach` computes the P2P map type for the importer (pci_p2pdma_map_type) and refuses
 * NOT_SUPPORTED with a typed error, leaving nothing attached. `map` returns the importer's DmaList
 * (dma_buf_map_attachment: the exporter maps for the importer's device). `revoke` (reset/unplug, or
 * move_notify) tears down every importer mapping, calls each importer's move_notify, and makes later
 * maps fail; importer DMA to the old addresses then faults.
 */
import { hex, P2pNotSupported, PAGE_SIZE } from "../core/index.js";
import {
  type DmaDevice,
  type DmaDirection,
  type DmaMapping,
  type DmaSystem,
  dmaMap,
  dmaUnmap,
  type P2pMapType,
} from "../dma/index.js";
import { PhyrFlag, PhyrList } from "../phyr/index.js";
import { DmaBufError } from "./errors.js";

/**
 * What an attachment asks of its buffer (providers to listen on, a provider revoke, its own
 * detach): set by DmaBuf's static block, so those stay private to this module.
 */
let bufDoor: {
  providers(b: DmaBuf): number[];
  providerRevoked(b: DmaBuf, a: DmaBufAttachment, mapping: DmaMapping): void;
  drop(b: DmaBuf, a: DmaBufAttachment): void;
};
/** An importer's attachment. */
export class DmaBufAttachment {
  /** The mapping while mapped. */
  mapping: DmaMapping | null = null;
  private dir: DmaDirection = "bidirectional";
  /** Set by detach. */
  detached = false;
  private readonly unlisten: (() => void)[] = [];

  /** @internal created by {@link DmaBuf.attach}. */
  constructor(
    readonly buf: DmaBuf,
    readonly dev: DmaDevice,
    /** P2P map type per provider the buffer holds ("NONE" for memory). */
    readonly mapType: P2pMapType,
    /** move_notify: called after the exporter revoked or moved the buffer. */
    readonly moveNotify: (() => void) | undefined,
  ) {}

  /**
   * dma_buf_map_attachment. O(ranges).
   * @returns the DMA ranges for this importer.
   * @throws DmaBufError "REVOKED" / "DETACHED" / "MAPPED"; DMA errors (nothing mapped).
   */
  map(dir: DmaDirection = "bidirectional"): DmaMapping {
    if (this.detached)
      throw new DmaBufError("DETACHED", `Cannot map dma-buf ${this.buf.name} for ${this.dev.name}: detached`);
    if (this.buf.revoked)
      throw new DmaBufError(
        "REVOKED",
        `Cannot map dma-buf ${this.buf.name} for ${this.dev.name}: the exporter revoked it`,
      );
    if (this.mapping)
      throw new DmaBufError(
        "MAPPED",
        `Cannot map dma-buf ${this.buf.name} for ${this.dev.name}: already mapped`,
      );
    const mapping = dmaMap(this.buf.sys, this.dev, this.buf.ranges, dir);
    this.mapping = mapping;
    this.dir = dir;
    // Provider revoke (device reset / unplug): registered after dmaMap's own listener, so the DMA
    // layer has already torn the IOMMU ranges down when this runs; then the importer's mapping is
    // released and move_notify called.
    const p2p = this.buf.sys.p2p;
    if (p2p) {
      for (const p of bufDoor.providers(this.buf)) {
        this.unlisten.push(p2p.onRevoke(p, () => bufDoor.providerRevoked(this.buf, this, mapping)));
      }
    }
    return mapping;
  }

  /**
   * dma_buf_unmap_attachment. O(ranges).
   * @throws DmaBufError "NOT_MAPPED".
   */
  unmap(): void {
    if (!this.mapping)
      throw new DmaBufError(
        "NOT_MAPPED",
        `Cannot unmap dma-buf ${this.buf.name} for ${this.dev.name}: not mapped`,
      );
    dmaUnmap(this.buf.sys, this.dev, this.mapping, this.dir);
    this.mapping = null;
    for (const u of this.unlisten.splice(0)) u();
  }

  /** dma_buf_detach (unmapping first). O(ranges). */
  detach(): void {
    if (this.detached) return;
    if (this.mapping) this.unmap();
    this.detached = true;
    bufDoor.drop(this.buf, this);
  }
}

/** An exported buffer. */
export class DmaBuf {
  private readonly attachments: DmaBufAttachment[] = [];
  private revokedFlag = false;

  /**
   * @param sys the machine's DMA context; @param ranges the exporter's CPU physical ranges (entries
   *   of a BAR carry its provider); @param name for messages.
   * @throws RangeError for an empty list.
   */
  constructor(
    readonly sys: DmaSystem,
    readonly ranges: PhyrList,
    readonly name: string,
  ) {
    if (ranges.nents === 0) throw new RangeError(`dma-buf ${name} is invalid: no ranges`);
  }

  /** True after {@link revoke}. */
  get revoked(): boolean {
    return this.revokedFlag;
  }

  /** Live attachments. */
  get attachmentCount(): number {
    return this.attachments.length;
  }

  /**
   * dma_buf_dynamic_attach: computes the P2P map type for every provider in the buffer. O(ranges).
   * @throws P2pNotSupported when the importer cannot reach a provider (nothing attached);
   *   DmaBufError "REVOKED".
   */
  attach(dev: DmaDevice, moveNotify?: () => void): DmaBufAttachment {
    if (this.revokedFlag)
      throw new DmaBufError("REVOKED", `Cannot attach ${dev.name} to dma-buf ${this.name}: revoked`);
    let type: P2pMapType = "NONE";
    const seen = new Set<number>();
    for (const c = this.ranges.cursor(); !c.done; c.nextEntry()) {
      const p = c.provider;
      if (p === 0 || seen.has(p)) continue;
      seen.add(p);
      const t = this.sys.p2p?.mapType(p, dev) ?? "NOT_SUPPORTED";
      if (t === "NOT_SUPPORTED" || t === "NONE") {
        throw new P2pNotSupported(
          `Cannot attach ${dev.name} to dma-buf ${this.name}: provider ${p} at ${hex(c.entryAddr)} is not reachable (P2P map type ${t})`,
        );
      }
      if (type === "NONE" || t === "THRU_HOST_BRIDGE") type = t;
    }
    const a = new DmaBufAttachment(this, dev, type, moveNotify);
    this.attachments.push(a);
    return a;
  }

  /**
   * Revoke (vfio-pci reset, or the exporter moving the buffer): unmaps every importer mapping, calls
   * each move_notify, and refuses later attach/map. Idempotent. O(attachments x ranges).
   * @returns the number of mappings torn down.
   */
  revoke(): number {
    if (this.revokedFlag) return 0;
    this.revokedFlag = true;
    let n = 0;
    for (const a of this.attachments) {
      if (a.mapping) {
        a.unmap();
        n++;
      }
    }
    for (const a of this.attachments) a.moveNotify?.();
    return n;
  }

  /** The provider indices the buffer's ranges carry. O(ranges). */
  private providers(): number[] {
    const seen = new Set<number>();
    for (const c = this.ranges.cursor(); !c.done; c.nextEntry()) if (c.provider !== 0) seen.add(c.provider);
    return [...seen];
  }

  /** A provider behind the buffer was revoked while `a` was mapped as `mapping`. O(ranges). */
  private providerRevoked(a: DmaBufAttachment, mapping: DmaMapping): void {
    this.revokedFlag = true;
    if (a.mapping === mapping) a.unmap();
    a.moveNotify?.();
  }

  /** Removes a detached attachment. O(attachments). */
  private drop(a: DmaBufAttachment): void {
    const i = this.attachments.indexOf(a);
    if (i >= 0) this.attachments.splice(i, 1);
  }

  static {
    bufDoor = {
      providers: (b) => b.providers(),
      providerRevoked: (b, a, mapping) => b.providerRevoked(a, mapping),
      drop: (b, a) => b.drop(a),
    };
  }
}

/**
 * vfio-pci's dma-buf export of a BAR range (drivers/vfio/pci/vfio_pci_dmabuf.c): the range becomes
 * one physical range flagged MMIO and carrying the BAR's P2P provider, so importers need no
 * struct page and a 4 KiB BAR works. O(1).
 * @param provider the BAR's provider: its registry index and CPU aperture.
 * @param offset byte offset into the BAR (4 KiB aligned); @param len bytes (4 KiB multiple).
 * @throws RangeError when the range is unaligned or leaves the BAR; DmaBufError "REVOKED" when the
 *   provider was revoked.
 */
export function vfioPciExportBar(
  sys: DmaSystem,
  provider: { index: number; start: number; size: number; revoked: boolean },
  offset: number,
  len: number,
  name = `bar@${hex(provider.start)}`,
): DmaBuf {
  if (
    !Number.isInteger(offset) ||
    !Number.isInteger(len) ||
    offset < 0 ||
    len <= 0 ||
    offset % PAGE_SIZE !== 0 ||
    len % PAGE_SIZE !== 0 ||
    offset + len > provider.size
  ) {
    throw new RangeError(
      `BAR range ${hex(offset)}+${hex(len)} is invalid: expected 4 KiB-aligned bytes inside the ${hex(provider.size)}-byte BAR`,
    );
  }
  if (provider.revoked)
    throw new DmaBufError("REVOKED", `Cannot export ${name}: the BAR's provider is revoked`);
  const ranges = new PhyrList({ store: "wide", chunkCapacity: 8 });
  ranges.append(provider.start + offset, len, PhyrFlag.MMIO, provider.index);
  return new DmaBuf(sys, ranges, name);
}
