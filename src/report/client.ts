/**
 * The report page's script. {@link reportClientMain} runs in the browser, not in Node: the
 * generator embeds its source text (`Function.prototype.toString`) in the page, with the parts it
 * calls (charts, physical memory map, P2P heat map) passed in as functions, so each must be
 * self-contained (no imports, no outer references; helpers are nested). It reads the data island
 * `<script id="phyr-data" type="application/json">` and builds every element with `createElement`
 * + `textContent` — data never becomes markup. A buffer chooser drives every per-buffer section
 * (histograms, representations, IOMMU, RDMA/NVMe, the map's colours); the process table sorts by
 * any column. Glossary terms (rendered by the generator as `<dt id="g-...">`) are linked.
 */

import type { chartClient } from "./client-chart.js";
import type { ClientKit } from "./client-kit.js";
import type { mapClient } from "./client-map.js";
import type { mapDataClient } from "./client-map-data.js";
import type { p2pClient } from "./client-p2p.js";
import type { sectionsClient } from "./client-sections.js";

/** The page script's parts, passed to {@link reportClientMain} by the generated page. */
export interface ClientParts {
  chart: typeof chartClient;
  map: typeof mapClient;
  mapData: typeof mapDataClient;
  p2p: typeof p2pClient;
  sections: typeof sectionsClient;
}

/**
 * Renders the report into `#app` from the JSON data island. Browser only; throws (and the error
 * shows in the console) when the data island is missing or malformed.
 * @param parts the chart, map, map-data, P2P and section parts.
 */
export function reportClientMain(parts: ClientParts): void {
  // biome-ignore lint/suspicious/noExplicitAny: uPlot is a global from the inlined script, and the data is JSON
  type Any = any;
  const island = document.getElementById("phyr-data");
  const app = document.getElementById("app");
  if (!island || !app) throw new Error("phyr report: data island or #app is missing");
  const data: Any = JSON.parse(island.textContent ?? "null");

  const el = (tag: string, cls?: string, text?: string): HTMLElement => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  const bytes = (n: number): string => {
    let v = n;
    let u = 0;
    while (Math.abs(v) >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return `${u === 0 ? String(v) : v >= 100 ? v.toFixed(0) : v.toFixed(2).replace(/\.?0+$/, "")} ${units[u]}`;
  };
  const num = (n: number): string => n.toLocaleString("en-US");
  // Glossary terms the generator rendered: normalised name or alias -> element id.
  const terms = new Map<string, string>();
  const norm = (s: string) =>
    s
      .trim()
      .toLowerCase()
      .replace(/[\s_-]+/g, " ");
  for (const dt of Array.from(document.querySelectorAll("#glossary dt[id]"))) {
    terms.set(norm(dt.textContent ?? ""), dt.id);
    for (const a of (dt.getAttribute("data-aliases") ?? "").split("|")) if (a) terms.set(norm(a), dt.id);
  }
  /** Text, with a link to its glossary entry when `key` (or the text) is a glossary term. */
  const termNode = (text: string, key?: string): Node => {
    const id = terms.get(norm(key ?? text));
    if (!id) return document.createTextNode(text);
    const a = el("a", "term", text) as HTMLAnchorElement;
    a.href = `#${id}`;
    return a;
  };
  const fill = (cell: HTMLElement, c: string | number | Node) => {
    if (c instanceof Node) cell.appendChild(c);
    else cell.textContent = String(c);
  };
  const table = (
    parent: HTMLElement,
    caption: string,
    head: (string | Node)[],
    rows: (string | number | Node)[][],
    cls?: string,
  ): HTMLTableElement => {
    const wrap = el("div", "scroll");
    wrap.tabIndex = 0;
    wrap.setAttribute("role", "region");
    wrap.setAttribute("aria-label", caption);
    const t = el("table", cls) as HTMLTableElement;
    t.appendChild(el("caption", undefined, caption));
    const tr = el("tr");
    for (const h of head) {
      const th = el("th");
      th.setAttribute("scope", "col");
      fill(th, h);
      tr.appendChild(th);
    }
    const thead = el("thead");
    thead.appendChild(tr);
    t.appendChild(thead);
    const body = el("tbody");
    for (const r of rows) {
      const row = el("tr");
      r.forEach((c, i) => {
        const cell = el(i === 0 ? "th" : "td", typeof c === "number" ? "n" : undefined);
        if (i === 0) cell.setAttribute("scope", "row");
        fill(cell, typeof c === "number" ? num(c) : c);
        row.appendChild(cell);
      });
      body.appendChild(row);
    }
    t.appendChild(body);
    wrap.appendChild(t);
    parent.appendChild(wrap);
    return t;
  };
  const kit: ClientKit = {
    el,
    bytes,
    num,
    table: (p, c, h, r, cls) => table(p, c, h, r, cls),
    uPlot: (globalThis as Any).uPlot,
  };
  const charts = parts.chart(kit);
  const heat = parts.p2p(kit);
  const section = (id: string, title: string, intro: string): HTMLElement => {
    const s = el("section");
    s.id = id;
    s.setAttribute("aria-labelledby", `${id}-h`);
    const h = el("h2", undefined, title);
    h.id = `${id}-h`;
    s.appendChild(h);
    if (intro) s.appendChild(el("p", "intro", intro));
    app.appendChild(s);
    return s;
  };
  document.title = `phyr report — ${data.host.hostname}`;
  const buffers: Any[] = data.buffers;
  let selected = -1;
  const view = (): Any => (selected < 0 ? data.total : buffers[selected]);
  const viewName = (): string =>
    selected < 0 ? `all ${buffers.length} buffers` : `buffer ${buffers[selected].label}`;

  // Summary
  const sum = section("summary", "Summary", "");
  const total = data.total;
  const pagesOf = (b: Any) => b.formats.find((f: Any) => f.name === "pages");
  const bestOf = (b: Any) =>
    [...b.formats].filter((f: Any) => f.bytes > 0).sort((a: Any, c: Any) => a.bytes - c.bytes)[0];
  table(
    sum,
    "The machine and what was read",
    ["field", "value"],
    [
      ["host", data.host.hostname],
      ["kernel", data.host.kernel],
      ["source", data.origin],
      ["page size", bytes(data.host.pageSize)],
      [termNode("buffers analysed", "buffer"), num(buffers.length)],
      ["present pages", num(total.pages)],
      [termNode("physically contiguous runs", "run"), num(total.runs)],
      [
        termNode("page array (GUP output) bytes, kernel way", "pages"),
        pagesOf(total) ? bytes(pagesOf(total).bytes) : "-",
      ],
      [
        "smallest representation",
        bestOf(total) ? `${bestOf(total).name}: ${bytes(bestOf(total).bytes)}` : "-",
      ],
      ["IOMMU", data.iommu.present ? `present (${data.iommu.units.join(", ")})` : "none"],
    ],
    "kv",
  );
  for (const m of data.access.messages) sum.appendChild(el("p", "warn", m));
  if (data.completeness && data.completeness.status !== "complete") {
    const what = data.completeness.status === "empty" ? "Empty result" : "Partial result";
    for (const n of data.completeness.notes.length > 0 ? data.completeness.notes : [""])
      sum.appendChild(el("p", "warn", `${what}${n ? `: ${n}` : "."}`));
  }
  if (data.verdict && data.verdict.lines.length > 0) {
    sum.appendChild(
      el(
        "h3",
        undefined,
        `Verdict (from the runs read; the kernel way follows Linux ${data.kernelModel ?? "as modelled"})`,
      ),
    );
    const ul = el("ul", "verdict");
    for (const line of data.verdict.lines) ul.appendChild(el("li", undefined, line));
    sum.appendChild(ul);
  }

  // Buffer chooser: drives every per-buffer section.
  const chooser = el("div", "chooser");
  const chLabel = el("label", undefined, "Show ");
  chLabel.setAttribute("for", "buffer-select");
  const select = el("select") as HTMLSelectElement;
  select.id = "buffer-select";
  const optAll = el("option", undefined, `all ${buffers.length} buffers (sums)`) as HTMLOptionElement;
  optAll.value = "-1";
  select.appendChild(optAll);
  buffers.forEach((b: Any, i: number) => {
    const o = el(
      "option",
      undefined,
      `${b.label} — ${num(b.pages)} pages in ${num(b.runs)} runs`,
    ) as HTMLOptionElement;
    o.value = String(i);
    select.appendChild(o);
  });
  chooser.appendChild(chLabel);
  chooser.appendChild(select);
  chooser.appendChild(
    el("span", "hint", " in the map, histograms, representations, IOMMU and RDMA/NVMe sections"),
  );
  sum.appendChild(chooser);

  // Physical memory map
  const pm = section(
    "physmap",
    "Physical memory map",
    "The physical address space to scale (holes between regions collapsed), with the runs of every analysed buffer painted where their frames are. Zoom with the wheel, the buttons or + and -; drag or use the arrows to pan; point at a run for its process, VA, frame range, length and backing.",
  );
  const map = parts.map(kit, parts.mapData()).physMap(pm, data);
  const regDetails = el("details", "data");
  regDetails.appendChild(
    el(
      "summary",
      undefined,
      `Every region of the physical map as a table (${data.physmap.regions.length} regions)`,
    ),
  );
  table(
    regDetails,
    "Physical map regions: top-level /proc/iomem resources and their children",
    ["name", "start", "end", "size"],
    data.physmap.regions.map((r: Any) => [
      `${r.depth > 0 ? "  ".repeat(r.depth) : ""}${r.name}`,
      r.start,
      r.end,
      bytes(r.bytes),
    ]),
    "mono",
  );
  if (data.physmap.regions.length === 0)
    regDetails.appendChild(el("p", "empty", "No regions: the physical map was not readable."));
  pm.appendChild(regDetails);

  // Per-buffer sections: each has a body that is rebuilt for the chosen buffer.
  const perBuffer: { body: HTMLElement; render: (b: Any) => void }[] = [];
  const bufferSection = (
    id: string,
    title: string,
    intro: string,
    render: (body: HTMLElement, b: Any) => void,
  ) => {
    const s = section(id, title, intro);
    const shows = el("p", "shows");
    s.appendChild(shows);
    const body = el("div");
    s.appendChild(body);
    perBuffer.push({
      body,
      render: (b: Any) => {
        shows.textContent = `Showing ${viewName()}.`;
        body.textContent = "";
        render(body, b);
      },
    });
  };
  const sections = parts.sections({
    ...kit,
    data,
    chart: charts.chart,
    termNode,
    section,
    bufferSection,
    viewName,
    allBuffers: () => selected < 0,
  });

  sections.runs();

  // Process table (all buffers; sortable by any column).
  const procs = section(
    "processes",
    "Processes and buffers",
    "One row per analysed buffer. Sort by any column; choose a buffer above to see it alone.",
  );
  const cols: { name: string; key: (b: Any) => number | string; show: (b: Any) => string | number }[] = [
    { name: "pid", key: (b) => b.pid, show: (b) => b.pid },
    { name: "process", key: (b) => b.comm, show: (b) => b.comm },
    { name: "buffer", key: (b) => b.label, show: (b) => b.label },
    { name: "pages", key: (b) => b.pages, show: (b) => b.pages },
    { name: "runs", key: (b) => b.runs, show: (b) => b.runs },
    {
      name: "average run",
      key: (b) => (b.runs > 0 ? b.pages / b.runs : 0),
      show: (b) => (b.runs > 0 ? bytes((b.pages * 4096) / b.runs) : "-"),
    },
    {
      name: "page array",
      key: (b) => pagesOf(b)?.bytes ?? 0,
      show: (b) => (pagesOf(b) ? bytes(pagesOf(b).bytes) : "-"),
    },
    {
      name: "phyr16",
      key: (b) => b.formats.find((f: Any) => f.name === "phyr16")?.bytes ?? 0,
      show: (b) => bytes(b.formats.find((f: Any) => f.name === "phyr16")?.bytes ?? 0),
    },
  ];
  let sortCol = 3;
  let sortDir = -1;
  const procBox = el("div");
  procs.appendChild(procBox);
  const renderProcs = () => {
    procBox.textContent = "";
    const rows = buffers.map((b, i) => ({ b, i }));
    rows.sort((x, y) => {
      const a = cols[sortCol].key(x.b);
      const c = cols[sortCol].key(y.b);
      return (a < c ? -1 : a > c ? 1 : 0) * sortDir || x.i - y.i;
    });
    const t = table(
      procBox,
      `Analysed buffers, sorted by ${cols[sortCol].name} (${sortDir < 0 ? "descending" : "ascending"})`,
      cols.map((c) => c.name),
      rows.map((r) => [String(cols[0].show(r.b)), ...cols.slice(1).map((c) => c.show(r.b))]),
      "procs",
    );
    Array.from(t.querySelectorAll("thead th")).forEach((th, j) => {
      const label = th.textContent ?? "";
      th.textContent = "";
      const b = el("button", "sort", label) as HTMLButtonElement;
      b.type = "button";
      th.setAttribute("aria-sort", j === sortCol ? (sortDir < 0 ? "descending" : "ascending") : "none");
      b.addEventListener("click", () => {
        sortDir = j === sortCol ? -sortDir : j <= 2 ? 1 : -1;
        sortCol = j;
        renderProcs();
        (procBox.querySelectorAll("thead button")[j] as HTMLElement | undefined)?.focus();
      });
      th.appendChild(b);
    });
    if (buffers.length === 0)
      procBox.appendChild(el("p", "empty", "No buffers: no process memory was read."));
  };
  renderProcs();

  sections.formats();
  sections.iommu();
  sections.devices();

  // PCI
  const pci = section("pci", "PCI tree", "");
  const tree = el("div", "scroll");
  tree.tabIndex = 0;
  tree.setAttribute("role", "region");
  tree.setAttribute("aria-label", "PCI tree");
  tree.appendChild(el("pre", "tree", data.pci.tree.join("\n") || "No PCI devices."));
  pci.appendChild(tree);
  table(
    pci,
    "PCI functions",
    ["device", "kind", "vendor:device", "BARs", "IOMMU group"],
    data.pci.devices.map((d: Any) => [
      d.bdf,
      d.kind,
      `${d.vendor}:${d.device}`,
      d.bars.map((b: Any) => `${b.index}: ${bytes(b.bytes)}${b.prefetch ? " pf" : ""}`).join(", ") || "-",
      d.iommuGroup < 0 ? "-" : d.iommuGroup,
    ]),
  );

  // P2P
  const p2p = section(
    "p2p",
    "P2P matrix",
    "Map type and distance from every BAR provider (rows) to every DMA-capable device (columns), as drivers/pci/p2pdma.c decides it.",
  );
  for (const n of data.p2p.notes) p2p.appendChild(el("p", "note", n));
  let redrawHeat = () => {};
  if (data.p2p.providers.length === 0 || data.p2p.clients.length === 0)
    p2p.appendChild(
      el(
        "p",
        "empty",
        data.p2p.notes.length > 0 && data.pci.devices.length > 0
          ? "No data: the matrix was not computed (the note above says why)."
          : "No data: no memory BARs or no DMA-capable devices.",
      ),
    );
  else redrawHeat = heat.heatMap(p2p, data.p2p);

  sections.whatIf();
  sections.scenarios();

  const renderView = () => {
    for (const p of perBuffer) p.render(view());
    map.select(selected);
  };
  select.addEventListener("change", () => {
    selected = Number(select.value);
    renderView();
    charts.resizeAll();
  });
  renderView();
  let pending = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      charts.resizeAll();
      map.redraw();
      redrawHeat();
    });
  });
  // Printing shows every chart's data table.
  window.addEventListener("beforeprint", () => {
    for (const d of Array.from(document.querySelectorAll("details"))) d.open = true;
  });
  document.body.dataset.renderedAt = String(Math.round(performance.now()));
  document.body.dataset.rendered = "true";
}
