/**
 * Replay of a kernel lab record against the model: for every NVMe request the kernel traced (cut
 * per op by the workload's trace_marker lines; each nvme_setup_cmd with the dma:, iommu: and
 * swiotlb: events after it), the model of THAT kernel release (subsys/nvme-plan.ts: 7.x follows
 * the 7.2 DMA iterator and two-step IOVA API, 6.12 the scatterlist and dma_map_sg) is fed the op's
 * physical ranges and the queue limits the record read from sysfs, and must give the same request
 * sizes, DMA API calls, DMA segments, iommu_map calls (size, physical address, IOVA offset) and the
 * IOMMU leaves they make. Every difference is a named mismatch; what the trace cannot show is a
 * named departure (see docs/kernel-fidelity.md, "Block layer and NVMe").
 */
import { PAGE_SIZE } from "../core/index.js";
import { dmaOptMappingSize } from "../dma/index.js";
import { iommuPgsize, PGSIZE_X86 } from "../iommu/index.js";
import {
  type KernelRelease,
  kernelReleaseOf,
  type NvmeKernelDevice,
  type NvmeRequestPlan,
  nvmeMaxHwSectors,
  nvmePlanIo,
  nvmeQueueLimits,
  type QueueLimits,
} from "../subsys/index.js";
import { parseTrace } from "./parse.js";
import type { TraceEvent } from "./parse-types.js";
import { opRanges, type ReplayOp, type ReplayRecord, readReplayRecord } from "./replay-record.js";

/** One difference between the kernel's trace and the model. */
export interface ReplayMismatch {
  /** The op index, or -1 for the device as a whole (queue limits). */
  op: number;
  /** The request's first LBA (512-byte sectors), or -1 when not about one request. */
  request: number;
  /** What differs: "request", "bytes", "dmaMapCalls", "dmaSegments", "iommuMaps", "iommuMap", "leaves", "bounces", "limits". */
  what: string;
  kernel: string;
  model: string;
}

/** One traced request beside the model's. */
export interface ReplayRequest {
  op: number;
  /** First LBA (512-byte sectors). */
  sector: number;
  bytes: number;
  /** The model's path (simple / iova / phys / sg) and data pointer (not traced, see departures). */
  path: string;
  dataPtr: string;
  /** iommu_map calls the kernel made for the request. */
  iommuMaps: number;
  /** IOMMU leaves those calls made, by page size (bytes -> count), kernel side. */
  leaves: Record<string, number>;
  reproduced: boolean;
}

/** What {@link replayLabRecord} returns. */
export interface ReplayResult {
  /** The guest kernel's release as recorded. */
  kernel: string;
  /** The modelled line it was replayed against. */
  release: KernelRelease;
  /** Traced requests (NVMe read/write commands inside the ops' marker windows). */
  requests: number;
  /** Requests whose every compared figure agrees. */
  reproduced: number;
  /** Every difference found. */
  mismatches: ReplayMismatch[];
  /** What is not compared, and why (the trace cannot show it). */
  departures: string[];
  /** Per request, in trace order. */
  details: ReplayRequest[];
}

/** The events of one traced request. */
interface TracedRequest {
  sector: number;
  bytes: number;
  /** nvme_setup_cmd's queue and command id (to find the command in QEMU's controller trace). */
  qid: number;
  cmdid: number;
  events: TraceEvent[];
  /** Coherent allocations made while mapping it (dma_alloc: the NVMe descriptor pool growing). */
  coherent: number;
}

const MAP_KINDS = new Set(["iommu_map", "dma_map", "dma_map_sg", "swiotlb_bounced"]);

/** Splits the trace into the ops' marker windows and the requests inside each. O(events). */
function tracedRequests(events: TraceEvent[], ops: ReplayOp[], lbs: number): Map<number, TracedRequest[]> {
  const byMarker = new Map<string, number>();
  for (const o of ops) byMarker.set(o.marker, o.index);
  const out = new Map<number, TracedRequest[]>();
  let op = -1;
  let cur: TracedRequest | undefined;
  for (const e of events) {
    if (e.kind === "marker") {
      const m = /^(.*) (begin|end)$/.exec(e.text.trim());
      const idx = m ? byMarker.get(m[1]) : undefined;
      if (m && idx !== undefined) {
        op = m[2] === "begin" ? idx : -1;
        cur = undefined;
        if (op >= 0 && !out.has(op)) out.set(op, []);
      }
      continue;
    }
    if (op < 0) continue;
    if (e.kind === "nvme_setup_cmd") {
      if (e.qid === 0 || !/^nvme_cmd_(read|write)$/.test(e.opcode)) continue;
      const slba = e.args.slba ?? 0;
      const nlb = (e.args.len ?? 0) + 1;
      cur = {
        sector: (slba * lbs) / 512,
        bytes: nlb * lbs,
        qid: e.qid,
        cmdid: e.cmdid,
        events: [],
        coherent: 0,
      };
      out.get(op)?.push(cur);
    } else if (cur && MAP_KINDS.has(e.kind)) cur.events.push(e);
    else if (cur && e.kind === "dma_alloc") {
      // dma_pool_alloc growing the descriptor pool (a PRP/SGL list page): dma_alloc_coherent maps
      // the page through the IOMMU before the dma_alloc tracepoint. Not a data mapping.
      const a = e.dmaAddr;
      const end = a + e.size;
      cur.events = cur.events.filter((m) => !(m.kind === "iommu_map" && m.iova >= a && m.iova < end));
      cur.coherent++;
    }
  }
  return out;
}

/** One I/O command as QEMU's NVMe controller read it: its data pointer kind and first SGL descriptor type. */
interface DeviceCommand {
  cid: number;
  sqid: number;
  ptr: "prp" | "sgl";
  /** NVME_SGL_TYPE of the descriptor in the command: 0 a data block (inline), 3 a last segment (a list). */
  sglType: number;
}

/**
 * QEMU's hw/nvme trace lines `pci_nvme_io_cmd cid C nsid N sqid Q ...` each followed by
 * `pci_nvme_map_prp ...` or `pci_nvme_map_sgl type T len L`. O(lines).
 */
function deviceCommands(text: string): DeviceCommand[] {
  const out: DeviceCommand[] = [];
  let cur: { cid: number; sqid: number } | undefined;
  for (const line of text.split("\n")) {
    const io = /^pci_nvme_io_cmd cid (\d+) .*\bsqid (\d+)\b/.exec(line);
    if (io) {
      cur = { cid: Number(io[1]), sqid: Number(io[2]) };
      continue;
    }
    const m = /^pci_nvme_map_(prp|sgl)\b(?: type (0x[0-9a-f]+|\d+))?/.exec(line);
    if (m && cur) {
      out.push({ ...cur, ptr: m[1] as "prp" | "sgl", sglType: m[2] === undefined ? -1 : Number(m[2]) });
      cur = undefined;
    }
  }
  return out;
}

/** iommu_pgsize over one map call: leaves by page size, added into `into`. O(leaves chosen). */
function addLeaves(
  bitmap: number,
  iova: number,
  paddr: number,
  size: number,
  into: Record<string, number>,
): void {
  while (size > 0) {
    const c = iommuPgsize(bitmap, iova, paddr, size);
    const bytes = c.pgsize * c.count;
    into[String(c.pgsize)] = (into[String(c.pgsize)] ?? 0) + c.count;
    iova += bytes;
    paddr += bytes;
    size -= bytes;
  }
}

const fmt = (v: unknown): string => JSON.stringify(v);
const hx = (n: number): string => `0x${n.toString(16)}`;

/** Compares one traced request with the model's plan; pushes mismatches. O(events). */
function compare(
  op: number,
  k: TracedRequest,
  p: NvmeRequestPlan,
  bitmap: number,
  out: ReplayMismatch[],
): ReplayRequest {
  const before = out.length;
  const miss = (what: string, kernel: unknown, model: unknown): void => {
    out.push({ op, request: k.sector, what, kernel: fmt(kernel), model: fmt(model) });
  };
  if (k.bytes !== p.bytes) miss("bytes", k.bytes, p.bytes);
  const maps = k.events.filter((e) => e.kind === "iommu_map");
  const dmaPhys = k.events.filter((e) => e.kind === "dma_map");
  const dmaSg = k.events.filter((e) => e.kind === "dma_map_sg");
  const bounces = k.events.filter((e) => e.kind === "swiotlb_bounced");
  // The DMA API calls traced: dma_map_phys / dma_map_page per mapping, or one dma_map_sg.
  const modelCalls = p.path === "sg" ? 1 : p.path === "iova" ? 0 : p.dmaMaps.length;
  if (dmaPhys.length + dmaSg.length !== modelCalls)
    miss("dmaMapCalls", dmaPhys.length + dmaSg.length, modelCalls);
  // DMA segments: dma_map_sg's returned segments; each dma_map_phys; one IOVA range when the
  // request was linked with dma_iova_link (which has no dma: tracepoint: derived from the maps).
  let kSegs: number[];
  if (dmaSg.length > 0) {
    kSegs = [];
    for (const e of dmaSg) if (e.kind === "dma_map_sg") kSegs.push(...(e.truncated ? [] : e.sizes));
  } else if (dmaPhys.length > 0) kSegs = dmaPhys.map((e) => (e.kind === "dma_map" ? e.size : 0));
  else if (maps.length > 0) kSegs = [k.bytes];
  else kSegs = [];
  const sgTruncated = dmaSg.some((e) => e.kind === "dma_map_sg" && e.truncated);
  if (sgTruncated) {
    const ents = dmaSg.reduce((a, e) => a + (e.kind === "dma_map_sg" ? e.ents : 0), 0);
    if (ents !== p.dmaSegments.length)
      miss("dmaSegments", `${ents} segments`, `${p.dmaSegments.length} segments`);
  } else if (fmt(kSegs) !== fmt(p.dmaSegments)) miss("dmaSegments", kSegs, p.dmaSegments);
  // iommu_map calls: count, then each (size, paddr, IOVA offset from the request's first call).
  const leavesK: Record<string, number> = {};
  const leavesM: Record<string, number> = {};
  if (maps.length !== p.iommuMaps.length) miss("iommuMaps", maps.length, p.iommuMaps.length);
  else if (maps.length > 0) {
    const base = maps[0].kind === "iommu_map" ? maps[0].iova : 0;
    for (let i = 0; i < maps.length; i++) {
      const e = maps[i];
      if (e.kind !== "iommu_map") continue;
      const m = p.iommuMaps[i];
      // Offsets between separate allocations (alloc > 0) are the allocator's choice: not compared.
      const kOff = e.iova - base;
      const sameAlloc = m.alloc === 0;
      if (e.size !== m.size || e.paddr !== m.paddr || (sameAlloc && kOff !== m.iovaOff)) {
        miss(
          "iommuMap",
          `#${i} iova+${hx(kOff)} paddr ${hx(e.paddr)} size ${hx(e.size)}`,
          `#${i} iova+${sameAlloc ? hx(m.iovaOff) : "?"} paddr ${hx(m.paddr)} size ${hx(m.size)}`,
        );
      }
      addLeaves(bitmap, e.iova, e.paddr, e.size, leavesK);
      // The model's IOVA: the kernel's base plus the model's offset (its own allocation's IOVA
      // when the model says the call has one to itself).
      const mIova = sameAlloc ? base + m.iovaOff : e.iova;
      if (m.size > 0 && mIova % PAGE_SIZE === m.paddr % PAGE_SIZE)
        addLeaves(bitmap, mIova, m.paddr, m.size, leavesM);
    }
    if (fmt(leavesK) !== fmt(leavesM)) miss("leaves", leavesK, leavesM);
  }
  const kb = bounces.map((e) => (e.kind === "swiotlb_bounced" ? e.size : 0));
  if (fmt(kb) !== fmt(p.bounces)) miss("bounces", kb, p.bounces);
  return {
    op,
    sector: k.sector,
    bytes: k.bytes,
    path: p.path,
    dataPtr: p.dataPtr,
    iommuMaps: maps.length,
    leaves: leavesK,
    reproduced: out.length === before,
  };
}

/** The queue limits the record read, as the model's QueueLimits. */
function recordLimits(r: ReplayRecord): QueueLimits {
  return {
    maxSegments: r.queue.maxSegments,
    maxSegmentSize: r.queue.maxSegmentSize,
    // No sysfs file shows seg_boundary_mask; NVMe leaves BLK_SEG_BOUNDARY_MASK.
    segBoundaryMask: 0xffffffff,
    virtBoundaryMask: r.queue.virtBoundaryMask,
    maxSectors: r.queue.maxSectors,
    logicalBlockSize: r.queue.logicalBlockSize,
  };
}

/**
 * Replays a kernel lab record (the parsed `phyr-lab/1` JSON) against the model of its kernel
 * release. Cost: O(trace text + runs + requests * segments).
 * @returns counts, every mismatch and the departures; `reproduced === requests` with no
 *   mismatches means the model did what the kernel did for every traced request.
 * @throws TypeError for a record without the fields the replay needs; RangeError for a kernel
 *   release the model does not follow or an op outside its buffer; ParseError for a trace that is
 *   not tracefs text. The record is not modified.
 */
export function replayLabRecord(record: unknown): ReplayResult {
  const r = readReplayRecord(record);
  const release = kernelReleaseOf(r.release);
  const parsed = parseTrace(r.trace, `lab record (${r.release})`);
  const limits = recordLimits(r);
  const mismatches: ReplayMismatch[] = [];
  const departures: string[] = [
    "IOVA placement: absolute IOVAs are the allocator's (not modelled); iommu_map calls are compared by size, physical address and IOVA offset from the request's first call, and the model's leaves are counted from the kernel's IOVA base",
    "data pointer: nvme_setup_cmd is traced before nvme_map_data sets the PRP/SGL flags, so the model's choice is reported, not compared",
    "IOMMU page sizes: leaves are counted with the x86 VT-d bitmap 4K|2M|1G on both sides",
  ];
  // The queue limits the model derives for this device, beside the ones sysfs showed.
  // nvme_ctrl_sgl_supported: on 7.x nvme_pci_get_virt_boundary gives an SGL-capable controller's
  // I/O queues no virt boundary, so sysfs shows it; 6.12 sets the boundary either way, and the
  // lab's QEMU controller reports SGL support. The lab turns SGLs off with sgl_threshold=0.
  const sglSupported = release === "7.2" ? r.queue.virtBoundaryMask === 0 : true;
  if (release === "6.12")
    departures.push("SGL support: 6.12 hides it from sysfs; the lab's QEMU NVMe controller supports SGLs");
  // dma_opt_mapping_size of the NVMe function (min_align_mask NVME_CTRL_PAGE_SIZE - 1).
  const dmaOpt = dmaOptMappingSize({
    kind: r.iommu ? "iommu" : r.swiotlbForce ? "swiotlb" : "direct",
    minAlignMask: 0xfff,
  });
  const derivedHw = nvmeMaxHwSectors({ sglSupported, dmaOptMappingSize: dmaOpt });
  const mdts = r.queue.maxHwSectors < derivedHw ? r.queue.maxHwSectors * 512 : 0;
  if (mdts !== 0)
    departures.push(
      `max_hw_sectors ${r.queue.maxHwSectors} is below the DMA and driver caps: taken as the controller's MDTS (not in the record)`,
    );
  const derived = nvmeQueueLimits({
    sglSupported,
    dmaOptMappingSize: dmaOpt,
    mdtsBytes: mdts,
    release,
  });
  for (const [what, k, m] of [
    ["max_sectors", limits.maxSectors, derived.maxSectors],
    ["max_segments", limits.maxSegments, derived.maxSegments],
    ["virt_boundary_mask", limits.virtBoundaryMask, derived.virtBoundaryMask],
    ["max_segment_size", limits.maxSegmentSize, derived.maxSegmentSize],
  ] as const) {
    if (k !== m)
      mismatches.push({ op: -1, request: -1, what: `limits: ${what}`, kernel: fmt(k), model: fmt(m) });
  }
  const dev: NvmeKernelDevice = {
    release,
    sglSupported,
    iommu: r.iommu ? { granule: PAGE_SIZE } : null,
    swiotlbForce: r.swiotlbForce && !r.iommu,
    limits,
    sglThreshold: r.sglThreshold,
  };
  const traced = tracedRequests(parsed.events, r.ops, limits.logicalBlockSize);
  const device = deviceCommands(r.deviceTrace);
  let devAt = 0;
  if (device.length > 0)
    departures[1] =
      "data pointer: compared with QEMU's NVMe controller trace (pci_nvme_map_prp / pci_nvme_map_sgl per command): PRP or SGL, and an SGL in the command or in a list";
  const details: ReplayRequest[] = [];
  let requests = 0;
  for (const op of r.ops) {
    const buf = r.buffers.get(op.buffer);
    if (!buf)
      throw new TypeError(
        `lab record op ${op.index} names buffer ${op.buffer}, which the record does not have`,
      );
    const plan = nvmePlanIo(dev, opRanges(buf, op.offset, op.length));
    const bySector = new Map<number, NvmeRequestPlan>();
    const base = op.devOffset / 512;
    for (const p of plan.requests) bySector.set(base + p.offset / 512, p);
    const ks = traced.get(op.index) ?? [];
    requests += ks.length;
    const seen = new Set<number>();
    for (const k of ks) {
      const p = bySector.get(k.sector);
      if (!p) {
        mismatches.push({
          op: op.index,
          request: k.sector,
          what: "request",
          kernel: fmt(`${k.bytes} bytes`),
          model: fmt("none at this sector"),
        });
        details.push({
          op: op.index,
          sector: k.sector,
          bytes: k.bytes,
          path: "",
          dataPtr: "",
          iommuMaps: 0,
          leaves: {},
          reproduced: false,
        });
        continue;
      }
      seen.add(k.sector);
      const before = mismatches.length;
      const d = compare(op.index, k, p, PGSIZE_X86, mismatches);
      if (device.length > 0) {
        // The command QEMU's controller read: the next one with this queue and command id.
        let j = devAt;
        while (j < device.length && !(device[j].cid === k.cmdid && device[j].sqid === k.qid)) j++;
        if (j === device.length) {
          mismatches.push({
            op: op.index,
            request: k.sector,
            what: "dataPtr",
            kernel: fmt("not in the device trace"),
            model: fmt(p.dataPtr),
          });
        } else {
          devAt = j + 1;
          const got = device[j];
          // nvme_pci_setup_data_sgl / nvme_setup_sgl_simple: one data block descriptor in the command
          // for one entry or a coalesced IOVA range, else a last-segment descriptor to a list.
          const inline =
            p.path === "simple" ||
            p.path === "iova" ||
            (p.path === "phys" ? p.nrPhysSegments === 1 : p.dmaSegments.length === 1);
          const want = p.dataPtr === "sgl" ? `sgl type ${inline ? 0 : 3}` : "prp";
          const have = got.ptr === "sgl" ? `sgl type ${got.sglType}` : "prp";
          if (want !== have)
            mismatches.push({
              op: op.index,
              request: k.sector,
              what: "dataPtr",
              kernel: fmt(have),
              model: fmt(want),
            });
        }
        d.reproduced = mismatches.length === before;
      }
      details.push(d);
    }
    for (const [sector, p] of bySector) {
      if (!seen.has(sector))
        mismatches.push({
          op: op.index,
          request: sector,
          what: "request",
          kernel: fmt("not traced"),
          model: fmt(`${p.bytes} bytes`),
        });
    }
  }
  let coherent = 0;
  for (const ks of traced.values()) for (const k of ks) coherent += k.coherent;
  if (coherent > 0)
    departures.push(
      `${coherent} coherent allocation(s) (dma_alloc, with their iommu_map) happened inside requests: the NVMe descriptor pool growing by a list page; not data mappings, left out of the comparison (the pool's state is not modelled)`,
    );
  if (parsed.lost > 0)
    departures.push(`the trace lost ${parsed.lost} events: requests in those gaps may be incomplete`);
  return {
    kernel: r.release,
    release,
    requests,
    reproduced: details.filter((d) => d.reproduced).length,
    mismatches,
    departures,
    details,
  };
}
