/**
 * The first pass of dmaMap(): classify every input entry (memory, P2P through a provider,
 * DEVICE_PRIVATE through its owner, or nothing) and decide its path, without changing any state.
 * A plan is struct-of-arrays (typed arrays sized to the list), so planning a million entries
 * allocates a few arrays, not a million objects; any error is thrown here, before anything is mapped.
 */
import { DmaApiError, hex } from "../core/index.js";
import { PhyrFlag, type PhyrRead } from "../phyr/index.js";
import type { DmaDevice } from "./device.js";
import { dmaCapable, dmaLimit, physToDma, rangeInOneRegion } from "./direct.js";
import { type P2pResolution, resolveP2p } from "./p2p.js";
import { type DmaSystem, RangeClass } from "./system.js";
import { DmaAttr } from "./types.js";

/** Per-entry path. */
export const Path = {
  /** dma-direct: dma = phys_to_dma(phys) (identity when the map is empty). */
  DIRECT: 0,
  /** Bounced through swiotlb. */
  BOUNCE: 1,
  /** Through the IOMMU (memory, or P2P through the host bridge as MMIO). */
  IOMMU: 2,
  /** P2P bus address: dma = phys + bus_offset, IOMMU bypassed. */
  BUS: 3,
} as const;

/** The plan of one list for one device. */
export interface MapPlan {
  n: number;
  /** CPU address to map (after a DEVICE_PRIVATE translation, the owner's BAR address). */
  phys: Float64Array;
  len: Float64Array;
  flags: Uint8Array;
  /** P2P provider index (0 = memory). */
  provider: Uint16Array;
  /** {@link Path} per entry. */
  path: Uint8Array;
  /** DMA address for DIRECT and BUS entries (bounce and IOMMU get theirs when mapped). */
  dma: Float64Array;
  /** True when every entry is DIRECT with dma == phys and nothing is P2P (the identity case). */
  identity: boolean;
  /** Counts per path. */
  counts: [number, number, number, number];
}

/**
 * Plans `list` for `dev`. O(n * (regions + log providers)).
 * @throws DmaApiError NO_MEMORY (entry in no RAM and no BAR), DEVICE_PRIVATE (no owner
 *   translation), DMA_MASK (not capable and swiotlb disabled / MMIO); P2pNotSupported.
 */
export function planMap(sys: DmaSystem, dev: DmaDevice, list: PhyrRead, attrs: number): MapPlan {
  const n = list.nents;
  const plan: MapPlan = {
    n,
    phys: new Float64Array(n),
    len: new Float64Array(n),
    flags: new Uint8Array(n),
    provider: new Uint16Array(n),
    path: new Uint8Array(n),
    dma: new Float64Array(n),
    identity: true,
    counts: [0, 0, 0, 0],
  };
  const useIommu = sys.iommuOf(dev) !== undefined;
  const res: P2pResolution = { provider: 0, busAddr: false, busOffset: 0 };
  const c = list.cursor();
  for (let i = 0; !c.done; c.nextEntry(), i++) {
    let addr = c.entryAddr;
    const len = c.entryLen;
    let flags = c.flags;
    let provider = c.provider;
    let cls: number = provider !== 0 ? RangeClass.P2P : sys.classify(addr, len);
    if (cls === RangeClass.NONE || (cls === RangeClass.P2P && provider === 0)) {
      const found = sys.providerAt(addr);
      if (found > 0) {
        provider = found;
        cls = RangeClass.P2P;
      }
    }
    if (cls === RangeClass.P2P && provider === 0) provider = sys.pgmapProvider;
    if (cls === RangeClass.PRIVATE) {
      addr = sys.translatePrivate(dev.name, sys.pgmapOwner, addr, len);
      provider = sys.providerAt(addr);
      if (provider <= 0) {
        throw new DmaApiError(
          "DEVICE_PRIVATE",
          `Cannot map ${hex(c.entryAddr)}+${hex(len)} for ${dev.name}: owner translation ${hex(addr)} is in no provider's BAR`,
        );
      }
      cls = RangeClass.P2P;
    }
    if (cls === RangeClass.NONE) {
      throw new DmaApiError(
        "NO_MEMORY",
        `Cannot map ${hex(addr)}+${hex(len)} for ${dev.name}: entry ${i} is in no RAM and no BAR`,
      );
    }
    let path: number;
    let dma = -1;
    if (cls === RangeClass.P2P) {
      resolveP2p(sys, dev, provider, addr, len, res);
      flags |= PhyrFlag.MMIO;
      if (res.busAddr) {
        path = Path.BUS;
        dma = addr + res.busOffset;
        flags |= PhyrFlag.BUS_ADDR;
      } else if (useIommu) {
        path = Path.IOMMU;
      } else {
        path = Path.DIRECT;
        dma = directDma(dev, addr, len, "P2P memory through the host bridge is MMIO and never bounced");
      }
    } else if (useIommu) {
      path = Path.IOMMU;
    } else if ((attrs & DmaAttr.MMIO) !== 0) {
      path = Path.DIRECT;
      dma = directDma(dev, addr, len, "DMA_ATTR_MMIO ranges are never bounced");
    } else {
      dma = rangeInOneRegion(dev, addr, len) ? physToDma(dev, addr) : -1;
      if (!dev.forceSwiotlb && dmaCapable(dev, dma, len)) {
        path = Path.DIRECT;
      } else if (sys.swiotlb) {
        path = Path.BOUNCE;
        dma = -1;
      } else {
        throw notCapable(dev, addr, len, dma, "swiotlb is disabled");
      }
    }
    plan.phys[i] = addr;
    plan.len[i] = len;
    plan.flags[i] = flags;
    plan.provider[i] = provider;
    plan.path[i] = path;
    plan.dma[i] = dma;
    plan.counts[path]++;
    if (path !== Path.DIRECT || dma !== addr || provider !== 0) plan.identity = false;
  }
  return plan;
}

/**
 * The identity test without a plan: true when `dev` has no IOMMU, no dma_range_map and no forced
 * bouncing, and every entry is addressable memory (no provider, no BAR, no pgmap P2P or private
 * memory) that the device can reach as is. Allocation-free, one cursor walk: O(n) for entries of
 * at most one 2 MiB subsection each, O(n * subsections) in general.
 * A false answer says nothing about errors -- {@link planMap} then classifies and throws.
 */
export function identityPass(sys: DmaSystem, dev: DmaDevice, list: PhyrRead): boolean {
  if (sys.iommuOf(dev) !== undefined || dev.dmaRangeMap.length !== 0 || dev.forceSwiotlb) return false;
  const limit = dmaLimit(dev);
  for (const c = list.cursor(); !c.done; c.nextEntry()) {
    const addr = c.entryAddr;
    const len = c.entryLen;
    if (c.provider !== 0 || addr + len - 1 > limit) return false;
    // RAM (the common case, O(1) through the section cache), else addressable ZONE_DEVICE memory.
    // isRam is called here on purpose although classify() starts with it: calling classify alone
    // measured slower per entry (26 -> 31 ns, bench/dma.bench.ts identity rows). Keep it.
    if (!sys.isRam(addr, len) && sys.classify(addr, len) !== RangeClass.MEMORY) return false;
  }
  return true;
}

/** dma-direct address of a range that may not bounce. @throws DmaApiError DMA_MASK */
function directDma(dev: DmaDevice, addr: number, len: number, why: string): number {
  const dma = rangeInOneRegion(dev, addr, len) ? physToDma(dev, addr) : -1;
  if (!dmaCapable(dev, dma, len)) throw notCapable(dev, addr, len, dma, why);
  return dma;
}

function notCapable(dev: DmaDevice, addr: number, len: number, dma: number, why: string): DmaApiError {
  const where =
    dma < 0
      ? "outside every dma_range_map region"
      : `beyond DMA mask ${hex(Math.min(dev.dmaMask, dev.busDmaLimit || dev.dmaMask))}`;
  return new DmaApiError(
    "DMA_MASK",
    `Cannot map ${hex(addr)}+${hex(len)} for ${dev.name}: ${where} (${why})`,
  );
}
