/**
 * The terminal summary of a machine analysis: what the range-list design saves against today's
 * kernel for the memory that was read, in a screenful.
 */

import type { BufferAnalysis, MachineAnalysis } from "../analyze/output.js";
import { formatBytes, PAGE_SIZE } from "../core/index.js";
import { terminalSafe } from "./escape.js";
import { formatTable, type Paint, plainPaint } from "./table.js";

/** Options of {@link renderSummary}. */
export interface SummaryOptions {
  paint?: Paint;
  /** Processes listed; default 10. The rest are counted in a "... N more" line. */
  top?: number;
  /** Order of the process table: most pages (default), most runs, or by name. */
  sort?: "pages" | "runs" | "name";
  /** Widest line of every table (the terminal's COLUMNS); default unlimited. */
  width?: number;
}

/**
 * Renders the terminal summary. O(buffers log buffers).
 * @param a the analysis.
 * @param opts colour and how many processes to list.
 * @returns lines of text (untrusted names escaped).
 */
export function renderSummary(a: MachineAnalysis, opts: SummaryOptions = {}): string[] {
  const p = opts.paint ?? plainPaint;
  const out: string[] = [];
  const t = a.total;
  out.push(
    p.bold(
      `phyr — ${terminalSafe(a.host.hostname)} (${a.origin}, kernel ${terminalSafe(a.host.kernel)}, ${formatBytes(a.host.pageSize)} pages; kernel way: Linux ${a.kernelModel})`,
    ),
  );
  for (const m of a.access.messages) out.push(p.yellow(`! ${m}`));
  out.push("");
  const ram = a.physmap.systemRam;
  const pciBars = a.p2p.providers.length;
  const bus = a.p2p.cells.filter((c) => c.type === "BUS_ADDR").length;
  const thru = a.p2p.cells.filter((c) => c.type === "THRU_HOST_BRIDGE").length;
  // Without CAP_SYS_ADMIN /proc/iomem shows every address as 0 (kernel/resource.c r_show): the
  // sizes are unknown, not 1 byte per region.
  const ramText = a.access.iomem
    ? `${formatBytes(ram)} System RAM`
    : "System RAM size unknown (/proc/iomem addresses read as 0 without root)";
  out.push(`Physical map   ${ramText}, ${a.physmap.regions.length} regions`);
  out.push(
    `PCI            ${a.pci.devices.length} functions, ${pciBars} memory BARs; P2P pairs: ${bus} bus-address, ${thru} through host bridge, ${a.p2p.cells.length - bus - thru} other`,
  );
  out.push(
    `IOMMU          ${a.iommu.present ? `present (${a.iommu.units.map(terminalSafe).join(", ")})` : "none"}`,
  );
  out.push("");
  const avg = t.runs > 0 ? formatBytes(Math.round((t.pages * PAGE_SIZE) / t.runs)) : "-";
  out.push(
    p.bold(
      `Memory read    ${fmt(t.pages)} pages (${formatBytes(t.pages * PAGE_SIZE)}) in ${fmt(t.runs)} runs, average run ${avg}`,
    ),
  );
  out.push(`               from ${a.buffers.length} buffer(s)`);
  out.push("");
  const pages = t.formats.find((f) => f.name === "pages")?.bytes ?? 0;
  out.push(
    ...formatTable(
      ["representation", "bytes", "size", "vs page array"],
      t.formats.map((f) => [f.name, f.bytes, formatBytes(f.bytes), ratio(pages, f.bytes)]),
      { paint: p, align: ["left", "right", "right", "right"], width: opts.width },
    ),
  );
  out.push("");
  if (t.iommu.length > 0) {
    out.push(
      ...formatTable(
        ["IOMMU page sizes", "IOVA placement", "leaves", "by size", "tables", "IOTLB"],
        t.iommu.map((c) => [
          c.bitmap,
          c.placementLabel,
          c.leafTotal,
          c.leaves.map((l) => `${fmt(l.count)}x${formatBytes(l.size).replace(" ", "")}`).join(" "),
          c.tablePages,
          c.iotlbEntries,
        ]),
        { paint: p, width: opts.width },
      ),
    );
    out.push("");
  }
  if (t.rdma.length > 0) {
    out.push(
      ...formatTable(
        ["RDMA page sizes", "registrations", "best page per registration", "MTT entries (sum)", "at 4 KiB"],
        t.rdma.map((r) => [
          r.bitmap,
          r.registrations,
          r.bestPageSizes
            .map(
              (b) => `${fmt(b.registrations)}x${b.size > 0 ? formatBytes(b.size).replace(" ", "") : "none"}`,
            )
            .join(" "),
          r.entries,
          r.entries4k,
        ]),
        { paint: p, width: opts.width },
      ),
    );
    out.push("");
  }
  if (a.scenarios.length > 0) {
    out.push(
      ...formatTable(
        ["model scenario", "best saving", "metric", "design", "baseline"],
        a.scenarios.map((sc) => {
          const best = Object.entries(sc.ratios).sort((x, y) => y[1] - x[1])[0];
          return best
            ? [
                sc.name,
                `${best[1] >= 100 ? best[1].toFixed(0) : best[1].toFixed(2)}x`,
                best[0],
                sc.design[best[0]],
                sc.baseline[best[0]],
              ]
            : [sc.name, "-", "-", "-", "-"];
        }),
        { paint: p, align: ["left", "right", "left", "right", "right"], width: opts.width },
      ),
    );
    out.push("");
  }
  const top = sortBuffers(a.buffers, opts.sort ?? "pages").slice(0, opts.top ?? 10);
  if (top.length > 0) {
    out.push(
      ...formatTable(
        ["pid", "process", "buffer", "pages", "runs", "avg run", "page array", "phyr16"],
        top.map((b) => row(b)),
        {
          paint: p,
          align: ["right", "left", "left", "right", "right", "right", "right", "right"],
          width: opts.width,
        },
      ),
    );
    const more = a.buffers.length - top.length;
    if (more > 0) out.push(`... ${fmt(more)} more (--top N lists more)`);
  }
  return out;
}

/** Buffers in table order: most pages, most runs, or by process name then pid. O(n log n). */
function sortBuffers(bs: readonly BufferAnalysis[], by: "pages" | "runs" | "name"): BufferAnalysis[] {
  const out = [...bs];
  if (by === "name") out.sort((x, y) => (x.comm < y.comm ? -1 : x.comm > y.comm ? 1 : x.pid - y.pid));
  else if (by === "runs") out.sort((x, y) => y.runs - x.runs || x.pid - y.pid);
  else out.sort((x, y) => y.pages - x.pages || x.pid - y.pid);
  return out;
}

function row(b: BufferAnalysis): (string | number)[] {
  const bytesOf = (name: string) => b.formats.find((f) => f.name === name)?.bytes ?? 0;
  return [
    String(b.pid),
    b.comm,
    b.label,
    b.pages,
    b.runs,
    b.runs > 0 ? formatBytes(Math.round((b.pages * PAGE_SIZE) / b.runs)) : "-",
    formatBytes(bytesOf("pages")),
    formatBytes(bytesOf("phyr16")),
  ];
}

function fmt(n: number): string {
  return n.toLocaleString("en-US");
}

function ratio(base: number, v: number): string {
  if (base <= 0 || v <= 0) return "-";
  const r = base / v;
  if (r === 1) return "1.00x";
  return r >= 1 ? `${r.toFixed(r >= 100 ? 0 : 2)}x smaller` : `${(1 / r).toFixed(2)}x larger`;
}
