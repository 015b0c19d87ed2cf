/**
 * Event bodies: one reader per TP_printk format (the text after `name: ` on a trace line). Each
 * returns the typed fields, or throws {@link BodyError} with the reason; parse.ts counts such a
 * line as malformed. Cost: O(length of the body) each.
 */

import type { TraceContext, TraceEvent } from "./parse-types.js";

/** A body that does not match its event's format; the message is the reason. */
export class BodyError extends Error {
  override name = "BodyError";
}

/** The fields of an event without its context. */
type Body = TraceEvent extends infer E ? (E extends TraceEvent ? Omit<E, keyof TraceContext> : never) : never;

const HEX = /^(?:0x)?([0-9a-f]+)$/i;
const DEC = /^\d+$/;

/** Hex (`%llx`, `0x%llx`) to a safe integer, or BodyError naming the field. */
export function hexNum(field: string, s: string): number {
  const m = HEX.exec(s);
  if (m === null) throw new BodyError(`${field}=${s}: not a hex number`);
  const v = Number.parseInt(m[1], 16);
  if (!Number.isSafeInteger(v)) throw new BodyError(`${field}=${s}: beyond 2^53, not read as a number`);
  return v;
}

/** Decimal (`%zu`, `%u`, `%d`) to a safe integer. */
export function decNum(field: string, s: string, signed = false): number {
  if (!(signed ? /^-?\d+$/ : DEC).test(s)) throw new BodyError(`${field}=${s}: not a decimal number`);
  const v = Number(s);
  if (!Number.isSafeInteger(v)) throw new BodyError(`${field}=${s}: beyond 2^53, not read as a number`);
  return v;
}

/** `%#llx` / `%llx` 64-bit word as a bigint. */
function hexBig(field: string, s: string): bigint {
  const m = HEX.exec(s);
  if (m === null) throw new BodyError(`${field}=${s}: not a hex number`);
  return BigInt(`0x${m[1]}`);
}

/** kernel/trace/trace_output.c trace_print_array_seq(): `{0x1,0x2}`, `{}` when empty. */
function hexArray(field: string, s: string): number[] {
  if (s.length < 2 || s[0] !== "{" || s[s.length - 1] !== "}")
    throw new BodyError(`${field}=${s}: not {..} array`);
  const inner = s.slice(1, -1);
  if (inner === "") return [];
  return inner.split(",").map((x) => hexNum(field, x));
}

/** decode_dma_attrs(): names joined by `|` (trace_print_flags_seq()), "" when 0. */
function attrList(s: string): string[] {
  return s === "" ? [] : s.split("|");
}

/**
 * The `DEVICE dir=DIR k=v ...` shape of every dma.h event. The device name is everything before
 * the first ` dir=` (dev_name() of a PCI device has no spaces; other names are taken as printed).
 */
function dmaFields(body: string): {
  device: string;
  dir: string;
  kv: Map<string, string>;
  flags: Set<string>;
} {
  const at = body.indexOf(" dir=");
  if (at <= 0) throw new BodyError("no `DEVICE dir=` prefix");
  const device = body.slice(0, at);
  const kv = new Map<string, string>();
  const flags = new Set<string>();
  let dir = "";
  const rest = body.slice(at + 1).split(" ");
  for (const tok of rest) {
    if (tok === "") continue;
    const eq = tok.indexOf("=");
    if (eq < 0) {
      flags.add(tok);
      continue;
    }
    const k = tok.slice(0, eq);
    const v = tok.slice(eq + 1);
    if (k === "dir") dir = v;
    else kv.set(k, v);
  }
  return { device, dir, kv, flags };
}

function need(kv: Map<string, string>, k: string): string {
  const v = kv.get(k);
  if (v === undefined) throw new BodyError(`no ${k}=`);
  return v;
}

/** `%d/%d` of dma_map_sg's nents= / ents= (traced/full). */
function countPair(field: string, s: string): [number, number] {
  const m = /^(\d+)\/(\d+)$/.exec(s);
  if (m === null) throw new BodyError(`${field}=${s}: not N/M`);
  return [decNum(field, m[1]), decNum(field, m[2])];
}

/** include/trace/events/dma.h DMA_TRACE_MAX_ENTRIES: dma_map_sg traces at most this many entries. */
export const DMA_TRACE_MAX_ENTRIES = 128;

function dmaMapSg(body: string): Body {
  // dma.h dma_map_sg TP_printk: "%s dir=%s nents=%d/%d ents=%d/%d%s dma_addrs=%s sizes=%s phys_addrs=%s attrs=%s"
  // (6.x: "%s dir=%s dma_addrs=%s sizes=%s phys_addrs=%s attrs=%s").
  const f = dmaFields(body);
  const physAddrs = hexArray("phys_addrs", need(f.kv, "phys_addrs"));
  const dmaAddrs = hexArray("dma_addrs", need(f.kv, "dma_addrs"));
  const sizes = hexArray("sizes", need(f.kv, "sizes"));
  if (sizes.length !== dmaAddrs.length) throw new BodyError("dma_addrs and sizes differ in length");
  let nents = physAddrs.length;
  let ents = dmaAddrs.length;
  const truncated = f.flags.has("[TRUNCATED]");
  const n = f.kv.get("nents");
  const e = f.kv.get("ents");
  if (n !== undefined || e !== undefined) {
    const [tn, fn] = countPair("nents", n ?? "");
    const [te, fe] = countPair("ents", e ?? "");
    // TP_fast_assign: traced = min(full, DMA_TRACE_MAX_ENTRIES); truncated = either full > 128.
    if (tn !== Math.min(fn, DMA_TRACE_MAX_ENTRIES) || te !== Math.min(fe, DMA_TRACE_MAX_ENTRIES)) {
      throw new BodyError(`nents=${n} ents=${e}: traced count is not min(full, ${DMA_TRACE_MAX_ENTRIES})`);
    }
    if (truncated !== (fn > DMA_TRACE_MAX_ENTRIES || fe > DMA_TRACE_MAX_ENTRIES)) {
      throw new BodyError(`[TRUNCATED] does not agree with nents=${n} ents=${e}`);
    }
    if (tn !== physAddrs.length || te !== dmaAddrs.length) {
      throw new BodyError(
        `nents=${n} ents=${e}: arrays hold ${physAddrs.length} and ${dmaAddrs.length} entries`,
      );
    }
    nents = fn;
    ents = fe;
  }
  const attrs = attrList(need(f.kv, "attrs"));
  return {
    kind: "dma_map_sg",
    device: f.device,
    dir: f.dir,
    nents,
    ents,
    truncated,
    physAddrs,
    dmaAddrs,
    sizes,
    attrs,
  };
}

function dmaMap(body: string): Body {
  // dma.h class dma_map: "%s dir=%s dma_addr=%llx size=%zu phys_addr=%llx attrs=%s"
  const f = dmaFields(body);
  return {
    kind: "dma_map",
    device: f.device,
    dir: f.dir,
    dmaAddr: hexNum("dma_addr", need(f.kv, "dma_addr")),
    size: decNum("size", need(f.kv, "size")),
    physAddr: hexNum("phys_addr", need(f.kv, "phys_addr")),
    attrs: attrList(need(f.kv, "attrs")),
  };
}

function dmaUnmap(body: string): Body {
  // dma.h class dma_unmap: "%s dir=%s dma_addr=%llx size=%zu attrs=%s"
  const f = dmaFields(body);
  return {
    kind: "dma_unmap",
    device: f.device,
    dir: f.dir,
    dmaAddr: hexNum("dma_addr", need(f.kv, "dma_addr")),
    size: decNum("size", need(f.kv, "size")),
    attrs: attrList(need(f.kv, "attrs")),
  };
}

function dmaAllocFree(kind: "dma_alloc" | "dma_free", body: string): Body {
  // dma.h dma_alloc_class: "%s dir=%s dma_addr=%llx size=%zu virt_addr=%p flags=%s attrs=%s";
  // dma_alloc_sgt: "... size=%zu phys_addrs=%s flags=%s attrs=%s"; dma_free_class: no flags=;
  // dma_free_sgt: "%s dir=%s dma_addr=%llx size=%zu phys_addrs=%s" (no attrs=).
  const f = dmaFields(body);
  const pa = f.kv.get("phys_addrs");
  const common = {
    device: f.device,
    dir: f.dir,
    dmaAddr: hexNum("dma_addr", need(f.kv, "dma_addr")),
    size: decNum("size", need(f.kv, "size")),
    physAddrs: pa === undefined ? [] : hexArray("phys_addrs", pa),
    attrs: attrList(f.kv.get("attrs") ?? ""),
  };
  return kind === "dma_alloc" ? { kind, ...common, gfp: f.kv.get("flags") ?? "" } : { kind, ...common };
}

function dmaSimpleSg(kind: "dma_map_sg_err" | "dma_unmap_sg", body: string): Body {
  const f = dmaFields(body);
  const attrs = attrList(need(f.kv, "attrs"));
  if (kind === "dma_map_sg_err") {
    // dma.h dma_map_sg_err: "%s dir=%s dma_addrs=%s err=%d attrs=%s" (the array is sg_phys()).
    const physAddrs = hexArray("dma_addrs", need(f.kv, "dma_addrs"));
    return {
      kind,
      device: f.device,
      dir: f.dir,
      physAddrs,
      err: decNum("err", need(f.kv, "err"), true),
      attrs,
    };
  }
  // dma.h dma_unmap_sg: "%s dir=%s phys_addrs=%s attrs=%s"
  return {
    kind,
    device: f.device,
    dir: f.dir,
    physAddrs: hexArray("phys_addrs", need(f.kv, "phys_addrs")),
    attrs,
  };
}

function dmaSync(kind: "dma_sync_single" | "dma_sync_sg", body: string): Body {
  const f = dmaFields(body);
  if (kind === "dma_sync_single") {
    // dma.h dma_sync_single: "%s dir=%s dma_addr=%llx size=%zu"
    const dmaAddr = hexNum("dma_addr", need(f.kv, "dma_addr"));
    return { kind, device: f.device, dir: f.dir, dmaAddr, size: decNum("size", need(f.kv, "size")) };
  }
  // dma.h dma_sync_sg: "%s dir=%s dma_addrs=%s sizes=%s"
  const dmaAddrs = hexArray("dma_addrs", need(f.kv, "dma_addrs"));
  const sizes = hexArray("sizes", need(f.kv, "sizes"));
  if (sizes.length !== dmaAddrs.length) throw new BodyError("dma_addrs and sizes differ in length");
  return { kind, device: f.device, dir: f.dir, dmaAddrs, sizes };
}

function match(re: RegExp, body: string, what: string): RegExpExecArray {
  const m = re.exec(body);
  if (m === null) throw new BodyError(`not the ${what} format`);
  return m;
}

// include/trace/events/iommu.h map: "IOMMU: iova=0x%016llx - 0x%016llx paddr=0x%016llx size=%zu"
const IOMMU_MAP = /^IOMMU: iova=(0x[0-9a-f]+) - (0x[0-9a-f]+) paddr=(0x[0-9a-f]+) size=(\d+)$/i;
// iommu.h unmap: "IOMMU: iova=0x%016llx - 0x%016llx size=%zu unmapped_size=%zu"
const IOMMU_UNMAP = /^IOMMU: iova=(0x[0-9a-f]+) - (0x[0-9a-f]+) size=(\d+) unmapped_size=(\d+)$/i;
// iommu.h iommu_device_event: "IOMMU: device=%s"; iommu_group_event: "IOMMU: groupID=%d device=%s"
const IOMMU_DEVICE = /^IOMMU: device=(.*)$/;
const IOMMU_GROUP = /^IOMMU: groupID=(-?\d+) device=(.*)$/;
// iommu.h iommu_error: "IOMMU:%s %s iova=0x%016llx flags=0x%04x"
const IO_PAGE_FAULT = /^IOMMU:(\S*) (.*) iova=(0x[0-9a-f]+) flags=(0x[0-9a-f]+)$/i;
// include/trace/events/swiotlb.h swiotlb_bounced: "dev_name: %s dma_mask=%llx dev_addr=%llx size=%zu %s"
const SWIOTLB =
  /^dev_name: (.*) dma_mask=([0-9a-f]+) dev_addr=([0-9a-f]+) size=(\d+)(?: (FORCE|NORMAL|NO_FORCE))?$/i;
// drivers/nvme/host/trace.h nvme_setup_cmd:
// "nvme%d: %sqid=%d, cmdid=%u, nsid=%u, flags=0x%x, meta=0x%x, cmd=(%s %s)", %s = "disk=%s, " or "".
const NVME_SETUP =
  /^nvme(\d+): (?:disk=(.*?), )?qid=(\d+), cmdid=(\d+), nsid=(\d+), flags=(0x[0-9a-f]+), meta=(0x[0-9a-f]+), cmd=\((\S+)(?: (.*))?\)$/i;
// nvme trace.h nvme_complete_rq: "nvme%d: %sqid=%d, cmdid=%u, res=%#llx, retries=%u, flags=0x%x, status=%#x"
const NVME_COMPLETE =
  /^nvme(\d+): (?:disk=(.*?), )?qid=(\d+), cmdid=(\d+), res=(0x[0-9a-f]+|0), retries=(\d+), flags=(0x[0-9a-f]+), status=(0x[0-9a-f]+|0)$/i;
// include/trace/events/block.h block_rq: "%d,%d %s %u (%s) %llu + %u %s,%u,%u [%s]" (6.x before the
// ioprio columns: "%d,%d %s %u (%s) %llu + %u [%s]").
const BLOCK_RQ = /^(\d+,\d+) (\S+) (\d+) \((.*?)\) (\d+) \+ (\d+)(?: \S+,\d+,\d+)? \[(.*)\]$/;
// block.h block_rq_completion: "%d,%d %s (%s) %llu + %u %s,%u,%u [%d]"
const BLOCK_RQ_DONE = /^(\d+,\d+) (\S+) \((.*?)\) (\d+) \+ (\d+)(?: \S+,\d+,\d+)? \[(-?\d+)\]$/;
// block.h block_bio: "%d,%d %s %llu + %u [%s]"; block_bio_complete: "%d,%d %s %llu + %u [%d]"
const BLOCK_BIO = /^(\d+,\d+) (\S+) (\d+) \+ (\d+) \[(.*)\]$/;

function nvmeArgs(s: string | undefined): Record<string, number> {
  // nvme trace.c nvme_trace_read_write(): "slba=%llu, len=%u, ctrl=0x%x, dsmgmt=%u, reftag=%u"
  const out: Record<string, number> = {};
  if (s === undefined) return out;
  for (const part of s.split(", ")) {
    const m = /^(\w+)=(0x[0-9a-f]+|\d+)$/i.exec(part);
    if (m === null) continue;
    const v = Number(m[2]);
    if (Number.isSafeInteger(v)) out[m[1]] = v;
  }
  return out;
}

const DMA_MAP = new Set(["dma_map_phys", "dma_map_page", "dma_map_resource"]);
const DMA_UNMAP = new Set(["dma_unmap_phys", "dma_unmap_page", "dma_unmap_resource"]);
const DMA_ALLOC = new Set(["dma_alloc", "dma_alloc_pages", "dma_alloc_sgt", "dma_alloc_sgt_err"]);
const DMA_FREE = new Set(["dma_free", "dma_free_pages", "dma_free_sgt"]);
const BLOCK_RQ_NAMES = new Set([
  "block_rq_insert",
  "block_rq_issue",
  "block_rq_merge",
  "block_io_start",
  "block_io_done",
]);
const BLOCK_DONE_NAMES = new Set(["block_rq_complete", "block_rq_error"]);
const BLOCK_BIO_NAMES = new Set([
  "block_bio_queue",
  "block_bio_backmerge",
  "block_bio_frontmerge",
  "block_getrq",
  "block_bio_complete",
  "block_bio_bounce",
]);

/**
 * The typed fields of one event body.
 * @param name event name as printed on the line.
 * @param body the text after `name: `.
 * @returns the fields (kind `other` for an event this reader does not know).
 * @throws BodyError when a known event's body does not match its format.
 */
export function parseBody(name: string, body: string): Body {
  if (name === "dma_map_sg") return dmaMapSg(body);
  if (DMA_MAP.has(name)) return dmaMap(body);
  if (DMA_UNMAP.has(name)) return dmaUnmap(body);
  if (DMA_ALLOC.has(name)) return dmaAllocFree("dma_alloc", body);
  if (DMA_FREE.has(name)) return dmaAllocFree("dma_free", body);
  if (name === "dma_map_sg_err" || name === "dma_unmap_sg") return dmaSimpleSg(name, body);
  if (name === "dma_sync_single_for_cpu" || name === "dma_sync_single_for_device")
    return dmaSync("dma_sync_single", body);
  if (name === "dma_sync_sg_for_cpu" || name === "dma_sync_sg_for_device")
    return dmaSync("dma_sync_sg", body);
  if (name === "map") {
    const m = match(IOMMU_MAP, body, "iommu map");
    const iova = hexNum("iova", m[1]);
    const size = decNum("size", m[4]);
    if (hexNum("iova end", m[2]) !== iova + size) throw new BodyError("iova end is not iova + size");
    return { kind: "iommu_map", iova, paddr: hexNum("paddr", m[3]), size };
  }
  if (name === "unmap") {
    const m = match(IOMMU_UNMAP, body, "iommu unmap");
    const iova = hexNum("iova", m[1]);
    const size = decNum("size", m[3]);
    if (hexNum("iova end", m[2]) !== iova + size) throw new BodyError("iova end is not iova + size");
    return { kind: "iommu_unmap", iova, size, unmappedSize: decNum("unmapped_size", m[4]) };
  }
  if (name === "attach_device_to_domain" || name === "detach_device_from_domain") {
    return { kind: "iommu_device", device: match(IOMMU_DEVICE, body, name)[1] };
  }
  if (name === "add_device_to_group" || name === "remove_device_from_group") {
    const m = match(IOMMU_GROUP, body, name);
    return { kind: "iommu_group", groupId: decNum("groupID", m[1], true), device: m[2] };
  }
  if (name === "io_page_fault") {
    const m = match(IO_PAGE_FAULT, body, name);
    return {
      kind: "io_page_fault",
      driver: m[1],
      device: m[2],
      iova: hexNum("iova", m[3]),
      flags: hexNum("flags", m[4]),
    };
  }
  if (name === "swiotlb_bounced") {
    const m = match(SWIOTLB, body, name);
    return {
      kind: "swiotlb_bounced",
      device: m[1],
      dmaMask: hexBig("dma_mask", m[2]),
      devAddr: hexNum("dev_addr", m[3]),
      size: decNum("size", m[4]),
      force: m[5] === undefined ? undefined : m[5] === "FORCE",
    };
  }
  if (name === "nvme_setup_cmd") {
    const m = match(NVME_SETUP, body, name);
    return {
      kind: "nvme_setup_cmd",
      ctrl: decNum("ctrl", m[1]),
      disk: m[2] ?? "",
      qid: decNum("qid", m[3]),
      cmdid: decNum("cmdid", m[4]),
      nsid: decNum("nsid", m[5]),
      flags: hexNum("flags", m[6]),
      meta: hexNum("meta", m[7]),
      opcode: m[8],
      args: nvmeArgs(m[9]),
    };
  }
  if (name === "nvme_complete_rq") {
    const m = match(NVME_COMPLETE, body, name);
    return {
      kind: "nvme_complete_rq",
      ctrl: decNum("ctrl", m[1]),
      disk: m[2] ?? "",
      qid: decNum("qid", m[3]),
      cmdid: decNum("cmdid", m[4]),
      result: hexBig("res", m[5]),
      retries: decNum("retries", m[6]),
      flags: hexNum("flags", m[7]),
      status: hexNum("status", m[8]),
    };
  }
  if (BLOCK_RQ_NAMES.has(name)) {
    const m = match(BLOCK_RQ, body, "block_rq");
    const [, dev, rwbs, bytes, , sector, nr, comm] = m;
    return block(dev, rwbs, decNum("bytes", bytes), sector, nr, comm, 0);
  }
  if (BLOCK_DONE_NAMES.has(name)) {
    const m = match(BLOCK_RQ_DONE, body, "block_rq_completion");
    return block(m[1], m[2], -1, m[4], m[5], "", decNum("error", m[6], true));
  }
  if (BLOCK_BIO_NAMES.has(name)) {
    const m = match(BLOCK_BIO, body, "block_bio");
    const last = m[5];
    const isErr = name === "block_bio_complete";
    return block(m[1], m[2], -1, m[3], m[4], isErr ? "" : last, isErr ? decNum("error", last, true) : 0);
  }
  return { kind: "other", body };
}

function block(
  dev: string,
  rwbs: string,
  bytes: number,
  sector: string,
  nr: string,
  comm: string,
  error: number,
): Body {
  return {
    kind: "block",
    dev,
    rwbs,
    bytes,
    sector: decNum("sector", sector),
    nrSector: decNum("nr_sector", nr),
    comm,
    error,
  };
}
