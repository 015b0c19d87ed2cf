/**
 * One pass over the events of a trace: per device, the kernel's DMA map calls as traced, the
 * iommu:map calls attributed to it, the bounces, and the physical ranges of each mapping (what the
 * phyr design is then built from, in summary.ts). Cost: O(events + array entries).
 *
 * Attribution of iommu:map (include/trace/events/iommu.h map carries no device): kernel/dma/mapping.c
 * dma_map_phys() and __dma_map_sg_attrs() emit trace_dma_map_phys / trace_dma_map_sg AFTER the
 * IOMMU work (iommu_dma_map_phys / iommu_dma_map_sg -> iommu_map_nosync(), whose trace_map fires
 * per call), in the same task. So a task's pending iommu:map events are claimed by that task's next
 * DMA map event whose physical pages they cover ("by event"). Any other event of the task ends its
 * pending run: the maps left form one mapping (the two-step IOVA API, dma_iova_link(), has no dma:
 * tracepoint). Such a run goes to the NVMe controller whose nvme_setup_cmd the task traced just
 * before it (drivers/nvme/host/pci.c nvme_prep_rq() calls nvme_setup_cmd() before nvme_map_data();
 * "by NVMe command"), named by the PCI device a dma: event of the same task tied to that
 * controller, else `nvmeN`; otherwise to the only device that used the IOMMU in the trace ("only
 * IOMMU device"); otherwise it stays unattributed.
 */

import { alignDown, alignUp, PAGE_SIZE } from "../core/index.js";
import type { DmaMapSgEvent, IommuMapEvent, TraceEvent } from "./parse-types.js";

/** A physical range [addr, addr + len). */
export type PhysRange = readonly [addr: number, len: number];

/** One mapping the kernel made (one map call, or one IOVA-API run of iommu maps). */
export interface TracedMapping {
  /** Physical ranges it covered, in order; empty when the trace does not tell them. */
  ranges: PhysRange[];
  /** True when `ranges` are the granule-aligned ranges the IOMMU mapped, not the exact bytes. */
  granuleAligned: boolean;
  /** iommu:map calls of this mapping. */
  iommu: IommuMapEvent[];
  /**
   * The NVMe request it belongs to (an id per traced nvme_setup_cmd, until the task issues the
   * request), or -1 outside one. A 7.x request on dma-direct maps each segment with its own
   * dma_map_phys: the design builds one list per request, not per call.
   */
  request: number;
  /** A coherent allocation's mapping (dma_alloc*): counted on the kernel side, no range list. */
  coherent: boolean;
}

/** What one device did, as traced. */
export interface DeviceWalk {
  device: string;
  mapCalls: { sg: number; phys: number; page: number; resource: number; alloc: number };
  sgEntriesIn: number;
  dmaSegmentsOut: number;
  bytesMapped: number;
  /** dma_map_sg calls whose arrays were cut at DMA_TRACE_MAX_ENTRIES. */
  truncatedCalls: number;
  /** dma_map_sg calls with more than 128 DMA segments: their bytes are only partly known. */
  partialBytesCalls: number;
  iommuByEvent: number;
  iommuByNvmeCommand: number;
  iommuByOnlyDevice: number;
  /** Runs of iommu maps with no dma: event (one per request on the two-step IOVA API). */
  iovaRuns: number;
  bounces: number;
  bounceBytes: number;
  mappings: TracedMapping[];
  /** The device used the IOMMU: it claimed iommu maps or was attached to a domain in the trace. */
  usesIommu: boolean;
  /** Some DMA address differed from its physical address (an IOMMU, a bus offset, or a bounce). */
  translated: boolean;
}

/** The result of {@link walkTrace}. */
export interface TraceWalk {
  devices: Map<string, DeviceWalk>;
  /** iommu:map calls no device could be named for. */
  unattributed: IommuMapEvent[];
  /** Counts of events by system: dma:, iommu: (map/unmap/attach/...), swiotlb:. */
  dmaEvents: number;
  iommuEvents: number;
  swiotlbEvents: number;
  markers: number;
}

function newDevice(device: string): DeviceWalk {
  return {
    device,
    mapCalls: { sg: 0, phys: 0, page: 0, resource: 0, alloc: 0 },
    sgEntriesIn: 0,
    dmaSegmentsOut: 0,
    bytesMapped: 0,
    truncatedCalls: 0,
    partialBytesCalls: 0,
    iommuByEvent: 0,
    iommuByNvmeCommand: 0,
    iommuByOnlyDevice: 0,
    iovaRuns: 0,
    bounces: 0,
    bounceBytes: 0,
    mappings: [],
    usesIommu: false,
    translated: false,
  };
}

/** True when the iommu map's physical range overlaps the granule-aligned [addr, addr + len). */
function covers(m: IommuMapEvent, addr: number, len: number): boolean {
  const lo = alignDown(addr, PAGE_SIZE);
  const hi = alignUp(addr + Math.max(len, 1), PAGE_SIZE);
  return m.paddr < hi && m.paddr + m.size > lo;
}

/** True when the iommu map's IOVA lies in [dma, dma + len) granule-aligned (the IOVA the event returned). */
function atIova(m: IommuMapEvent, dma: number, len: number): boolean {
  return m.iova >= alignDown(dma, PAGE_SIZE) && m.iova < alignUp(dma + Math.max(len, 1), PAGE_SIZE);
}

/**
 * Takes from `pending` the maps that cover any of the physical ranges or lie at the returned DMA
 * range; leaves the others.
 */
function claim(
  pending: IommuMapEvent[],
  ranges: readonly PhysRange[],
  dma: PhysRange | null,
): IommuMapEvent[] {
  const taken: IommuMapEvent[] = [];
  let w = 0;
  for (const m of pending) {
    if (ranges.some(([a, l]) => covers(m, a, l)) || (dma !== null && atIova(m, dma[0], dma[1])))
      taken.push(m);
    else pending[w++] = m;
  }
  pending.length = w;
  return taken;
}

/** Physical ranges of a dma_map_sg: exact when nothing merged (ents == nents), else from its iommu maps. */
function sgRanges(
  e: DmaMapSgEvent,
  iommu: readonly IommuMapEvent[],
): { ranges: PhysRange[]; aligned: boolean } {
  if (!e.truncated && e.ents === e.nents && e.physAddrs.length === e.sizes.length) {
    // dma-direct maps entry i to segment i (kernel/dma/direct.c dma_direct_map_sg): sg_dma_len = length.
    return { ranges: e.physAddrs.map((p, i) => [p, e.sizes[i]] as const), aligned: false };
  }
  if (iommu.length > 0) return { ranges: iommu.map((m) => [m.paddr, m.size] as const), aligned: true };
  return { ranges: [], aligned: false };
}

/** A task's run of iommu maps no DMA map event claimed, and the NVMe controller it follows (-1: none). */
interface Orphan {
  maps: IommuMapEvent[];
  ctrl: number;
  request: number;
}

/** Per-task state of the walk. */
interface TaskState {
  pending: IommuMapEvent[];
  /** Controller of the task's last nvme_setup_cmd, until its request is issued (-1: none). */
  ctrl: number;
  /** Id of that request (-1: none). */
  request: number;
}

/**
 * Walks the events once (see the module comment for the attribution rules).
 * @param events parsed events in trace order.
 * @returns per-device tallies, mappings and the unattributed iommu maps.
 */
export function walkTrace(events: readonly TraceEvent[]): TraceWalk {
  const devices = new Map<string, DeviceWalk>();
  const dev = (name: string): DeviceWalk => {
    let d = devices.get(name);
    if (d === undefined) {
      d = newDevice(name);
      devices.set(name, d);
    }
    return d;
  };
  const tasks = new Map<number, TaskState>();
  const task = (pid: number): TaskState => {
    let t = tasks.get(pid);
    if (t === undefined) {
      t = { pending: [], ctrl: -1, request: -1 };
      tasks.set(pid, t);
    }
    return t;
  };
  const orphans: Orphan[] = [];
  let requests = 0;
  /** NVMe controller -> the PCI device name a dma: event of the same request showed. */
  const ctrlDevice = new Map<number, string>();
  const flush = (t: TaskState): void => {
    if (t.pending.length > 0) orphans.push({ maps: t.pending, ctrl: t.ctrl, request: t.request });
    t.pending = [];
  };
  const claimFor = (
    pid: number,
    device: string,
    ranges: readonly PhysRange[],
    dma: PhysRange | null,
  ): { iommu: IommuMapEvent[]; request: number } => {
    const t = task(pid);
    if (t.ctrl >= 0 && !ctrlDevice.has(t.ctrl)) ctrlDevice.set(t.ctrl, device);
    const iommu = claim(t.pending, ranges, dma);
    flush(t);
    return { iommu, request: t.request };
  };
  const walk: TraceWalk = {
    devices,
    unattributed: [],
    dmaEvents: 0,
    iommuEvents: 0,
    swiotlbEvents: 0,
    markers: 0,
  };
  for (const e of events) {
    if (e.kind === "iommu_map") {
      walk.iommuEvents++;
      task(e.pid).pending.push(e);
      continue;
    }
    // swiotlb_bounced fires inside the map call, before its dma: event: it ends nothing.
    const inMap =
      e.kind === "dma_map" ||
      e.kind === "dma_map_sg" ||
      e.kind === "dma_alloc" ||
      e.kind === "swiotlb_bounced";
    const t = tasks.get(e.pid);
    if (!inMap && t !== undefined) {
      flush(t);
      if (e.kind === "block") {
        t.ctrl = -1;
        t.request = -1;
      }
    }
    switch (e.kind) {
      case "iommu_unmap":
      case "io_page_fault":
      case "iommu_group":
        walk.iommuEvents++;
        break;
      case "iommu_device":
        walk.iommuEvents++;
        if (e.name === "attach_device_to_domain") dev(e.device).usesIommu = true;
        break;
      case "nvme_setup_cmd": {
        const nt = task(e.pid);
        nt.ctrl = e.ctrl;
        nt.request = requests++;
        break;
      }
      case "dma_map": {
        walk.dmaEvents++;
        const d = dev(e.device);
        const mmio = e.attrs.includes("MMIO") || e.name === "dma_map_resource";
        if (mmio) d.mapCalls.resource++;
        else if (e.name === "dma_map_page") d.mapCalls.page++;
        else d.mapCalls.phys++;
        d.dmaSegmentsOut++;
        d.bytesMapped += e.size;
        const ranges: PhysRange[] = [[e.physAddr, e.size]];
        const { iommu, request } = claimFor(e.pid, e.device, ranges, [e.dmaAddr, e.size]);
        d.iommuByEvent += iommu.length;
        if (iommu.length > 0) d.usesIommu = true;
        if (e.dmaAddr !== e.physAddr) d.translated = true;
        d.mappings.push({ ranges, granuleAligned: false, iommu, request, coherent: false });
        break;
      }
      case "dma_map_sg": {
        walk.dmaEvents++;
        const d = dev(e.device);
        d.mapCalls.sg++;
        d.sgEntriesIn += e.nents;
        d.dmaSegmentsOut += e.ents;
        d.bytesMapped += e.sizes.reduce((s, x) => s + x, 0);
        if (e.truncated) d.truncatedCalls++;
        if (e.ents > e.sizes.length) d.partialBytesCalls++;
        const { iommu, request } = claimFor(
          e.pid,
          e.device,
          e.physAddrs.map((p) => [p, 1] as const),
          null,
        );
        d.iommuByEvent += iommu.length;
        if (iommu.length > 0) d.usesIommu = true;
        if (e.dmaAddrs.length > 0 && e.physAddrs.length > 0 && e.dmaAddrs[0] !== e.physAddrs[0])
          d.translated = true;
        const r = sgRanges(e, iommu);
        d.mappings.push({ ranges: r.ranges, granuleAligned: r.aligned, iommu, request, coherent: false });
        break;
      }
      case "dma_alloc": {
        walk.dmaEvents++;
        const d = dev(e.device);
        d.mapCalls.alloc++;
        // iommu_dma_alloc maps the allocation at the IOVA it returns.
        const { iommu, request } = claimFor(
          e.pid,
          e.device,
          e.physAddrs.map((p) => [p, 1] as const),
          [e.dmaAddr, e.size],
        );
        d.iommuByEvent += iommu.length;
        if (iommu.length > 0) {
          d.usesIommu = true;
          d.mappings.push({ ranges: [], granuleAligned: false, iommu, request, coherent: true });
        }
        break;
      }
      case "dma_unmap":
      case "dma_unmap_sg":
      case "dma_map_sg_err":
      case "dma_free":
      case "dma_sync_single":
      case "dma_sync_sg":
        walk.dmaEvents++;
        break;
      case "swiotlb_bounced": {
        walk.swiotlbEvents++;
        const d = dev(e.device);
        d.bounces++;
        d.bounceBytes += e.size;
        break;
      }
      case "marker":
        walk.markers++;
        break;
      default:
        break;
    }
  }
  for (const t of tasks.values()) flush(t);
  attributeOrphans(walk, orphans, ctrlDevice, dev);
  return walk;
}

/** Orphan runs: to their NVMe controller's device, else the only IOMMU device, else unattributed. */
function attributeOrphans(
  walk: TraceWalk,
  orphans: readonly Orphan[],
  ctrlDevice: ReadonlyMap<number, string>,
  dev: (name: string) => DeviceWalk,
): void {
  const mapping = (o: Orphan): TracedMapping => ({
    ranges: o.maps.map((m) => [m.paddr, m.size] as const),
    granuleAligned: true,
    iommu: o.maps,
    request: o.request,
    coherent: false,
  });
  const rest: Orphan[] = [];
  for (const o of orphans) {
    if (o.ctrl < 0) {
      rest.push(o);
      continue;
    }
    const d = dev(ctrlDevice.get(o.ctrl) ?? `nvme${o.ctrl}`);
    d.mappings.push(mapping(o));
    d.iovaRuns++;
    d.iommuByNvmeCommand += o.maps.length;
    d.usesIommu = true;
  }
  if (rest.length === 0) return;
  // The devices that used the IOMMU; when the trace shows none (attach happened before it began),
  // the ones whose DMA addresses were translated and never bounced.
  let iommuDevices = [...walk.devices.values()].filter((d) => d.usesIommu);
  if (iommuDevices.length === 0)
    iommuDevices = [...walk.devices.values()].filter((d) => d.translated && d.bounces === 0);
  if (iommuDevices.length !== 1) {
    for (const o of rest) walk.unattributed.push(...o.maps);
    return;
  }
  const d = iommuDevices[0];
  for (const o of rest) {
    d.mappings.push(mapping(o));
    d.iovaRuns++;
    d.iommuByOnlyDevice += o.maps.length;
  }
}
