/**
 * The report page's per-buffer and result sections (embedded as source text: self-contained, no
 * imports): run-length histograms, representations, IOMMU, RDMA/NVMe (each rebuilt for the chosen
 * buffer through `bufferSection`), the what-if table of the largest buffers read, and the model
 * scenarios. Kernel way and phyr design are named on every series and column.
 */

import type { SectionKit } from "./client-kit.js";

/**
 * Builds the sections part of the page script. Browser only.
 * @param kit the page's helpers, the analysis and the chosen-buffer state.
 * @returns one function per section, each appending its section to the page when called.
 */
export function sectionsClient(kit: SectionKit): {
  runs: () => void;
  formats: () => void;
  iommu: () => void;
  devices: () => void;
  whatIf: () => void;
  scenarios: () => void;
} {
  // biome-ignore lint/suspicious/noExplicitAny: the analysis JSON
  type Any = any;
  const { el, bytes, num, table, termNode, section, bufferSection, viewName, data } = kit;
  const charts = { chart: kit.chart };
  const buffers: Any[] = data.buffers;
  const pagesOf = (b: Any) => b.formats.find((f: Any) => f.name === "pages");
  const ratioText = (base: number, v: number): string =>
    base > 0 && v > 0
      ? base >= v
        ? `${(base / v).toFixed(2)}x smaller`
        : `${(v / base).toFixed(2)}x larger`
      : "-";
  const runs = (): void => {
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
  };
  const formats = (): void => {
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
  };
  const iommu = (): void => {
    bufferSection(
      "iommu",
      "IOMMU leaves by size",
      data.iommu.present
        ? `IOMMU present: ${data.iommu.units.join(", ")}; ${data.iommu.groups} groups. Leaves are what mapping each buffer through it takes.`
        : "No IOMMU on this machine; the counts are what mapping through one would take (model).",
      (body, b) => {
        const kern = b.iommu.filter((c: Any) => c.placement === "kernel");
        const cong = (c: Any) =>
          b.iommu.find((d: Any) => d.bitmap === c.bitmap && d.placement === "congruent");
        charts.chart(body, {
          id: "chart-iommu",
          caption: `IOMMU leaf entries per page-size set: kernel size-aligned IOVA against phyr's congruent IOVA, ${viewName()}`,
          categories: kern.map((c: Any) => c.bitmap),
          series: [
            { label: "kernel way: size-aligned IOVA", values: kern.map((c: Any) => c.leafTotal) },
            {
              label: "phyr design: congruent IOVA",
              values: kern.map((c: Any) => cong(c)?.leafTotal ?? null),
            },
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
        if (b.iommu.length === 0)
          body.appendChild(el("p", "empty", "No data: no pages to map in this selection."));
      },
    );
  };
  const devices = (): void => {
    bufferSection(
      "devices",
      "RDMA and NVMe",
      "Translation entries for one RDMA memory registration, and descriptors for one NVMe I/O.",
      (body, b) => {
        table(
          body,
          `RDMA memory registration, ${viewName()}`,
          ["RDMA page sizes", "best page", termNode("MTT entries", "mtt"), "MTT entries at 4 KiB"],
          b.rdma.map((r: Any) => [
            r.bitmap,
            r.pageSize > 0 ? bytes(r.pageSize) : "-",
            r.entries,
            r.entries4k,
          ]),
        );
        if (b.rdma.length === 0)
          body.appendChild(el("p", "empty", "No data: no RDMA registration for this selection."));
        const nv = (kit.allBuffers() ? buffers : [b]).filter((x: Any) => x.nvme);
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
  };
  const whatIf = (): void => {
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
  };
  const scenarios = (): void => {
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
  };
  return { runs, formats, iommu, devices, whatIf, scenarios };
}
