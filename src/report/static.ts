/**
 * The parts of the report page written into the file itself (no script needed): the header
 * (machine, mode, time), the table of contents, the glossary, and a `<noscript>` copy of the
 * summary and the main tables for readers with JavaScript off. Every string from the analysis
 * is escaped (`&`, `<`, `>`, quotes, U+2028/U+2029 as character references) and so stays text.
 */

import { GLOSSARY, type MachineAnalysis } from "../analyze/index.js";
import { htmlText } from "./escape.js";

/** Untrusted text for an HTML text node or attribute: {@link htmlText} plus U+2028/U+2029 as references. */
const text = (s: string): string => htmlText(s).replace(/[\u2028\u2029]/g, (c) => `&#${c.charCodeAt(0)};`);

/** Section ids and titles, in page order (the client renders sections with these ids). */
export const REPORT_SECTIONS: readonly (readonly [string, string])[] = [
  ["summary", "Summary"],
  ["physmap", "Physical memory map"],
  ["runs", "Run lengths"],
  ["processes", "Processes and buffers"],
  ["formats", "Representations"],
  ["iommu", "IOMMU"],
  ["devices", "RDMA and NVMe"],
  ["pci", "PCI tree"],
  ["p2p", "P2P matrix"],
  ["whatif", "What if"],
  ["scenarios", "Scenarios"],
  ["glossary", "Glossary"],
];

/** What each origin means, in the header (fixed text, never built from the analysis). */
const MODES: Readonly<Record<string, [string, string]>> = {
  live: ["live", "measured on this machine: frame numbers read from /proc and /sys when the report was made"],
  snapshot: [
    "snapshot",
    "read from a snapshot file captured earlier with phyr capture (not this machine now)",
  ],
  reference: ["reference", "phyr's simulated reference machine: a model, not the computer phyr ran on"],
};

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** Bytes in binary units, as the page script prints them. O(1). */
export function bytesText(n: number): string {
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? String(v) : v >= 100 ? v.toFixed(0) : v.toFixed(2).replace(/\.?0+$/, "")} ${UNITS[u]}`;
}

const num = (n: number): string => n.toLocaleString("en-US");

/** A glossary anchor id for a term. */
export function glossaryId(term: string): string {
  return `g-${term
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")}`;
}

/**
 * The page header: heading, which machine, the mode and when the report was made. O(1).
 * @param a the analysis.
 * @param when when the report was made.
 * @returns HTML text.
 */
export function headerHtml(a: MachineAnalysis, when: Date): string {
  const [mode, meaning] = Object.hasOwn(MODES, a.origin) ? MODES[a.origin] : MODES.live;
  return [
    "<header>",
    `<h1>phyr report: ${text(a.host.hostname)}</h1>`,
    `<p class="meta"><span class="mode">Mode: ${mode}</span> — ${meaning}.</p>`,
    `<p class="meta">Kernel ${text(a.host.kernel)}, ${bytesText(a.host.pageSize)} pages. Report made <time datetime="${when.toISOString()}">${when.toISOString().replace("T", " ").slice(0, 19)} UTC</time>.</p>`,
    '<nav class="toc" aria-label="Contents"><ol>',
    ...REPORT_SECTIONS.map(([id, title]) => `<li><a href="#${id}">${title}</a></li>`),
    "</ol></nav>",
    "</header>",
  ].join("\n");
}

/**
 * The glossary of `phyr explain` as a definition list (`<dt id="g-...">` per term, aliases in
 * `data-aliases` for the page script's term links). O(entries).
 * @returns HTML text.
 */
export function glossaryHtml(): string {
  const items = GLOSSARY.map(
    (e) =>
      `<dt id="${glossaryId(e.term)}" data-aliases="${text(e.aliases.join("|"))}">${text(e.term)}</dt><dd>${text(e.text)} <span class="src">Source: ${text(e.source)}</span></dd>`,
  );
  return [
    '<section id="glossary" aria-labelledby="glossary-h">',
    '<h2 id="glossary-h">Glossary</h2>',
    '<p class="intro">Every term the report uses, with the kernel source it comes from (the same text as <code>phyr explain</code>).</p>',
    `<dl>${items.join("\n")}</dl>`,
    "</section>",
  ].join("\n");
}

function tableHtml(caption: string, head: string[], rows: (string | number)[][]): string {
  const cell = (c: string | number, i: number) =>
    i === 0
      ? `<th scope="row">${text(String(c))}</th>`
      : typeof c === "number"
        ? `<td class="n">${num(c)}</td>`
        : `<td>${text(c)}</td>`;
  return [
    `<div class="scroll"><table><caption>${text(caption)}</caption>`,
    `<thead><tr>${head.map((h) => `<th scope="col">${text(h)}</th>`).join("")}</tr></thead>`,
    `<tbody>${rows.map((r) => `<tr>${r.map(cell).join("")}</tr>`).join("\n")}</tbody>`,
    "</table></div>",
  ].join("\n");
}

/**
 * The summary and main tables for readers without JavaScript, inside `<noscript>`. O(buffers +
 * formats + IOMMU configurations + scenario metrics).
 * @param a the analysis.
 * @returns HTML text.
 */
export function noscriptHtml(a: MachineAnalysis): string {
  const t = a.total;
  const pages = t.formats.find((f) => f.name === "pages")?.bytes ?? 0;
  const vs = (b: number) =>
    pages > 0 && b > 0
      ? pages >= b
        ? `${(pages / b).toFixed(2)}x smaller`
        : `${(b / pages).toFixed(2)}x larger`
      : "-";
  const parts = [
    "<noscript>",
    '<p class="warn">JavaScript is off: the summary and tables follow; the map and charts need the page script.</p>',
    '<section id="summary"><h2>Summary</h2>',
    tableHtml(
      "The machine and what was read",
      ["field", "value"],
      [
        ["host", a.host.hostname],
        ["kernel", a.host.kernel],
        ["source", a.origin],
        ["buffers analysed", a.buffers.length],
        ["present pages", t.pages],
        ["physically contiguous runs", t.runs],
        ["IOMMU", a.iommu.present ? `present (${a.iommu.units.join(", ")})` : "none"],
      ],
    ),
    ...a.access.messages.map((m) => `<p class="warn">${text(m)}</p>`),
    "</section>",
    '<section id="processes"><h2>Processes and buffers</h2>',
    tableHtml(
      "Analysed buffers",
      ["pid", "process", "buffer", "pages", "runs"],
      a.buffers.map((b) => [String(b.pid), b.comm, b.label, b.pages, b.runs]),
    ),
    "</section>",
    '<section id="formats"><h2>Representations (all buffers)</h2>',
    tableHtml(
      "Representation sizes, all buffers",
      ["format", "bytes", "vs page array"],
      t.formats.map((f) => [f.name, f.bytes, vs(f.bytes)]),
    ),
    "</section>",
    '<section id="iommu"><h2>IOMMU (all buffers)</h2>',
    tableHtml(
      "IOMMU cost by page-size set and IOVA placement",
      ["page sizes", "IOVA placement", "leaves", "table pages", "IOTLB entries"],
      t.iommu.map((c) => [c.bitmap, c.placement, c.leafTotal, c.tablePages, c.iotlbEntries]),
    ),
    "</section>",
    '<section id="scenarios"><h2>Scenarios</h2>',
    a.scenarios.length === 0
      ? '<p class="empty">No data: no scenarios were run for this report.</p>'
      : tableHtml(
          "Scenario metrics: phyr design against the kernel way",
          ["scenario", "metric", "design", "kernel way", "ratio"],
          a.scenarios.flatMap((s) =>
            Object.entries(s.ratios).map(([k, r]) => [
              s.name,
              k,
              s.design[k] ?? 0,
              s.baseline[k] ?? 0,
              `${r.toFixed(2)}x`,
            ]),
          ),
        ),
    "</section>",
    "</noscript>",
  ];
  return parts.join("\n");
}
