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
import type { p2pClient } from "./client-p2p.js";

/** The page script's parts, passed to {@link reportClientMain} by the generated page. */
export interface ClientParts {
  chart: typeof chartClient;
  map: typeof mapClient;
  p2p: typeof p2pClient;
}

/**
 * Renders the report into `#app` from the JSON data island. Browser only; throws (and the error
 * shows in the console) when the data island is missing or malformed.
 * @param parts the chart, map and P2P parts.
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
  const ratioText = (base: number, v: number): string =>
    base > 0 && v > 0
      ? base >= v
        ? `${(base / v).toFixed(2)}x smaller`
        : `${(v / base).toFixed(2)}x larger`
      : "-";

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
  const map = parts.map(kit).physMap(pm, data);
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

  bufferSection(
    "runs",
    "Run lengths",
    "Physically contiguous runs by length (bucket k: runs of 2^k to 2^(k+1)-1 pages).",
    (body, b) => {
      const h = b.histogram;
      const orders = h.runs.map((_: number, i: number) => i);
      const names = orders.map((o: number) =>
        o === 0 ? "4 KiB" : `${bytes(4096 * 2 ** o)}–${bytes(4096 * (2 ** (o + 1) - 1))}`,
      );
      charts.chart(body, {
        id: "chart-runs-bytes",
        caption: `Bytes of memory in runs of each length, ${viewName()}`,
        categories: names,
        series: [{ label: "bytes in runs", values: orders.map((o: number) => h.bytes[o] ?? 0) }],
        unit: "bytes",
        scale: "log",
        empty: "no present pages with frame numbers in this selection",
      });
      charts.chart(body, {
        id: "chart-runs-count",
        caption: `Number of runs of each length, ${viewName()}`,
        categories: names,
        series: [{ label: "runs", values: orders.map((o: number) => h.runs[o] ?? 0) }],
        unit: "count",
        noun: "runs",
        scale: "log",
        empty: "no runs in this selection",
      });
    },
  );

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

  bufferSection(
    "formats",
    "Representation comparison",
    "Bytes each representation needs for the same pages. pages (the struct page array), scatterlist and biovec are the kernel way; phyr16, compact and packed are the phyr design.",
    (body, b) => {
      const base = pagesOf(b)?.bytes ?? 0;
      charts.chart(body, {
        id: "chart-formats",
        caption: `Bytes of each representation, ${viewName()}`,
        categories: b.formats.map((f: Any) => f.name),
        series: [{ label: "bytes", values: b.formats.map((f: Any) => f.bytes) }],
        unit: "bytes",
        scale: "log",
        empty: "no pages in this selection, so every representation is empty",
      });
      charts.chart(body, {
        id: "chart-formats-ratio",
        caption: `Each representation against the page array (page array bytes / its bytes), ${viewName()}`,
        categories: b.formats.map((f: Any) => f.name),
        series: [
          {
            label: "vs page array",
            values: b.formats.map((f: Any) => (base > 0 && f.bytes > 0 ? base / f.bytes : null)),
          },
        ],
        unit: "ratio",
        scale: "log",
        empty: "no page array to compare against in this selection",
      });
      table(
        body,
        `Representation sizes, ${viewName()}`,
        ["format", "bytes", "vs page array"],
        b.formats.map((f: Any) => [termNode(f.name), bytes(f.bytes), ratioText(base, f.bytes)]),
        "formats",
      );
    },
  );

  bufferSection(
    "iommu",
    "IOMMU leaves by size",
    data.iommu.present
      ? `IOMMU present: ${data.iommu.units.join(", ")}; ${data.iommu.groups} groups. Leaves are what mapping each buffer through it takes.`
      : "No IOMMU on this machine; the counts are what mapping through one would take (model).",
    (body, b) => {
      const kern = b.iommu.filter((c: Any) => c.placement === "kernel");
      const cong = (c: Any) => b.iommu.find((d: Any) => d.bitmap === c.bitmap && d.placement === "congruent");
      charts.chart(body, {
        id: "chart-iommu",
        caption: `IOMMU leaf entries per page-size set: kernel size-aligned IOVA against phyr's congruent IOVA, ${viewName()}`,
        categories: kern.map((c: Any) => c.bitmap),
        series: [
          { label: "kernel way: size-aligned IOVA", values: kern.map((c: Any) => c.leafTotal) },
          { label: "phyr design: congruent IOVA", values: kern.map((c: Any) => cong(c)?.leafTotal ?? null) },
        ],
        unit: "count",
        noun: "leaves",
        scale: "log",
        empty: "no pages to map in this selection",
      });
      const first = kern[0];
      const c2 = first ? cong(first) : undefined;
      const sizes = first
        ? [...new Set([...first.leaves, ...(c2?.leaves ?? [])].map((l: Any) => l.size as number))].sort(
            (x, y) => x - y,
          )
        : [];
      const countOf = (c: Any, size: number) => c?.leaves.find((l: Any) => l.size === size)?.count ?? 0;
      charts.chart(body, {
        id: "chart-iommu-sizes",
        caption: `Leaves by page size${first ? `, ${first.bitmap}` : ""}, ${viewName()}`,
        categories: sizes.map((z) => `${bytes(z)} leaves`),
        series: [
          { label: "kernel way: size-aligned IOVA", values: sizes.map((z) => countOf(first, z)) },
          { label: "phyr design: congruent IOVA", values: sizes.map((z) => countOf(c2, z)) },
        ],
        unit: "count",
        noun: "leaves",
        scale: "log",
        empty: "no leaves in this selection",
      });
      table(
        body,
        `IOMMU cost by page-size set and IOVA placement, ${viewName()}`,
        [
          "page sizes",
          termNode("IOVA placement", "kernel iova"),
          termNode("leaves by size", "leaves"),
          termNode("table pages", "tables"),
          termNode("IOTLB entries", "iotlb"),
        ],
        b.iommu.map((c: Any) => [
          c.bitmap,
          termNode(
            c.placement === "kernel" ? "kernel (size-aligned)" : "congruent (phyr design)",
            c.placement === "kernel" ? "kernel iova" : "congruent",
          ),
          c.leaves.map((l: Any) => `${bytes(l.size)}: ${num(l.count)}`).join(", ") || "-",
          c.tablePages,
          c.iotlbEntries,
        ]),
      );
    },
  );

  bufferSection(
    "devices",
    "RDMA and NVMe",
    "Translation entries for one RDMA memory registration, and descriptors for one NVMe I/O.",
    (body, b) => {
      table(
        body,
        `RDMA memory registration, ${viewName()}`,
        ["RDMA page sizes", "best page", termNode("MTT entries", "mtt"), "MTT entries at 4 KiB"],
        b.rdma.map((r: Any) => [r.bitmap, r.pageSize > 0 ? bytes(r.pageSize) : "-", r.entries, r.entries4k]),
      );
      if (b.rdma.length === 0)
        body.appendChild(el("p", "empty", "No data: no RDMA registration for this selection."));
      const nv = (selected < 0 ? buffers : [b]).filter((x: Any) => x.nvme);
      table(
        body,
        `NVMe descriptors for one I/O of each buffer's first bytes, ${viewName()}`,
        [
          "buffer",
          "I/O",
          termNode("PRP entries", "prp"),
          "PRP list bytes",
          termNode("SGL descriptors", "sgl"),
          "SGL bytes",
        ],
        nv
          .slice(0, 200)
          .map((x: Any) => [
            x.label,
            bytes(x.nvme.ioBytes),
            x.nvme.prpEntries,
            x.nvme.prpListBytes,
            x.nvme.sglDescriptors,
            x.nvme.sglBytes,
          ]),
      );
      if (nv.length === 0)
        body.appendChild(el("p", "empty", "No data: no buffer with present pages in this selection."));
      else if (nv.length > 200)
        body.appendChild(el("p", "note", `The first 200 of ${nv.length} buffers are listed.`));
    },
  );

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

  // What if: the largest buffers read, kernel way against the design, from their own runs.
  const wi = section(
    "whatif",
    "What if these buffers were handed to a device",
    "For the largest buffers read, computed from their own runs: pinning and mapping them for VFIO, registering them for RDMA and one NVMe I/O, the kernel way next to the phyr design.",
  );
  const rowsWi: Any[] = data.whatIf ?? [];
  if (rowsWi.length === 0)
    wi.appendChild(el("p", "empty", "No data: no buffer with present pages was read."));
  else {
    charts.chart(wi, {
      id: "chart-whatif",
      caption:
        "VFIO pin operations per buffer: kernel way (one per page) against the phyr design (one per run)",
      categories: rowsWi.map((r) => r.label),
      series: [
        { label: "kernel way: pages pinned one by one", values: rowsWi.map((r) => r.vfio.kernel.pinOps) },
        { label: "phyr design: range pins", values: rowsWi.map((r) => r.vfio.design.pinOps) },
      ],
      unit: "count",
      noun: "pin operations",
      scale: "log",
      empty: "no pin operations",
    });
    table(
      wi,
      "Kernel way against the phyr design for the largest buffers read",
      [
        termNode("buffer", "buffer"),
        "registrations",
        termNode("VFIO pin ops, kernel / design", "pin ops"),
        "pin calls, kernel / design",
        "iommu_map calls, kernel / design",
        termNode("RDMA MTT entries, best page / 4 KiB", "mtt"),
        termNode("NVMe PRP entries / SGL descriptors", "prp"),
      ],
      rowsWi.map((r) => [
        r.label,
        r.registrations,
        `${num(r.vfio.kernel.pinOps)} / ${num(r.vfio.design.pinOps)}`,
        `${num(r.vfio.kernel.pinCalls)} / ${num(r.vfio.design.pinCalls)}`,
        `${num(r.vfio.kernel.iommuMaps)} / ${num(r.vfio.design.iommuMaps)}`,
        r.rdma ? `${num(r.rdma.entries)} / ${num(r.rdma.entries4k)}` : "-",
        r.nvme ? `${num(r.nvme.prpEntries)} / ${num(r.nvme.sglDescriptors)}` : "-",
      ]),
    );
  }

  // Scenarios
  const sc = section(
    "scenarios",
    "Scenario results",
    "Simulated consumers on the model machine: the phyr design against today's kernel way on the same workload. Ratio = kernel way / design: right of 1x the design needs less, left of 1x (red) it needs more.",
  );
  if (data.scenarios.length === 0)
    sc.appendChild(el("p", "empty", "No data: no scenarios were run for this report."));
  else {
    const cats: string[] = [];
    const vals: number[] = [];
    const rows: (string | number)[][] = [];
    for (const s of data.scenarios)
      for (const [key, v] of Object.entries(s.ratios)) {
        cats.push(`${s.name}: ${key}`);
        vals.push(Number(v));
        rows.push([s.name, key, s.design[key] ?? 0, s.baseline[key] ?? 0, `${Number(v).toFixed(2)}x`]);
      }
    charts.chart(sc, {
      id: "chart-scenarios",
      caption: "Every scenario metric: kernel way / phyr design",
      categories: cats,
      series: [{ label: "kernel way / design", values: vals }],
      unit: "ratio",
      scale: "log",
      empty: "no scenario metric",
    });
    table(
      sc,
      "Scenario metrics: phyr design against the kernel way",
      ["scenario", "metric", "design", "kernel way (baseline)", "ratio"],
      rows,
    );
    for (const s of data.scenarios)
      for (const n of s.notes) sc.appendChild(el("p", "note", `${s.name}: ${n}`));
  }

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
