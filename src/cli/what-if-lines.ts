/**
 * The terminal lines of the analysis's what-if section (src/analyze/what-if.ts): for the largest
 * buffers read, what today's kernel and the phyr design each do to hand them to a device.
 */

import type { MachineAnalysis } from "../analyze/index.js";
import { formatBytes } from "../core/index.js";
import { formatTable, type Paint } from "../report/index.js";

/**
 * Three small tables (VFIO, RDMA, NVMe), each under a line naming the kernel way and the design.
 * O(rows).
 * @param a the analysis (its `whatIf` rows).
 * @param paint colours.
 * @param width widest line (COLUMNS), or undefined for full width.
 * @returns the lines (none when there are no rows).
 */
export function whatIfLines(a: MachineAnalysis, paint: Paint, width: number | undefined): string[] {
  const rows = a.whatIf;
  if (rows.length === 0) return [];
  const opts = { paint, width, maxWidth: 40 };
  const n = rows.length === 1 ? "the largest buffer" : `the ${rows.length} largest buffers`;
  const out = [
    paint.bold(`What if ${n} were handed to a device (computed from the runs read)`),
    paint.dim(
      "VFIO: kernel = type1 pins page by page in 512-page batches, one iommu_map per run; design = one range pin and one map per registration",
    ),
    ...formatTable(
      [
        "buffer",
        "registrations",
        "kernel pins",
        "kernel calls",
        "kernel maps",
        "design pins",
        "design calls",
        "design maps",
      ],
      rows.map((r) => [
        r.label,
        r.registrations,
        r.vfio.kernel.pinOps,
        r.vfio.kernel.pinCalls,
        r.vfio.kernel.iommuMaps,
        r.vfio.design.pinOps,
        r.vfio.design.pinCalls,
        r.vfio.design.iommuMaps,
      ]),
      opts,
    ),
  ];
  const rdma = rows.filter((r) => r.rdma !== null);
  if (rdma.length > 0) {
    out.push(
      "",
      paint.dim(
        "RDMA: MTT entries at each registration's best page size (ib_umem_find_best_pgsz) vs at 4 KiB",
      ),
      ...formatTable(
        ["buffer", "page sizes", "MTT best", "MTT 4 KiB"],
        rdma.map((r) => [r.label, r.rdma?.bitmap ?? "", r.rdma?.entries ?? 0, r.rdma?.entries4k ?? 0]),
        opts,
      ),
    );
  }
  const nvme = rows.filter((r) => r.nvme !== null);
  if (nvme.length > 0) {
    out.push(
      "",
      paint.dim(
        "NVMe: one I/O of the buffer's first bytes; PRP = one entry per 4 KiB page, SGL = one descriptor per range",
      ),
      ...formatTable(
        ["buffer", "I/O", "PRP entries", "SGL descriptors"],
        nvme.map((r) => [
          r.label,
          formatBytes(r.nvme?.ioBytes ?? 0),
          r.nvme?.prpEntries ?? 0,
          r.nvme?.sglDescriptors ?? 0,
        ]),
        opts,
      ),
    );
  }
  return out;
}
