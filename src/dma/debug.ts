/**
 * The DMA API debug checker, like CONFIG_DMA_API_DEBUG (kernel/dma/debug.c): it records every live
 * mapping per device (DMA address, size, direction, CPU address), reports leaks, and logs the
 * errors the kernel warns about -- unmapping what was never mapped, double unmap, unmap with a
 * different size or direction -- plus device accesses to DMA addresses that are not mapped (after
 * unmap, or never), which the kernel can only see through an IOMMU fault.
 *
 * Cost: add/remove O(ranges of the mapping); an access check O(live ranges of the device) (debug
 * only, like the kernel's hash walk); leak reports O(live ranges).
 */
import { DmaApiError, hex } from "../core/index.js";
import type { DmaDirection } from "./types.js";

/** One live mapping as the checker sees it (dma_debug_entry). */
export interface DmaDebugEntry {
  /** Device name (BDF). */
  readonly device: string;
  /** What was mapped: "list" (dmaMap), "phys" (dmaMapPhys) or "iova" (two-step link). */
  readonly type: "list" | "phys" | "iova";
  /** First DMA address. */
  readonly dmaAddr: number;
  /** Mapped bytes. */
  readonly size: number;
  /** Direction it was mapped with. */
  readonly dir: DmaDirection;
  /** First CPU physical address (-1 when the mapping has no single one). */
  readonly phys: number;
  /** DMA ranges as [dma, len] pairs (device-visible bytes). */
  readonly ranges: Float64Array;
}

/** A logged API violation. */
export interface DmaDebugViolation {
  /** Stable code: DMA_NOT_MAPPED, DMA_DOUBLE_UNMAP, DMA_WRONG_SIZE, DMA_WRONG_DIR, DMA_ACCESS_UNMAPPED. */
  readonly code: string;
  /** Device name. */
  readonly device: string;
  /** The message, naming device and addresses in hex. */
  readonly message: string;
}

/** The checker: one per simulated machine, shared by all its devices. */
export class DmaDebug {
  /** When false nothing is recorded (like a kernel built without CONFIG_DMA_API_DEBUG). */
  enabled: boolean;
  /** Every violation seen, in order. */
  readonly violations: DmaDebugViolation[] = [];
  private readonly live = new Map<string, Map<object, DmaDebugEntry>>();
  private readonly gone = new WeakSet<object>();

  /** @param enabled start recording (default true). */
  constructor(enabled = true) {
    this.enabled = enabled;
  }

  /** Records a new mapping keyed by `token` (the returned list, state or address key). O(1). */
  add(token: object, entry: DmaDebugEntry): void {
    if (!this.enabled) return;
    let m = this.live.get(entry.device);
    if (!m) {
      m = new Map();
      this.live.set(entry.device, m);
    }
    m.set(token, entry);
    this.gone.delete(token);
  }

  /** The live entry of `token` on `device`, if any. O(1). */
  get(device: string, token: object): DmaDebugEntry | undefined {
    return this.live.get(device)?.get(token);
  }

  /** Forgets a mapping at unmap; remembers the token so a second unmap is named a double unmap. O(1). */
  remove(device: string, token: object): void {
    if (!this.enabled) return;
    this.live.get(device)?.delete(token);
    this.gone.add(token);
  }

  /** True when `token` was mapped and has been unmapped since. O(1). */
  wasUnmapped(token: object): boolean {
    return this.gone.has(token);
  }

  /**
   * Logs a violation and returns the error to throw (the DMA API throws it; state is unchanged).
   * O(1).
   */
  violation(code: string, device: string, message: string): DmaApiError {
    if (this.enabled) this.violations.push({ code, device, message });
    return new DmaApiError(code, message);
  }

  /**
   * Checks a device access to [dma, dma+len): every byte must lie in a live range of a mapping
   * whose direction allows it (one range, or several that abut in DMA space). Returns the entry
   * holding the first byte, or throws. O(pieces x live ranges of the device).
   * @throws DmaApiError DMA_ACCESS_UNMAPPED (logged) when no live mapping covers it.
   */
  checkAccess(device: string, dma: number, len: number, write: boolean): DmaDebugEntry | undefined {
    if (!this.enabled) return undefined;
    const m = this.live.get(device);
    // The access may run across several live mappings that abut in DMA space (a device sees one
    // address space): cover it piece by piece, each piece by a mapping allowing the direction.
    let first: DmaDebugEntry | undefined;
    let at = dma;
    const end = dma + len;
    while (m && at < end) {
      const piece = this.coveringPiece(m, at, write);
      if (!piece) break;
      first ??= piece.entry;
      at = piece.end;
    }
    if (first && at >= end) return first;
    throw this.violation(
      "DMA_ACCESS_UNMAPPED",
      device,
      `${device}: device ${write ? "write to" : "read from"} ${hex(dma)}+${hex(len)} hits no live mapping allowing it (never mapped, or accessed after unmap)`,
    );
  }

  /** A live mapping range holding `at` that allows the direction, and where that range ends. */
  private coveringPiece(
    m: Map<object, DmaDebugEntry>,
    at: number,
    write: boolean,
  ): { entry: DmaDebugEntry; end: number } | undefined {
    for (const e of m.values()) {
      if (write ? e.dir === "to-device" : e.dir === "from-device") continue;
      const r = e.ranges;
      for (let i = 0; i < r.length; i += 2) {
        if (at >= r[i] && at < r[i] + r[i + 1]) return { entry: e, end: r[i] + r[i + 1] };
      }
    }
    return undefined;
  }

  /** Live mappings of `device`, or of every device when omitted. O(live). */
  leaks(device?: string): DmaDebugEntry[] {
    const out: DmaDebugEntry[] = [];
    for (const [name, m] of this.live) if (device === undefined || name === device) out.push(...m.values());
    return out;
  }

  /**
   * Throws when mappings are still live (the kernel's "device driver has pending DMA allocations
   * while released from device"). O(live).
   * @throws DmaApiError DMA_LEAK naming the count and the first leaked mapping in hex.
   */
  checkNoLeaks(device?: string): void {
    const l = this.leaks(device);
    if (l.length === 0) return;
    const e = l[0];
    throw new DmaApiError(
      "DMA_LEAK",
      `${e.device}: device driver has pending DMA mappings [count=${l.length}], first at ${hex(e.dmaAddr)}+${hex(e.size)} (${e.type}, ${e.dir}${e.phys >= 0 ? `, phys ${hex(e.phys)}` : ""})`,
    );
  }

  /** Number of live mappings over all devices. O(devices). */
  get liveCount(): number {
    let n = 0;
    for (const m of this.live.values()) n += m.size;
    return n;
  }
}
