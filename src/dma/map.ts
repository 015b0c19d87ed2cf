/**
 * dmaMap(): maps a PhyrList for a device, choosing per device and per entry (see plan.ts) --
 * identity (returns the input object itself), dma_range_map offset, swiotlb bounce, IOMMU (one IOVA
 * allocation, laid out and merged like drivers/iommu/dma-iommu.c iommu_dma_map_sg and
 * __finalise_sg), P2P bus address, P2P through the host bridge -- and records how, so dmaUnmap()
 * is exact. Any error leaves nothing mapped.
 *
 * Cost: O(n) for the plan and the output. Identity is one allocation-free pass over the list (each
 * entry classified and checked against the mask) and allocates no list storage.
 */
import { checkCount, hex } from "../core/index.js";
import { iommuDmaSgLayout } from "../iommu/index.js";
import { PhyrFlag, type PhyrRead } from "../phyr/index.js";
import { type DmaDevice, mappingsOf } from "./device.js";
import { dmaLimit, physToDma } from "./direct.js";
import { type IommuPort, protOf } from "./iommu-port.js";
import { DmaListBuilder } from "./list.js";
import type { MapRecord } from "./mappings.js";
import { identityPass, type MapPlan, Path, planMap } from "./plan.js";
import { attachRevoke } from "./revoke.js";
import type { DmaSystem } from "./system.js";
import {
  checkAttrs,
  checkDirection,
  DmaAttr,
  type DmaDirection,
  type DmaMapKind,
  type DmaMapping,
} from "./types.js";

/** Options of dmaMap beyond the kernel's arguments. */
export interface DmaMapOptions {
  /** Entries per storage chunk of the returned DmaList (tests use tiny values). */
  chunkCapacity?: number;
}

/**
 * Maps `list` for `dev` in direction `dir`. O(n).
 * @param sys the machine's DMA context.
 * @param dev the device.
 * @param list CPU physical ranges (pinned by the caller).
 * @param dir the transfer direction.
 * @param attrs DmaAttr bits.
 * @returns the input list itself (identity) or a new DmaList of DMA ranges.
 * @throws DmaApiError (NO_MEMORY, DEVICE_PRIVATE, DMA_MASK, NO_PROVIDER), P2pNotSupported,
 *   SwiotlbFull, IovaExhausted, TypeError / RangeError for bad arguments; nothing stays mapped.
 * @example
 * ```ts
 * // Two discontiguous ranges: the same list back without an IOMMU, one IOVA entry behind one.
 * const memory = new MachineMemory({ nodes: [{ start: 0, size: 2 ** 30 }], seed: 1 });
 * const list = PhyrList.fromRanges([{ addr: 0x100000, len: 0x2000 }, { addr: 0x300000, len: 0x1000 }]);
 * const sys = new DmaSystem({ memory });
 * const direct = sys.addDevice({ name: "0000:01:00.0" });
 * const behind = sys.addDevice({ name: "0000:02:00.0" }, new IommuDomain({ type: "dma" }));
 * dmaMap(sys, direct, list, "to-device") === list; // true
 * const mapped = dmaMap(sys, behind, list, "to-device");
 * [mapped.nents, mapped.totalBytes]; // [1, 0x3000]
 * dmaUnmap(sys, behind, mapped, "to-device");
 * dmaUnmap(sys, direct, list, "to-device");
 * ```
 */
export function dmaMap(
  sys: DmaSystem,
  dev: DmaDevice,
  list: PhyrRead,
  dir: DmaDirection = "bidirectional",
  attrs = 0,
  opts: DmaMapOptions = {},
): DmaMapping {
  checkDirection(dir);
  checkAttrs(attrs);
  if (list.nents === 0) throw new RangeError(`Cannot map an empty list for ${dev.name}: nents 0 is invalid`);
  if (opts.chunkCapacity !== undefined) checkCount("chunkCapacity", opts.chunkCapacity);
  // Identity: the device reaches every byte at its CPU address, so the record holds no ranges (an
  // access goes through dma_to_phys, which is the identity; the checker keeps its own ranges).
  if (identityPass(sys, dev, list)) {
    const rec = newRecord(dir, attrs, list);
    finish(sys, dev, list, rec, list, list.entry(0).addr);
    return list;
  }
  const plan = planMap(sys, dev, list, attrs);
  const rec = newRecord(dir, attrs, list);
  if (plan.identity) {
    finish(sys, dev, list, rec, list, plan.phys[0]);
    return list;
  }
  const b = new DmaListBuilder(opts.chunkCapacity);
  const iommu = sys.iommuOf(dev);
  try {
    if (plan.counts[Path.IOMMU] > 0) mapIommu(dev, iommu!, plan, rec, dir, attrs, b);
    else mapDirect(sys, plan, rec, dev, b);
  } catch (e) {
    undo(sys, iommu, rec);
    throw e;
  }
  rec.kind = kindOf(plan, b.nents);
  const out = b.finish(rec.kind);
  finish(sys, dev, out, rec, out, plan.phys[0]);
  return out;
}

function newRecord(dir: DmaDirection, attrs: number, list: PhyrRead): MapRecord {
  return {
    kind: "identity",
    dir,
    attrs,
    nents: list.nents,
    totalBytes: list.totalBytes,
    iova: 0,
    iovaSize: 0,
    bounces: [],
    direct: [],
    directProvider: [],
    iommu: [],
    iommuProvider: [],
    revoked: false,
    revokedRanges: [],
    detach: [],
  };
}

function pushTriple(
  arr: number[],
  prov: number[],
  dma: number,
  phys: number,
  len: number,
  provider: number,
): void {
  arr.push(dma, phys, len);
  prov.push(provider);
}

function kindOf(plan: MapPlan, outNents: number): DmaMapKind {
  const [, bounce, iommu, bus] = plan.counts;
  if (iommu > 0) return bus > 0 ? "mixed" : outNents === 1 ? "iommu-single" : "iommu-segments";
  if (bus === plan.n) return "p2p-bus";
  if (bus > 0) return "mixed";
  if (bounce > 0) return "bounce";
  // Every entry is direct and the plan is not the identity (dmaMap returned the list for that):
  // a bus offset moved at least one address.
  return "offset";
}

/** Registers the record with the device, the debug checker and the providers' revoke hooks. */
function finish(
  sys: DmaSystem,
  dev: DmaDevice,
  key: object,
  rec: MapRecord,
  out: DmaMapping,
  phys: number,
): void {
  mappingsOf(dev).addRecord(key, rec);
  attachRevoke(sys, dev, rec);
  if (sys.debug.enabled) {
    const ranges = new Float64Array(out.nents * 2);
    const c = out.cursor();
    for (let i = 0; !c.done; c.nextEntry(), i++) {
      ranges[2 * i] = c.entryAddr;
      ranges[2 * i + 1] = c.entryLen;
    }
    const first = ranges[0];
    sys.debug.add(rec, {
      device: dev.name,
      type: "list",
      dmaAddr: first,
      size: out.totalBytes,
      dir: rec.dir,
      phys,
      ranges,
    });
  }
}

/** dma_direct_map_sg(): one output entry per input entry, never merged. */
function mapDirect(sys: DmaSystem, plan: MapPlan, rec: MapRecord, dev: DmaDevice, out: DmaListBuilder): void {
  for (let i = 0; i < plan.n; i++) {
    const phys = plan.phys[i];
    const len = plan.len[i];
    const prov = plan.provider[i];
    let dma = plan.dma[i];
    if (plan.path[i] === Path.BOUNCE) {
      const pool = sys.swiotlb!;
      const tlb = pool.map(phys, len, dev.minAlignMask);
      rec.bounces.push(tlb, phys, len);
      dma = physToDma(dev, tlb);
      // swiotlb_tbl_map_single() always copies the original in (whatever the direction and
      // attrs), so a partial device write keeps the rest of the buffer intact.
      sys.memory.writePhys(tlb, sys.memory.readPhys(phys, len));
      if (dma < 0 || dma + len - 1 > dmaLimit(dev)) {
        throw new RangeError(`swiotlb buffer ${hex(tlb)} is not DMA capable for ${dev.name}`);
      }
      pushTriple(rec.direct, rec.directProvider, dma, tlb, len, 0);
    } else {
      pushTriple(rec.direct, rec.directProvider, dma, phys, len, prov);
    }
    out.push(dma, len, plan.flags[i] & (PhyrFlag.BUS_ADDR | PhyrFlag.MMIO), prov);
  }
}

/**
 * iommu_dma_map_sg(): keep each segment's in-granule offset, pad lengths to the granule, pad the
 * previous segment so none crosses seg_boundary, allocate ONE IOVA range, iommu_map physically
 * contiguous runs, then __finalise_sg merges IOVA-contiguous segments. Bus-address entries skip
 * the IOMMU and stay separate entries.
 */
function mapIommu(
  dev: DmaDevice,
  port: IommuPort,
  plan: MapPlan,
  rec: MapRecord,
  dir: DmaDirection,
  attrs: number,
  out: DmaListBuilder,
): void {
  const g = port.granule;
  const boundary = dev.segBoundaryMask + 1;
  const lay = iommuDmaSgLayout(
    {
      n: plan.n,
      phys: plan.phys,
      len: plan.len,
      skip: plan.path.map((p) => (p === Path.IOMMU ? 0 : 1)),
      key: plan.provider,
    },
    g,
    dev.segBoundaryMask,
  );
  const padded = lay.iovaLen;
  const iova = port.allocIova(lay.total, dmaLimit(dev));
  rec.iova = iova;
  rec.iovaSize = lay.total;
  // iommu_map_sg(): one iommu_map per run of physically contiguous (padded) segments; a boundary
  // pad is mapped too, backed by the memory after its segment.
  for (let m = 0; m < lay.nmaps; m++) {
    mapChunk(port, rec, iova + lay.mapOff[m], lay.mapPhys[m], lay.mapLen[m], lay.mapKey[m], dir, attrs);
  }
  // __finalise_sg()
  const maxLen = dev.maxSegmentSize;
  let dmaAddr = iova;
  let curLen = 0;
  let pendAddr = -1;
  let pendLen = 0;
  let pendFlags = 0;
  let pendProv = 0;
  const flush = () => {
    if (pendAddr >= 0) out.push(pendAddr, pendLen, pendFlags, pendProv);
    pendAddr = -1;
  };
  for (let i = 0; i < plan.n; i++) {
    const p = plan.path[i];
    const flags = plan.flags[i] & (PhyrFlag.BUS_ADDR | PhyrFlag.MMIO);
    if (p === Path.BUS) {
      flush();
      out.push(plan.dma[i], plan.len[i], flags, plan.provider[i]);
      pushTriple(rec.direct, rec.directProvider, plan.dma[i], plan.phys[i], plan.len[i], plan.provider[i]);
      curLen = 0;
      continue;
    }
    const sOff = plan.phys[i] % g;
    const sLength = plan.len[i];
    const sIovaLen = padded[i];
    if (
      curLen !== 0 &&
      sOff === 0 &&
      dmaAddr % boundary !== 0 &&
      maxLen - curLen >= sLength &&
      flags === pendFlags
    ) {
      curLen += sLength;
      pendLen += sLength;
    } else {
      flush();
      curLen = sLength;
      pendAddr = dmaAddr + sOff;
      pendLen = sLength;
      pendFlags = flags;
      pendProv = plan.provider[i];
    }
    dmaAddr += sIovaLen;
    if (sLength + sOff < sIovaLen) curLen = 0;
  }
  flush();
}

function mapChunk(
  port: IommuPort,
  rec: MapRecord,
  iova: number,
  phys: number,
  len: number,
  prov: number,
  dir: DmaDirection,
  attrs: number,
): void {
  const mmio = prov !== 0 || (attrs & DmaAttr.MMIO) !== 0;
  port.map(iova, phys, len, protOf(dir, mmio));
  pushTriple(rec.iommu, rec.iommuProvider, iova, phys, len, prov);
}

/** Tears down whatever a failed dmaMap() had set up (bounce slots, IOMMU chunks, the IOVA). */
export function undo(sys: DmaSystem, port: IommuPort | undefined, rec: MapRecord): void {
  for (let i = 0; i < rec.bounces.length; i += 3) sys.swiotlb!.unmap(rec.bounces[i]);
  rec.bounces.length = 0;
  if (port) {
    for (let i = 0; i < rec.iommu.length; i += 3) port.unmap(rec.iommu[i], rec.iommu[i + 2]);
    if (rec.iovaSize > 0) port.freeIova(rec.iova, rec.iovaSize);
  }
  rec.iommu.length = 0;
  rec.iommuProvider.length = 0;
  rec.iovaSize = 0;
  for (const d of rec.detach) d();
  rec.detach.length = 0;
}
