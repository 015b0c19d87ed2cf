/**
 * The report's trace section (`phyr report --trace FILE`): per device, what the kernel did
 * (traced) beside what the phyr design would have built for the same physical ranges (model).
 *
 * No trace text ever enters the markup: {@link traceSectionHtml} writes fixed markup and a JSON
 * data island (escaped by {@link jsonForScript}); {@link traceClient}, run in the page, reads the
 * island and builds the tables with `textContent` only. The rows are the same the terminal prints
 * ({@link traceRows}).
 */

import type { TraceDeviceSummary, TraceSummary } from "../trace/index.js";
import { jsonForScript } from "./escape.js";

/** An analysis document that may carry a trace summary (`phyr report --trace`). */
export interface WithTrace {
  trace?: TraceSummary;
}

/** `4KiB`, `2MiB`, `1GiB` for a power-of-two page size. */
function pageName(size: number): string {
  if (size >= 2 ** 30 && size % 2 ** 30 === 0) return `${size / 2 ** 30}GiB`;
  if (size >= 2 ** 20 && size % 2 ** 20 === 0) return `${size / 2 ** 20}MiB`;
  return `${size / 1024}KiB`;
}

/** Leaves as `1,536x4KiB 1x2MiB`; `-` when none. O(sizes). */
export function leavesText(leaves: readonly { size: number; count: number }[]): string {
  if (leaves.length === 0) return "-";
  return leaves.map((l) => `${l.count.toLocaleString("en-US")}x${pageName(l.size)}`).join(" ");
}

const n = (v: number) => v.toLocaleString("en-US");

/** The column titles of {@link traceRows}. */
export const TRACE_COLUMNS = ["metric", "kernel (traced)", "phyr design (model)"] as const;

/**
 * The metric rows of one device: [metric, kernel (traced), phyr design (model)]; `-` where a side
 * has no such figure. O(1).
 */
export function traceRows(d: TraceDeviceSummary): [string, string, string][] {
  const k = d.kernel;
  const g = d.design;
  const kinds = Object.entries(k.mapCalls)
    .filter(([, v]) => v > 0)
    .map(([name, v]) => `${n(v)} ${name}`)
    .join(", ");
  const io = d.iommu;
  return [
    ["DMA map calls", kinds === "" ? "0" : kinds, "-"],
    ["IOVA-API requests (no dma: event)", n(k.iovaRuns), "-"],
    ["scatterlist entries in", n(k.sgEntriesIn), "-"],
    ["DMA segments out", n(k.dmaSegmentsOut), "-"],
    ["bytes mapped (dma: events)", n(k.bytesMapped), "-"],
    ["scatterlist bytes (32 B/entry)", n(k.scatterlistBytes), "-"],
    ["range lists", "-", n(g.lists)],
    ["range-list entries", "-", n(g.rangeEntries)],
    ["range-list bytes (phyr16, 16 B/entry)", "-", n(g.rangeListBytes)],
    ["IOVA allocations", io ? n(k.iovaAllocs) : "-", io ? n(g.iovas) : "-"],
    ["iommu_map calls", io ? n(k.iommuMapCalls) : "-", io ? n(g.iommuMapCalls) : "-"],
    ["IOMMU leaves", io ? leavesText(k.leaves) : "-", io ? leavesText(g.leaves) : "-"],
    ["swiotlb bounces (bytes)", `${n(k.bounces)} (${n(k.bounceBytes)})`, "-"],
  ];
}

/** How a device's iommu maps were attributed; "" when it has none. O(1). */
export function traceAttribution(d: TraceDeviceSummary): string {
  const a = d.kernel.iommuAttributed;
  const parts: string[] = [];
  if (a.byEvent > 0) parts.push(`${n(a.byEvent)} by the dma: map event that followed them`);
  if (a.nvmeCommand > 0) parts.push(`${n(a.nvmeCommand)} by the NVMe command that preceded them`);
  if (a.onlyDevice > 0) parts.push(`${n(a.onlyDevice)} as the only IOMMU device`);
  return parts.length === 0 ? "" : `iommu:map attributed ${parts.join(", ")}`;
}

/** What the page script renders: plain strings, all untrusted. */
export interface TraceSectionData {
  message: string;
  counts: string;
  columns: readonly string[];
  devices: { title: string; rows: string[][]; attribution: string }[];
  notes: string[];
}

/** The data the page script renders, from a summary. O(devices). */
export function traceSectionData(s: TraceSummary): TraceSectionData {
  const notes = [...s.notes];
  if (s.unattributed.iommuMapCalls > 0) {
    notes.push(
      `unattributed: ${n(s.unattributed.iommuMapCalls)} iommu:map calls, ${n(s.unattributed.iommuBytes)} bytes`,
    );
  }
  if (s.devices.length > 0) {
    notes.push(
      `IOMMU leaves split with iommu_pgsize() over the ${s.pgtable} page sizes; design IOVA placement: congruent (phyr design, not the kernel).`,
    );
  }
  return {
    message: s.message,
    counts: `${n(s.events)} events, ${n(s.malformed)} malformed lines skipped, ${n(s.lost)} lost by the kernel`,
    columns: TRACE_COLUMNS,
    devices: s.devices.map((d) => ({
      title: `${d.device}${d.iommu ? " (behind an IOMMU)" : ""}`,
      rows: traceRows(d),
      attribution: traceAttribution(d),
    })),
    notes,
  };
}

/**
 * The section's fixed markup and its data island, or "" when the analysis has no trace. O(devices).
 * @param analysis the report's analysis (its `trace` member, when present, is shown).
 * @returns HTML text; no trace text is in its markup.
 */
export function traceSectionHtml(analysis: object): string {
  const trace = (analysis as WithTrace).trace;
  if (trace === undefined) return "";
  return [
    '<section id="trace" aria-labelledby="trace-h">',
    '<h2 id="trace-h">DMA trace: kernel (traced) beside the phyr design (model)</h2>',
    '<div id="trace-body"><p>This section needs JavaScript to show its tables.</p></div>',
    `<script id="phyr-trace" type="application/json">${jsonForScript(traceSectionData(trace))}</script>`,
    "</section>",
  ].join("\n");
}

/**
 * Page script (serialised with `toString()`, so self-contained): renders the `phyr-trace` island
 * into `#trace-body` with textContent only.
 */
export function traceClient(): void {
  const island = document.getElementById("phyr-trace");
  const host = document.getElementById("trace-body");
  if (island === null || host === null) return;
  const t = JSON.parse(island.textContent ?? "{}") as TraceSectionData;
  const el = (tag: string, text?: string, cls?: string): HTMLElement => {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls !== undefined) e.className = cls;
    return e;
  };
  host.replaceChildren(el("p", t.message), el("p", t.counts));
  for (const d of t.devices) {
    host.append(el("h3", d.title));
    const wrap = el("div", undefined, "scroll");
    const table = el("table");
    const head = el("tr");
    for (const c of t.columns) {
      const th = el("th", c);
      th.setAttribute("scope", "col");
      head.append(th);
    }
    const thead = el("thead");
    thead.append(head);
    const tbody = el("tbody");
    for (const r of d.rows) {
      const tr = el("tr");
      const th = el("th", r[0]);
      th.setAttribute("scope", "row");
      tr.append(th);
      for (const cell of r.slice(1)) tr.append(el("td", cell, "n"));
      tbody.append(tr);
    }
    table.append(thead, tbody);
    wrap.append(table);
    host.append(wrap);
    if (d.attribution !== "") host.append(el("p", d.attribution));
  }
  for (const note of t.notes) host.append(el("p", `note: ${note}`));
}
