/**
 * The part of a kernel lab record (`phyr-lab/1`, written by lab/) that the replay reads, checked
 * field by field: the kernel release, the scenario's options, the NVMe queue limits from sysfs,
 * each buffer's physical runs, each op and the raw tracefs text. Platform-free (no node:*): the lab
 * validates the whole record with its own schema; this reader only needs these fields and refuses
 * a record without them with a TypeError naming the field. O(runs + ops).
 */
import { PAGE_SIZE, SZ_2M } from "../core/index.js";
import type { DioRange } from "../subsys/index.js";

/** One op of a record, as the replay uses it. */
export interface ReplayOp {
  index: number;
  buffer: number;
  offset: number;
  length: number;
  dir: "read" | "write";
  devOffset: number;
  marker: string;
}

/** A buffer's physical runs: `pages` frames from `pfn`, of one kind (base, thp, hugetlb). */
export interface ReplayBuffer {
  length: number;
  runs: DioRange[];
}

/** Folio bytes of a run kind: a base page, or a PMD-sized THP / hugetlb page (x86-64 2 MiB). */
const FOLIO_BYTES: Record<string, number> = { base: PAGE_SIZE, thp: SZ_2M, hugetlb: SZ_2M };

/** The fields of a lab record the replay reads. */
export interface ReplayRecord {
  /** `uname -r` of the guest kernel. */
  release: string;
  iommu: boolean;
  strict: boolean;
  swiotlbForce: boolean;
  nvmeSgl: boolean;
  /** nvme.sgl_threshold module parameter (default 32768 when not recorded). */
  sglThreshold: number;
  queue: {
    maxSegments: number;
    maxSegmentSize: number;
    maxSectors: number;
    maxHwSectors: number;
    virtBoundaryMask: number;
    logicalBlockSize: number;
  };
  /** Buffer id -> its physical runs (byte ranges in VA order, with their folio size). */
  buffers: Map<number, ReplayBuffer>;
  ops: ReplayOp[];
  trace: string;
  /** QEMU's NVMe controller trace (pci_nvme_io_cmd + pci_nvme_map_prp/sgl lines), or "" when not recorded. */
  deviceTrace: string;
}

function field(o: unknown, path: string): unknown {
  let v: unknown = o;
  for (const k of path.split(".")) {
    if (v === null || typeof v !== "object" || !(k in (v as object))) {
      throw new TypeError(`lab record field ${path} is missing`);
    }
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

function num(o: unknown, path: string): number {
  const v = field(o, path);
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
    throw new TypeError(
      `lab record field ${path} ${JSON.stringify(v)} is invalid: expected a non-negative integer`,
    );
  return v;
}

function hexNum(v: unknown, path: string): number {
  if (typeof v !== "string" || !/^0x[0-9a-fA-F]{1,14}$/.test(v))
    throw new TypeError(
      `lab record field ${path} ${JSON.stringify(v)} is invalid: expected a hex string like 0x1000`,
    );
  const n = Number.parseInt(v.slice(2), 16);
  if (!Number.isSafeInteger(n)) throw new TypeError(`lab record field ${path} ${v} is beyond 2^53`);
  return n;
}

function bool(o: unknown, path: string): boolean {
  const v = field(o, path);
  if (typeof v !== "boolean")
    throw new TypeError(`lab record field ${path} ${JSON.stringify(v)} is invalid: expected a boolean`);
  return v;
}

/**
 * Reads the replay's fields from a parsed lab record (the JSON object). O(runs + ops).
 * @throws TypeError naming the first missing or malformed field. The input is not modified.
 */
export function readReplayRecord(record: unknown): ReplayRecord {
  const schema = field(record, "schema");
  if (schema !== "phyr-lab/1")
    throw new TypeError(`lab record schema ${JSON.stringify(schema)} is invalid: expected "phyr-lab/1"`);
  const release = field(record, "kernel.release");
  if (typeof release !== "string" || release.length === 0 || release.length > 128)
    throw new TypeError(
      `lab record field kernel.release ${JSON.stringify(release)} is invalid: expected a release string`,
    );
  const trace = field(record, "trace");
  if (typeof trace !== "string")
    throw new TypeError("lab record field trace is invalid: expected the tracefs text");
  const params = (() => {
    try {
      return field(record, "device.moduleParams") as Record<string, unknown>;
    } catch {
      return {};
    }
  })();
  const thr = params?.["nvme.sgl_threshold"];
  const sglThreshold = typeof thr === "string" && /^\d+$/.test(thr) ? Number(thr) : 32768;
  const buffers = new Map<number, ReplayBuffer>();
  const bufs = field(record, "buffers");
  if (!Array.isArray(bufs)) throw new TypeError("lab record field buffers is invalid: expected an array");
  bufs.forEach((b, i) => {
    const id = num(b, "id");
    const length = num(b, "length");
    const runsIn = field(b, "runs");
    if (!Array.isArray(runsIn))
      throw new TypeError(`lab record field buffers[${i}].runs is invalid: expected an array`);
    // The run's kind (KPF_HUGE / KPF_THP), or the buffer's backing when runs carry none.
    const backing = (b as { backing?: unknown }).backing;
    const fallback = backing === "hugetlb" ? "hugetlb" : backing === "thp" ? "thp" : "base";
    const runs = runsIn.map((r, j) => {
      const kind = (r as { kind?: unknown }).kind ?? fallback;
      const folioBytes = typeof kind === "string" ? FOLIO_BYTES[kind] : undefined;
      if (folioBytes === undefined)
        throw new TypeError(
          `lab record field buffers[${i}].runs[${j}].kind ${JSON.stringify(kind)} is invalid: expected base, thp or hugetlb`,
        );
      return {
        addr: hexNum(field(r, "pfn"), `buffers[${i}].runs[${j}].pfn`) * PAGE_SIZE,
        len: num(r, "pages") * PAGE_SIZE,
        folioBytes,
      };
    });
    buffers.set(id, { length, runs });
  });
  const opsIn = field(record, "ops");
  if (!Array.isArray(opsIn)) throw new TypeError("lab record field ops is invalid: expected an array");
  const ops: ReplayOp[] = opsIn.map((o, i) => {
    const dir = field(o, "dir");
    const marker = field(o, "marker");
    if (dir !== "read" && dir !== "write")
      throw new TypeError(
        `lab record field ops[${i}].dir ${JSON.stringify(dir)} is invalid: expected read or write`,
      );
    if (typeof marker !== "string")
      throw new TypeError(`lab record field ops[${i}].marker is invalid: expected a string`);
    return {
      index: num(o, "index"),
      buffer: num(o, "buffer"),
      offset: num(o, "offset"),
      length: num(o, "length"),
      dir,
      devOffset: num(o, "devOffset"),
      marker,
    };
  });
  return {
    release,
    iommu: bool(record, "scenario.options.iommu"),
    strict: bool(record, "scenario.options.strict"),
    swiotlbForce: bool(record, "scenario.options.swiotlbForce"),
    nvmeSgl: bool(record, "scenario.options.nvmeSgl"),
    sglThreshold,
    queue: {
      maxSegments: num(record, "device.queue.max_segments"),
      maxSegmentSize: num(record, "device.queue.max_segment_size"),
      maxSectors: num(record, "device.queue.max_sectors_kb") * 2,
      maxHwSectors: num(record, "device.queue.max_hw_sectors_kb") * 2,
      virtBoundaryMask: num(record, "device.queue.virt_boundary_mask"),
      logicalBlockSize: num(record, "device.queue.logical_block_size"),
    },
    buffers,
    ops,
    trace,
    deviceTrace: (() => {
      const d = (record as { deviceTrace?: unknown }).deviceTrace;
      if (d === undefined) return "";
      if (typeof d !== "string")
        throw new TypeError("lab record field deviceTrace is invalid: expected text");
      return d;
    })(),
  };
}

/**
 * The CPU physical ranges of bytes [offset, offset + length) of a buffer, in VA order, each with
 * its folio size (what the pinned pages are). O(runs).
 * @throws RangeError when the window is outside the buffer or its runs do not cover it.
 */
export function opRanges(buf: ReplayBuffer, offset: number, length: number): DioRange[] {
  if (length === 0 || offset + length > buf.length)
    throw new RangeError(`op window ${offset}+${length} is invalid: outside the ${buf.length}-byte buffer`);
  const out: DioRange[] = [];
  let pos = 0;
  for (const r of buf.runs) {
    const s = Math.max(pos, offset);
    const e = Math.min(pos + r.len, offset + length);
    if (s < e) out.push({ addr: r.addr + (s - pos), len: e - s, folioBytes: r.folioBytes });
    pos += r.len;
  }
  const got = out.reduce((a, r) => a + r.len, 0);
  if (got !== length)
    throw new RangeError(
      `op window ${offset}+${length} is invalid: the buffer's runs cover ${got} bytes of it`,
    );
  return out;
}
