/**
 * DmaSystem: the machine-wide context the DMA API runs in -- physical memory (and its bytes), the
 * swiotlb pool, the debug checker, the architecture profile (with or without pgmaps), and the
 * owner translations that let a foreign device reach DEVICE_PRIVATE memory through the owner's BAR.
 * Classification of one CPU range (memory, device-private, or nothing) lives here too.
 */
import { checkAddr, checkLen, DmaApiError, hex, PAGE_SIZE } from "../core/index.js";
import type { IommuDomain } from "../iommu/index.js";
import {
  type MachineMemory,
  PAGES_PER_SECTION,
  PAGES_PER_SUBSECTION,
  SUBSECTION_SIZE,
  SUBSECTIONS_PER_SECTION,
  SubKind,
} from "../mem/index.js";
import { DmaDebug } from "./debug.js";
import { DmaDevice, type DmaDeviceOptions } from "./device.js";
import { type IommuPort, iommuPort } from "./iommu-port.js";
import type { P2pPort } from "./p2p.js";
import type { SwiotlbPool } from "./swiotlb.js";

/**
 * The owner callback for DEVICE_PRIVATE memory (the hook the 2017 discussion asked for): turns a
 * private physical address into the CPU address of the same byte inside the owner's BAR, or -1
 * when the owner will not expose it.
 */
export interface PrivateOwner {
  /** The owning device's name (for messages). */
  readonly device: string;
  /** Translates one private address; must map a page-aligned run linearly. */
  translate(phys: number): number;
}

/** How to build a {@link DmaSystem}. */
export interface DmaSystemOptions {
  /** Physical memory (RAM map, pgmaps, bytes). */
  memory: MachineMemory;
  /** The swiotlb pool, or none (bouncing disabled: not-capable addresses are errors). */
  swiotlb?: SwiotlbPool;
  /** The debug checker (default: a new enabled one; pass `new DmaDebug(false)` for benches). */
  debug?: DmaDebug;
  /** Providers and PCI map types (p2p/ + pci/); without it only pgmap P2P memory is known. */
  p2p?: P2pPort;
}

/** What a CPU range is, as the DMA layer sees it. */
export const RangeClass = {
  /** System RAM or addressable ZONE_DEVICE memory (COHERENT, GENERIC, FS_DAX). */
  MEMORY: 0,
  /** DEVICE_PRIVATE: no usable pfn for anyone but the owner. */
  PRIVATE: 1,
  /** PCI_P2PDMA pgmap memory (its provider is in the pgmap). */
  P2P: 2,
  /** Neither RAM nor a BAR nor a pgmap. */
  NONE: 3,
} as const;

/** Slots of the direct-mapped section cache behind {@link DmaSystem.classify} (a power of two). */
const SECTION_CACHE_SLOTS = 4096;
/** Subsection kinds of an absent section: every slot of an empty cache points here. */
const NO_SUBS = new Uint8Array(SUBSECTIONS_PER_SECTION);
/** log2(SUBSECTIONS_PER_SECTION): subsection number >>> SUBSECTION_BITS = section number. */
const SUBSECTION_BITS = Math.log2(SUBSECTIONS_PER_SECTION);

/** The DMA context of one simulated machine. */
export class DmaSystem {
  readonly memory: MachineMemory;
  readonly swiotlb: SwiotlbPool | undefined;
  readonly debug: DmaDebug;
  /**
   * Architecture profile, from the memory spec's `zoneDevice`: true (x86-64) when pgmaps exist;
   * false (s390: no pgmap, no memory hotplug) means pgmaps are never consulted and P2P memory is
   * known through providers alone.
   */
  readonly pgmap: boolean;
  readonly p2p: P2pPort | undefined;
  /** Devices by name. */
  readonly devices = new Map<string, DmaDevice>();
  private readonly owners = new Map<number, PrivateOwner>();

  /** @throws RangeError when the swiotlb pool is not inside System RAM. */
  constructor(opts: DmaSystemOptions) {
    this.memory = opts.memory;
    this.swiotlb = opts.swiotlb;
    this.debug = opts.debug ?? new DmaDebug(true);
    this.pgmap = opts.memory.spec.zoneDevice !== false;
    this.p2p = opts.p2p;
    const p = this.swiotlb;
    if (p && !this.memory.sections.allOf(p.start / PAGE_SIZE, p.size / PAGE_SIZE, SubKind.RAM)) {
      throw new RangeError(`swiotlb pool ${hex(p.start)}+${hex(p.size)} is invalid: not inside System RAM`);
    }
  }

  /**
   * Creates and registers a device.
   * @param opts the device's DMA parameters.
   * @param domain the IOMMU domain of its group (omit, or an identity domain, for dma-direct).
   * @throws TypeError / RangeError from {@link DmaDevice}; RangeError when the name is taken.
   */
  addDevice(opts: DmaDeviceOptions, domain?: IommuDomain): DmaDevice {
    if (this.devices.has(opts.name))
      throw new RangeError(`device ${opts.name} is invalid: already registered`);
    const dev = new DmaDevice(opts);
    this.devices.set(dev.name, dev);
    const port = domain ? iommuPort(domain) : undefined;
    if (port) this.iommus.set(dev, port);
    return dev;
  }

  private readonly iommus = new Map<DmaDevice, IommuPort>();

  /** The DMA-type IOMMU domain `dev` is attached to, or undefined (dma-direct). O(1). */
  iommuOf(dev: DmaDevice): IommuPort | undefined {
    return this.iommus.get(dev);
  }

  /** Provider index whose BAR holds `addr`, or -1. O(log providers). */
  providerAt(addr: number): number {
    return this.p2p ? this.p2p.lookup(addr) : -1;
  }

  /**
   * Registers the owner translation for DEVICE_PRIVATE pgmaps whose owner token is `owner`.
   * @throws RangeError when the token already has a translation.
   */
  registerPrivateOwner(owner: number, translation: PrivateOwner): void {
    if (this.owners.has(owner)) throw new RangeError(`private owner ${owner} is invalid: already registered`);
    this.owners.set(owner, translation);
  }

  /** Removes an owner translation (the owner went away). O(1). */
  unregisterPrivateOwner(owner: number): void {
    this.owners.delete(owner);
  }

  /**
   * Classifies [addr, addr+len): RAM, a pgmap's memory, or nothing. A range must lie wholly in one
   * kind. O(subsections covered) for RAM (no hash lookup once its sections are cached: see
   * {@link ramCached}), O(subsections covered + pgmaps) otherwise.
   * @returns a {@link RangeClass} value; for PRIVATE and P2P, `pgmapOwner` / `pgmapProvider` are set.
   */
  classify(addr: number, len: number): number {
    if (this.isRam(addr, len)) return RangeClass.MEMORY;
    const mem = this.memory;
    const first = Math.floor(addr / PAGE_SIZE);
    const n = Math.floor((addr + len - 1) / PAGE_SIZE) - first + 1;
    if (!this.pgmap) return RangeClass.NONE;
    const pg = mem.pgmapOf(first);
    if (!pg || first + n > pg.startPfn + pg.npages) return RangeClass.NONE;
    this.pgmapOwner = pg.owner;
    this.pgmapProvider = pg.provider;
    if (pg.type === "PRIVATE") return RangeClass.PRIVATE;
    if (pg.type === "PCI_P2PDMA") return RangeClass.P2P;
    return RangeClass.MEMORY;
  }

  /**
   * True when every subsection [addr, addr+len) touches is System RAM (the first test of
   * {@link classify}). O(1) with no hash lookup for a range inside one 2 MiB subsection whose
   * section is cached (see {@link ramCached}), O(subsections covered) otherwise.
   */
  isRam(addr: number, len: number): boolean {
    // For any address below 2^53 the subsection number is below 2^32 and the section number below
    // 2^26, so the lookups run in 32-bit integer operations (>>> and & are exact here).
    const sub = Math.floor(addr / SUBSECTION_SIZE);
    if (sub === Math.floor((addr + len - 1) / SUBSECTION_SIZE)) {
      const nr = sub >>> SUBSECTION_BITS;
      const slot = nr & (SECTION_CACHE_SLOTS - 1);
      if (
        this.secNr[slot] === nr &&
        this.secSubs[slot][sub & (SUBSECTIONS_PER_SECTION - 1)] === SubKind.RAM
      ) {
        return true;
      }
    }
    const first = Math.floor(addr / PAGE_SIZE);
    const n = Math.floor((addr + len - 1) / PAGE_SIZE) - first + 1;
    return this.ramCached(first, n) || this.memory.sections.allOf(first, n, SubKind.RAM);
  }

  /** Section number held by each cache slot (-1: none). */
  private readonly secNr = new Int32Array(SECTION_CACHE_SLOTS).fill(-1);
  /** The subsection-kind array of that section, as the section map holds it (shared, not copied). */
  private readonly secSubs: Uint8Array[] = new Array<Uint8Array>(SECTION_CACHE_SLOTS).fill(NO_SUBS);

  /**
   * True when every subsection of frames [first, first+n) is RAM, read through a direct-mapped
   * cache (slot = section number mod 4096) of the section map's own per-section kind arrays; false
   * means "not known to be RAM" and {@link classify} asks the section map itself. O(subsections),
   * no hash lookup on a hit -- the model's version of the kernel reading page->flags (O(1)) where
   * a Map lookup per entry cost more than the rest of the identity check.
   *
   * Why a cached array can never say RAM wrongly: the section map changes kinds in place in the
   * same array, and drops a section (hot-remove) only after setting every kind in it to NONE, so
   * an array that is no longer in the map reads all NONE. A slot whose array says "not RAM" is
   * emptied, so a section that was removed and added again is fetched afresh on the next call.
   */
  private ramCached(first: number, n: number): boolean {
    const end = first + n;
    let p = Math.floor(first / PAGES_PER_SUBSECTION) * PAGES_PER_SUBSECTION;
    while (p < end) {
      const nr = Math.floor(p / PAGES_PER_SECTION);
      const slot = nr & (SECTION_CACHE_SLOTS - 1); // nr < 2^26: an int32
      let subs: Uint8Array;
      if (this.secNr[slot] === nr) subs = this.secSubs[slot];
      else {
        const sec = this.memory.sections.sections.get(nr);
        if (sec === undefined) return false;
        subs = sec.subs;
        this.secNr[slot] = nr;
        this.secSubs[slot] = subs;
      }
      const base = nr * PAGES_PER_SECTION;
      const stop = Math.min(end, base + PAGES_PER_SECTION);
      for (let i = (p - base) / PAGES_PER_SUBSECTION; p < stop; p += PAGES_PER_SUBSECTION, i++) {
        if (subs[i] !== SubKind.RAM) {
          this.secNr[slot] = -1;
          this.secSubs[slot] = NO_SUBS;
          return false;
        }
      }
    }
    return true;
  }

  /** Owner token of the pgmap found by the last {@link classify} returning PRIVATE or P2P. */
  pgmapOwner = -1;
  /** Provider of the pgmap found by the last {@link classify} returning P2P. */
  pgmapProvider = 0;

  /**
   * Translates a DEVICE_PRIVATE range for device `client` through its owner's callback. Returns
   * the CPU address inside the owner's BAR.
   * @throws DmaApiError DEVICE_PRIVATE when the owner registered no translation or refuses.
   */
  translatePrivate(client: string, owner: number, addr: number, len: number): number {
    checkAddr("private address", addr);
    checkLen("private length", len);
    const o = this.owners.get(owner);
    const bar = o ? o.translate(addr) : -1;
    const end = o && bar >= 0 ? o.translate(addr + len - 1) : -1;
    if (!o || bar < 0 || end !== bar + len - 1) {
      throw new DmaApiError(
        "DEVICE_PRIVATE",
        `Cannot map ${hex(addr)}+${hex(len)} for ${client}: DEVICE_PRIVATE memory of owner ${o ? o.device : owner} ${o ? "has no linear BAR translation for it" : "has no owner translation"}`,
      );
    }
    return bar;
  }
}
