/**
 * Counts of a lab record's trace, for the one-screen summary of `npm run lab`: block requests
 * issued, DMA API map calls, IOMMU map calls by size, bounces. These are what the guest kernel
 * did (traced), not a model. O(trace lines).
 */
import type { LabRecord } from "./record.js";

/** Traced counts of one lab run. */
export interface TraceCounts {
  /** block:block_rq_issue events of the NVMe disk with data (R or W). */
  requests: number;
  /** dma:dma_map_sg events. */
  dmaMapSg: number;
  /** dma:dma_map_phys / dma_map_page events. */
  dmaMapSingle: number;
  /** iommu:map events by size in bytes. */
  iommuMapBySize: Map<number, number>;
  /** swiotlb:swiotlb_bounced events. */
  bounces: number;
  /** Workload op markers found (begin and end pairs). */
  markers: number;
}

/** Counts the traced events of a record. */
export function countTrace(r: LabRecord): TraceCounts {
  const c: TraceCounts = {
    requests: 0,
    dmaMapSg: 0,
    dmaMapSingle: 0,
    iommuMapBySize: new Map(),
    bounces: 0,
    markers: 0,
  };
  for (const line of r.trace.split("\n")) {
    const m = line.match(/:\s+(\w+):\s(.*)$/);
    if (!m) continue;
    const [, event, body] = m;
    if (event === "block_rq_issue" && /^\d+,\d+\s+[A-Z]*[RW]/.test(body)) c.requests++;
    else if (event === "dma_map_sg") c.dmaMapSg++;
    else if (event === "dma_map_phys" || event === "dma_map_page") c.dmaMapSingle++;
    else if (event === "map") {
      const size = Number(body.match(/size=(\d+)/)?.[1]);
      if (Number.isFinite(size)) c.iommuMapBySize.set(size, (c.iommuMapBySize.get(size) ?? 0) + 1);
    } else if (event === "swiotlb_bounced") c.bounces++;
    else if (event === "tracing_mark_write" && /phyr-lab op \d+ end/.test(body)) c.markers++;
  }
  return c;
}

/** "512x4 KiB, 8x128 KiB" for a size histogram, smallest size first; "none" when empty. */
export function formatSizes(bySize: Map<number, number>): string {
  if (bySize.size === 0) return "none";
  return [...bySize.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([size, n]) => `${n}x${formatBytes(size)}`)
    .join(", ");
}

/** Bytes as B / KiB / MiB / GiB when exact, else bytes. */
export function formatBytes(n: number): string {
  for (const [unit, shift] of [
    ["GiB", 30],
    ["MiB", 20],
    ["KiB", 10],
  ] as const) {
    if (n >= 2 ** shift && n % 2 ** shift === 0) return `${n / 2 ** shift} ${unit}`;
  }
  return `${n} B`;
}

/** One NVMe I/O command as QEMU's controller read it. */
export interface DeviceCommand {
  dir: "read" | "write" | "other";
  /** How the data pointer was read: PRP entries or an SGL; null when no map line followed. */
  pointer: "prp" | "sgl" | null;
  /** Bytes the command moves. */
  bytes: number;
}

/** The I/O commands of a record's QEMU device trace (pci_nvme_io_cmd + pci_nvme_map_*). O(lines). */
export function deviceCommands(r: LabRecord): DeviceCommand[] {
  const out: DeviceCommand[] = [];
  for (const line of (r.deviceTrace ?? "").split("\n")) {
    const cmd = line.match(/^pci_nvme_io_cmd .* opname 'NVME_NVM_CMD_(\w+)'/);
    if (cmd) {
      out.push({
        dir: cmd[1] === "READ" ? "read" : cmd[1] === "WRITE" ? "write" : "other",
        pointer: null,
        bytes: 0,
      });
      continue;
    }
    const last = out[out.length - 1];
    const prp = line.match(/^pci_nvme_map_prp trans_len \d+ len (\d+) /);
    const sgl = line.match(/^pci_nvme_map_sgl type 0x[0-9a-f]+ len (\d+)/);
    if (last && last.pointer === null && (prp || sgl)) {
      last.pointer = prp ? "prp" : "sgl";
      last.bytes = Number((prp ?? sgl)?.[1]);
    }
  }
  return out;
}
