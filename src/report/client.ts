/**
 * The report page's script. {@link reportClientMain} runs in the browser, not in Node: the
 * generator embeds its source text (`Function.prototype.toString`) in the page, so it must be
 * self-contained (no imports, no outer references; helpers are nested). It reads the data island
 * `<script id="phyr-data" type="application/json">`, and builds every element with
 * `createElement` + `textContent` — data never becomes markup. Charts use the inlined uPlot.
 */

/**
 * Renders the report into `#app` from the JSON data island. Browser only; throws (and the error
 * shows on the page and in the console) when the data island is missing or malformed.
 */
export function reportClientMain(): void {
  // biome-ignore lint/suspicious/noExplicitAny: uPlot is a global from the inlined script, and the data is JSON
  type Any = any;
  const uPlot: Any = (globalThis as Any).uPlot;
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
  const section = (id: string, title: string, intro: string): HTMLElement => {
    const s = el("section");
    s.id = id;
    s.appendChild(el("h2", undefined, title));
    if (intro) s.appendChild(el("p", "intro", intro));
    app.appendChild(s);
    return s;
  };
  const table = (
    parent: HTMLElement,
    head: string[],
    rows: (string | number)[][],
    cls?: string,
  ): HTMLElement => {
    const t = el("table", cls);
    const tr = el("tr");
    for (const h of head) tr.appendChild(el("th", undefined, h));
    const thead = el("thead");
    thead.appendChild(tr);
    t.appendChild(thead);
    const body = el("tbody");
    for (const r of rows) {
      const row = el("tr");
      for (const c of r) row.appendChild(el("td", typeof c === "number" ? "n" : undefined, String(c)));
      body.appendChild(row);
    }
    t.appendChild(body);
    parent.appendChild(t);
    return t;
  };
  const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
  /** A categorical bar chart: one bar group per label, one series per entry of `series`. */
  const barChart = (
    parent: HTMLElement,
    id: string,
    labels: string[],
    series: { label: string; values: number[] }[],
    opts: { log?: boolean; unit?: (v: number) => string },
  ): void => {
    const box = el("div", "chart");
    box.id = id;
    parent.appendChild(box);
    const n = labels.length;
    const xs = labels.map((_, i) => i);
    const fmt = opts.unit ?? ((v: number) => num(v));
    const log = opts.log === true;
    const k = series.length;
    const plot = new uPlot(
      {
        width: Math.max(
          480,
          Math.min(1100, n * Math.max(90, 8 * Math.max(0, ...labels.map((l) => l.length))) + 160),
        ),
        height: 300,
        legend: { show: true },
        cursor: { show: true, points: { show: false } },
        scales: {
          x: { time: false, range: [-0.6, n - 0.4] },
          y: log
            ? { distr: 3, log: 10 }
            : { range: (_u: Any, _lo: number, hi: number) => [0, hi > 0 ? hi * 1.08 : 1] },
        },
        axes: [
          {
            splits: () => xs,
            values: (_u: Any, splits: number[]) => splits.map((i) => labels[i] ?? ""),
            size: 60,
            rotate: n > 6 ? -30 : 0,
            gap: 4,
          },
          {
            values: (_u: Any, splits: (number | null)[]) => splits.map((v) => (v === null ? "" : fmt(v))),
            size: 80,
            space: 24,
          },
        ],
        series: [
          {},
          ...series.map((s, j) => ({
            label: s.label,
            stroke: palette[j % palette.length],
            fill: `${palette[j % palette.length]}cc`,
            width: 1,
            points: { show: false },
            value: (_u: Any, v: number | null) => (v === null ? "-" : fmt(v)),
            paths: uPlot.paths.bars({ size: [0.8 / k, 80], align: k === 1 ? 0 : j === 0 ? -1 : 1 }),
          })),
        ],
      },
      [xs, ...series.map((s) => s.values.map((v) => (log ? Math.max(1, v) : v)))],
      box,
    );
    box.dataset.points = String(n * k);
    void plot;
  };

  document.title = `phyr report — ${data.host.hostname}`;
  const total = data.total;
  const pagesFmt = total.formats.find((f: Any) => f.name === "pages");
  const best = [...total.formats].sort((a: Any, b: Any) => a.bytes - b.bytes)[0];

  // Summary
  const sum = section("summary", "Summary", "");
  table(
    sum,
    ["field", "value"],
    [
      ["host", data.host.hostname],
      ["kernel", data.host.kernel],
      ["source", data.origin],
      ["page size", bytes(data.host.pageSize)],
      ["buffers analysed", data.buffers.length],
      ["present pages", num(total.pages)],
      ["physically contiguous runs", num(total.runs)],
      ["page array (GUP output) bytes", pagesFmt ? bytes(pagesFmt.bytes) : "-"],
      ["smallest representation", best ? `${best.name}: ${bytes(best.bytes)}` : "-"],
      ["IOMMU", data.iommu.present ? `present (${data.iommu.units.join(", ")})` : "none"],
    ],
    "kv",
  );
  for (const m of data.access.messages) sum.appendChild(el("p", "warn", m));

  // Physical map
  const pm = section(
    "physmap",
    "Physical map",
    "Top-level /proc/iomem resources by size, then every region down to depth 1.",
  );
  const totals = data.physmap.totals.slice(0, 12);
  if (totals.length > 0) {
    barChart(
      pm,
      "chart-physmap",
      totals.map((t: Any) => t.name),
      [{ label: "bytes", values: totals.map((t: Any) => t.bytes) }],
      { log: true, unit: bytes },
    );
  } else pm.appendChild(el("p", "empty", "no physical map available"));
  table(
    pm,
    ["start", "end", "size", "name"],
    data.physmap.regions.map((r: Any) => [
      r.start,
      r.end,
      bytes(r.bytes),
      `${r.depth > 0 ? "  ".repeat(r.depth) : ""}${r.name}`,
    ]),
    "mono",
  );

  // Run lengths
  const rl = section(
    "runs",
    "Run-length histogram",
    "Bytes of present memory in physically contiguous runs of each length (all buffers).",
  );
  const hist = total.histogram;
  const last = Math.max(
    0,
    hist.bytes.reduce((acc: number, b: number, i: number) => (b > 0 ? i : acc), 0),
  );
  const orders = Array.from({ length: last + 1 }, (_, i) => i);
  barChart(
    rl,
    "chart-runs",
    orders.map((o) => bytes(4096 * 2 ** o)),
    [
      { label: "bytes in runs", values: orders.map((o) => hist.bytes[o] ?? 0) },
      { label: "runs", values: orders.map((o) => hist.runs[o] ?? 0) },
    ],
    { log: true },
  );
  const procRows = data.buffers.map((b: Any) => [
    b.pid,
    b.comm,
    b.label,
    num(b.pages),
    num(b.runs),
    b.runs > 0 ? bytes((b.pages * 4096) / b.runs) : "-",
  ]);
  table(rl, ["pid", "process", "buffer", "pages", "runs", "average run"], procRows, "procs");

  // Representations
  const rp = section(
    "formats",
    "Representation comparison",
    "Bytes each representation needs for the same pages (all buffers).",
  );
  barChart(
    rp,
    "chart-formats",
    total.formats.map((f: Any) => f.name),
    [{ label: "bytes", values: total.formats.map((f: Any) => f.bytes) }],
    { log: true, unit: bytes },
  );
  table(
    rp,
    ["format", "bytes", "vs page array"],
    total.formats.map((f: Any) => [
      f.name,
      bytes(f.bytes),
      pagesFmt && f.bytes > 0 && pagesFmt.bytes > 0
        ? pagesFmt.bytes >= f.bytes
          ? `${(pagesFmt.bytes / f.bytes).toFixed(2)}x smaller`
          : `${(f.bytes / pagesFmt.bytes).toFixed(2)}x larger`
        : "-",
    ]),
    "formats",
  );

  // IOMMU
  const io = section(
    "iommu",
    "IOMMU leaves by size",
    data.iommu.present
      ? `IOMMU present: ${data.iommu.units.join(", ")}; ${data.iommu.groups} groups.`
      : "No IOMMU on this machine; costs below are what mapping through one would take.",
  );
  const cfg = total.iommu.filter((c: Any) => c.placement === "kernel");
  barChart(
    io,
    "chart-iommu",
    cfg.map((c: Any) => c.bitmap),
    [
      { label: "leaves, kernel IOVA", values: cfg.map((c: Any) => c.leafTotal) },
      {
        label: "leaves, congruent IOVA",
        values: cfg.map(
          (c: Any) =>
            total.iommu.find((d: Any) => d.bitmap === c.bitmap && d.placement === "congruent")?.leafTotal ??
            0,
        ),
      },
    ],
    { log: true },
  );
  // Leaves by size for the first configuration (x86-64 4K|2M|1G): kernel vs congruent IOVA.
  const first = cfg[0];
  if (first) {
    const cong = total.iommu.find((d: Any) => d.bitmap === first.bitmap && d.placement === "congruent");
    const sizes = [
      ...new Set([...first.leaves, ...(cong?.leaves ?? [])].map((l: Any) => l.size as number)),
    ].sort((a, b) => a - b);
    const countOf = (c: Any, size: number) => c?.leaves.find((l: Any) => l.size === size)?.count ?? 0;
    io.appendChild(el("p", "intro", `Leaves by size, ${first.bitmap}:`));
    barChart(
      io,
      "chart-iommu-sizes",
      sizes.map((z) => bytes(z)),
      [
        { label: "kernel IOVA", values: sizes.map((z) => countOf(first, z)) },
        { label: "congruent IOVA", values: sizes.map((z) => countOf(cong, z)) },
      ],
      { log: true },
    );
  }
  table(
    io,
    ["page sizes", "IOVA placement", "leaves by size", "table pages", "IOTLB entries"],
    total.iommu.map((c: Any) => [
      c.bitmap,
      c.placement,
      c.leaves.map((l: Any) => `${bytes(l.size)}: ${num(l.count)}`).join(", ") || "-",
      num(c.tablePages),
      num(c.iotlbEntries),
    ]),
  );
  const dev = section(
    "devices",
    "RDMA and NVMe",
    "Translation entries for a memory registration, and descriptors for one NVMe I/O (all buffers).",
  );
  table(
    dev,
    ["RDMA page sizes", "best page", "MTT entries", "at 4 KiB"],
    total.rdma.map((r: Any) => [
      r.bitmap,
      r.pageSize > 0 ? bytes(r.pageSize) : "-",
      num(r.entries),
      num(r.entries4k),
    ]),
  );
  const nv = data.buffers.filter((b: Any) => b.nvme).slice(0, 50);
  table(
    dev,
    ["buffer", "I/O", "PRP entries", "PRP list bytes", "SGL descriptors", "SGL bytes"],
    nv.map((b: Any) => [
      b.label,
      bytes(b.nvme.ioBytes),
      num(b.nvme.prpEntries),
      num(b.nvme.prpListBytes),
      num(b.nvme.sglDescriptors),
      num(b.nvme.sglBytes),
    ]),
  );

  // PCI
  const pci = section("pci", "PCI tree", "");
  pci.appendChild(el("pre", "tree", data.pci.tree.join("\n") || "no PCI devices"));
  table(
    pci,
    ["device", "kind", "vendor:device", "BARs", "IOMMU group"],
    data.pci.devices.map((d: Any) => [
      d.bdf,
      d.kind,
      `${d.vendor}:${d.device}`,
      d.bars.map((b: Any) => `${b.index}: ${bytes(b.bytes)}${b.prefetch ? " pf" : ""}`).join(", "),
      d.iommuGroup,
    ]),
  );

  // P2P
  const p2p = section(
    "p2p",
    "P2P matrix",
    "Map type (and distance) from every BAR provider to every DMA-capable device, as drivers/pci/p2pdma.c decides it.",
  );
  for (const n of data.p2p.notes) p2p.appendChild(el("p", "note", n));
  if (data.p2p.providers.length === 0 || data.p2p.clients.length === 0)
    p2p.appendChild(el("p", "empty", "no memory BARs or no DMA-capable devices"));
  else {
    const nc = data.p2p.clients.length;
    const t = table(
      p2p,
      ["provider", ...data.p2p.clients],
      data.p2p.providers.map((p: Any, i: number) => [
        `${p.bdf} BAR${p.bar} (${bytes(p.bytes)})`,
        ...data.p2p.clients.map((_c: string, j: number) => {
          const cell = data.p2p.cells[i * nc + j];
          return cell.type === "NOT_SUPPORTED" ? "no" : `${cell.type} ${cell.distance}`;
        }),
      ]),
      "p2p",
    );
    for (const td of Array.from(t.querySelectorAll("td")))
      td.classList.add(`t-${(td.textContent ?? "").split(" ")[0]}`);
  }

  // Scenarios
  const sc = section(
    "scenarios",
    "Scenario results",
    "Simulated consumers: the range-list design against today's kernel on the same workload.",
  );
  if (data.scenarios.length === 0) sc.appendChild(el("p", "empty", "no scenarios were run"));
  else {
    const rows: (string | number)[][] = [];
    for (const s of data.scenarios)
      for (const [key, v] of Object.entries(s.ratios))
        rows.push([
          s.name,
          key,
          num(s.design[key] ?? 0),
          num(s.baseline[key] ?? 0),
          `${(v as number).toFixed(2)}x`,
        ]);
    barChart(
      sc,
      "chart-scenarios",
      data.scenarios.map((s: Any) => s.name),
      [
        {
          label: "best ratio (baseline / design)",
          values: data.scenarios.map((s: Any) =>
            Math.max(1, ...Object.values(s.ratios).map((v) => Number(v))),
          ),
        },
      ],
      { log: true, unit: (v) => `${num(v)}x` },
    );
    table(sc, ["scenario", "metric", "design", "baseline", "ratio"], rows);
    for (const s of data.scenarios)
      for (const n of s.notes) sc.appendChild(el("p", "note", `${s.name}: ${n}`));
  }
  document.body.dataset.rendered = "true";
}
