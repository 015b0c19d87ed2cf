/**
 * A PCI tree model: host bridges with memory windows, root ports, switch upstream and downstream
 * ports, endpoint functions with up to six BAR registers. Devices are named by their PCI address;
 * the parent of a device on bus N is the bridge whose secondary bus is N, or the host bridge whose
 * root bus is N. BARs get CPU addresses inside the host bridge's windows, naturally aligned, in the
 * order they are added: 64-bit prefetchable BARs in the 64-bit window, the others in the 32-bit
 * one (bridge windows below the host bridge are not modelled). Bus address = CPU address +
 * busOffset of the host bridge.
 *
 * Topologies are small (hundreds of functions), so records are plain objects. Costs: adding a
 * device O(devices), lookups by index O(1), by address O(1) (map).
 */
import { checkAddr, hex, isPow2 } from "../core/index.js";
import { formatBdf, parseBdf } from "./bdf.js";
import { lspciTree } from "./lspci.js";
import { calcMapType } from "./p2pdma.js";
import type {
  P2pMapResult,
  PciBar,
  PciBarSpec,
  PciDev,
  PciDevKind,
  PciHostBridge,
  PciHostBridgeSpec,
  PciWindow,
} from "./types.js";

/** Options of a topology: the CPU decides cpu_supports_p2pdma(). */
export interface PciTopologyOptions {
  /** CPU vendor; default "Intel". */
  cpuVendor?: "AMD" | "Intel" | "other";
  /** CPU family (x86 family id); default 6. AMD family >= 0x17 (Zen) supports P2P through the host bridge. */
  cpuFamily?: number;
}

/** Options of a bridge function. */
export interface PciBridgeSpec {
  /** Secondary bus number (unique in the domain, above this function's bus). */
  secondary: number;
  /** ACS control bits (PciAcs). */
  acsCtrl?: number;
  name?: string;
}

/** Options of an endpoint function. */
export interface PciEndpointSpec {
  bars?: readonly PciBarSpec[];
  /** ACS control bits (multifunction devices may have ACS). */
  acsCtrl?: number;
  name?: string;
}

interface MutableHostBridge extends PciHostBridge {
  next32: number;
  next64: number;
}

/** A PCI tree. */
export class PciTopology {
  /** True when the CPU forwards P2P between root ports (cpu_supports_p2pdma: AMD family >= 0x17). */
  readonly cpuSupportsP2p: boolean;
  /** P2P map-type cache lookups answered from the cache. */
  p2pCacheHits = 0;
  /** P2P map-type calculations (cache misses). */
  p2pCacheMisses = 0;
  private readonly devs: PciDev[] = [];
  private readonly hbs: MutableHostBridge[] = [];
  private readonly byBdf = new Map<string, number>();
  private readonly p2pCache = new Map<number, P2pMapResult>();

  /** An empty tree. */
  constructor(opts: PciTopologyOptions = {}) {
    const vendor = opts.cpuVendor ?? "Intel";
    const family = opts.cpuFamily ?? 6;
    this.cpuSupportsP2p = vendor === "AMD" && family >= 0x17;
  }

  /** Every function, by index. */
  get devices(): readonly PciDev[] {
    return this.devs;
  }

  /** Every host bridge, by index. */
  get hostBridges(): readonly PciHostBridge[] {
    return this.hbs;
  }

  /**
   * Adds a host bridge with a root bus.
   * @returns Its index.
   * @throws RangeError for a duplicate root bus, bad windows or offset.
   * Cost: O(host bridges).
   */
  hostBridge(spec: PciHostBridgeSpec = {}): number {
    const index = this.hbs.length;
    const domain = checkField("PCI domain", spec.domain ?? 0, 0xffff);
    const bus = checkField("root bus", spec.bus ?? 0, 0xff);
    if (this.hbs.some((h) => h.domain === domain && h.bus === bus) || this.busOwner(domain, bus) >= 0) {
      throw new RangeError(`root bus ${hex(domain)}:${hex(bus)} is invalid: already in use`);
    }
    const allowlist = spec.allowlist ?? "none";
    if (allowlist !== "none" && allowlist !== "sameHostBridge" && allowlist !== "any") {
      throw new RangeError(
        `allowlist ${JSON.stringify(allowlist)} is invalid: expected none, sameHostBridge or any`,
      );
    }
    const mem32 = spec.mem32 ?? { start: 0x80000000 + (index % 8) * 0x8000000, size: 0x8000000 };
    const mem64 = spec.mem64 ?? { start: 2 ** 44 + index * 2 ** 40, size: 2 ** 40 };
    checkWindow("mem32", mem32, 2 ** 32);
    checkWindow("mem64", mem64, 2 ** 52);
    const busOffset = spec.busOffset ?? 0;
    if (
      !Number.isInteger(busOffset) ||
      mem32.start + busOffset < 0 ||
      mem64.start + mem64.size + busOffset > 2 ** 52
    ) {
      throw new RangeError(`busOffset ${String(busOffset)} is invalid: bus addresses must stay in 0..2^52`);
    }
    this.hbs.push({
      index,
      domain,
      bus,
      allowlist,
      name: spec.name ?? `pci${hex4(domain)}:${hex(bus).slice(2).padStart(2, "0")}`,
      mem32: { ...mem32 },
      mem64: { ...mem64 },
      busOffset,
      next32: mem32.start,
      next64: mem64.start,
    });
    return index;
  }

  /**
   * Adds a PCIe root port on a root bus.
   * @returns Its index. @throws RangeError (see {@link endpoint}).
   */
  rootPort(bdf: string, spec: PciBridgeSpec): number {
    return this.addBridge("rootPort", bdf, spec);
  }

  /**
   * Adds a switch upstream port below a root port or a downstream port.
   * @returns Its index. @throws RangeError (see {@link endpoint}).
   */
  switchUp(bdf: string, spec: PciBridgeSpec): number {
    return this.addBridge("switchUp", bdf, spec);
  }

  /**
   * Adds a switch downstream port below an upstream port.
   * @returns Its index. @throws RangeError (see {@link endpoint}).
   */
  switchDown(bdf: string, spec: PciBridgeSpec): number {
    return this.addBridge("switchDown", bdf, spec);
  }

  /**
   * Adds an endpoint function with BARs (assigned CPU and bus addresses now).
   * @returns Its index.
   * @throws RangeError naming the value: malformed or duplicate address, no bridge to its bus,
   *   wrong parent kind, device number != 0 below a port, more than six BAR registers, a BAR size
   *   that is not a power of two >= 4 KiB, a window too small. Nothing is added on error.
   * Cost: O(devices + BARs).
   */
  endpoint(bdf: string, spec: PciEndpointSpec = {}): number {
    const b = this.place("endpoint", bdf);
    const hb = this.hbs[b.hostBridge];
    const specs = spec.bars ?? [];
    let regs = 0;
    for (const s of specs) {
      const is64 = s.is64 ?? true;
      regs += is64 ? 2 : 1;
      if (!Number.isInteger(s.size) || s.size < 4096 || !isPow2(s.size)) {
        throw new RangeError(
          `BAR size ${String(s.size)} of ${b.bdf} is invalid: expected a power of two >= 4 KiB`,
        );
      }
    }
    if (regs > 6) throw new RangeError(`BARs of ${b.bdf} are invalid: ${regs} BAR registers, at most 6`);
    // Assign on copies of the window cursors so a failure changes nothing.
    let next32 = hb.next32;
    let next64 = hb.next64;
    const bars: PciBar[] = [];
    let reg = 0;
    for (const s of specs) {
      const is64 = s.is64 ?? true;
      const prefetch = s.prefetch ?? true;
      const in64 = is64 && prefetch;
      const w = in64 ? hb.mem64 : hb.mem32;
      const start = Math.ceil((in64 ? next64 : next32) / s.size) * s.size;
      if (start + s.size > w.start + w.size) {
        throw new RangeError(
          `BAR size ${hex(s.size)} of ${b.bdf} is invalid: no room in ${hb.name}'s ${in64 ? "64-bit" : "32-bit"} window ${hex(w.start)}+${hex(w.size)}`,
        );
      }
      if (in64) next64 = start + s.size;
      else next32 = start + s.size;
      bars.push(
        Object.freeze({
          index: reg,
          size: s.size,
          prefetch,
          is64,
          cpuStart: start,
          busStart: start + hb.busOffset,
        }),
      );
      reg += is64 ? 2 : 1;
    }
    const acsCtrl = checkField("ACS control", spec.acsCtrl ?? 0, 0x7f);
    hb.next32 = next32;
    hb.next64 = next64;
    return this.commit({
      ...b,
      kind: "endpoint",
      acsCtrl,
      secondary: -1,
      bars: Object.freeze(bars),
      name: spec.name ?? "Device",
    });
  }

  /**
   * A function by index or PCI address.
   * @throws RangeError when there is none.
   */
  device(ref: number | string): PciDev {
    const i = typeof ref === "number" ? ref : (this.byBdf.get(canon(ref)) ?? -1);
    const d = this.devs[i];
    if (d === undefined) throw new RangeError(`PCI device ${String(ref)} is invalid: not in the topology`);
    return d;
  }

  /** Index of the function at `bdf`, or -1. O(1). */
  find(bdf: string): number {
    return this.byBdf.get(canon(bdf)) ?? -1;
  }

  /** pci_upstream_bridge: index of the bridge above `dev`, or -1 on a root bus. O(1). */
  upstreamBridge(dev: number): number {
    return this.device(dev).parent;
  }

  /** Highest bus number below a bridge (its subordinate bus). O(devices). */
  subordinate(dev: number): number {
    const d = this.device(dev);
    let max = d.secondary;
    for (const c of this.devs)
      if (c.parent === dev && c.secondary >= 0) max = Math.max(max, this.subordinate(c.index));
    return max;
  }

  /**
   * The P2P map type from `provider` (a function owning a BAR) to `client`, as
   * drivers/pci/p2pdma.c calc_map_type_and_dist, cached per pair like the provider's map_types
   * xarray. Never "NONE" (that is for ordinary memory, see p2p/).
   * @throws RangeError for unknown devices.
   * Cost: O(depth^2) on the first call for a pair, O(1) after.
   */
  p2pMapType(provider: number | string, client: number | string): P2pMapResult {
    const p = this.device(provider).index;
    const c = this.device(client).index;
    const key = p * 0x100000 + c;
    const hit = this.p2pCache.get(key);
    if (hit !== undefined) {
      this.p2pCacheHits++;
      return hit;
    }
    this.p2pCacheMisses++;
    const r = Object.freeze(calcMapType(this, p, c));
    this.p2pCache.set(key, r);
    return r;
  }

  /** The tree printed like `lspci -tv`. O(devices log devices). */
  lspciTree(): string {
    return lspciTree(this);
  }

  /**
   * Verifies parents, buses, host bridges, BAR placement (inside windows, aligned, disjoint).
   * @throws Error naming the first broken invariant. O(devices^2 + BARs^2).
   */
  checkValid(): void {
    const bars: PciBar[] = [];
    for (const d of this.devs) {
      if (this.byBdf.get(d.bdf) !== d.index) throw new Error(`${d.bdf} not indexed`);
      const hb = this.hbs[d.hostBridge];
      if (
        d.parent < 0 ? hb.bus !== d.bus || hb.domain !== d.domain : this.devs[d.parent].secondary !== d.bus
      ) {
        throw new Error(`${d.bdf} is not on its parent's bus`);
      }
      if (d.parent >= 0 && this.devs[d.parent].hostBridge !== d.hostBridge)
        throw new Error(`${d.bdf} host bridge differs from its parent's`);
      for (const b of d.bars) {
        const w = b.is64 && b.prefetch ? hb.mem64 : hb.mem32;
        if (b.cpuStart % b.size !== 0 || b.cpuStart < w.start || b.cpuStart + b.size > w.start + w.size) {
          throw new Error(`${d.bdf} BAR ${b.index} at ${hex(b.cpuStart)} misplaced`);
        }
        if (b.busStart - b.cpuStart !== hb.busOffset)
          throw new Error(`${d.bdf} BAR ${b.index} bus offset wrong`);
        bars.push(b);
      }
    }
    bars.sort((x, y) => x.cpuStart - y.cpuStart);
    for (let i = 1; i < bars.length; i++) {
      if (bars[i].cpuStart < bars[i - 1].cpuStart + bars[i - 1].size)
        throw new Error(`BARs at ${hex(bars[i].cpuStart)} overlap`);
    }
  }

  private addBridge(kind: PciDevKind, bdf: string, spec: PciBridgeSpec): number {
    const b = this.place(kind, bdf);
    const secondary = checkField("secondary bus", spec.secondary, 0xff);
    if (
      secondary <= b.bus ||
      this.busOwner(b.domain, secondary) >= 0 ||
      this.hbs.some((h) => h.domain === b.domain && h.bus === secondary)
    ) {
      throw new RangeError(
        `secondary bus ${hex(secondary)} of ${b.bdf} is invalid: in use or not above bus ${hex(b.bus)}`,
      );
    }
    const acsCtrl = checkField("ACS control", spec.acsCtrl ?? 0, 0x7f);
    return this.commit({ ...b, kind, acsCtrl, secondary, bars: [], name: spec.name ?? "PCI bridge" });
  }

  /** Resolves address and parent for a new function; throws before any change. */
  private place(
    kind: PciDevKind,
    text: string,
  ): Omit<PciDev, "kind" | "acsCtrl" | "secondary" | "bars" | "name"> {
    const a = parseBdf(text);
    const bdf = formatBdf(a);
    if (this.byBdf.has(bdf)) throw new RangeError(`PCI address ${bdf} is invalid: already present`);
    const parent = this.busOwner(a.domain, a.bus);
    const root = this.hbs.findIndex((h) => h.domain === a.domain && h.bus === a.bus);
    if (parent < 0 && root < 0)
      throw new RangeError(`PCI address ${bdf} is invalid: no bridge leads to bus ${hex(a.bus)}`);
    const pk = parent < 0 ? "root" : this.devs[parent].kind;
    const ok =
      kind === "rootPort"
        ? pk === "root"
        : kind === "switchUp"
          ? pk === "rootPort" || pk === "switchDown"
          : kind === "switchDown"
            ? pk === "switchUp"
            : pk !== "switchUp";
    if (!ok)
      throw new RangeError(
        `PCI address ${bdf} is invalid: a ${kind} cannot sit below a ${pk === "root" ? "root bus" : pk}`,
      );
    if ((pk === "rootPort" || pk === "switchDown") && a.dev !== 0) {
      throw new RangeError(`PCI address ${bdf} is invalid: below a PCIe port only device 0 exists`);
    }
    return {
      index: this.devs.length,
      bdf,
      ...a,
      parent,
      hostBridge: parent < 0 ? root : this.devs[parent].hostBridge,
    };
  }

  private commit(d: PciDev): number {
    this.devs.push(Object.freeze(d));
    this.byBdf.set(d.bdf, d.index);
    return d.index;
  }

  /** Index of the bridge whose secondary bus is `bus` in `domain`, or -1. */
  private busOwner(domain: number, bus: number): number {
    for (const d of this.devs) if (d.domain === domain && d.secondary === bus) return d.index;
    return -1;
  }
}

function canon(text: string): string {
  try {
    return formatBdf(parseBdf(text));
  } catch {
    return text;
  }
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, "0");
}

function checkField(what: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 0 || v > max)
    throw new RangeError(`${what} ${String(v)} is invalid: expected an integer in 0..${hex(max)}`);
  return v;
}

function checkWindow(what: string, w: PciWindow, limit: number): void {
  checkAddr(`${what} window start`, w.start);
  if (!Number.isInteger(w.size) || w.size <= 0 || w.start + w.size > limit) {
    throw new RangeError(
      `${what} window ${hex(w.start)}+${String(w.size)} is invalid: must be non-empty and end by ${hex(limit)}`,
    );
  }
}
