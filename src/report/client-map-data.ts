/**
 * The data behind the report page's physical memory map (embedded as source text: self-contained,
 * no imports): every buffer's run columns decoded from the analysis (`runMap`: base64 of
 * little-endian float64 frame, VA and pages, and a backing byte), concatenated and put in frame
 * order; the regions and BARs of the physical map; and the display axis, where covered ranges
 * (top-level /proc/iomem regions other than PCI bus windows, and within windows the BARs and other
 * children) keep their width in bytes and a gap between them, including the empty part of a
 * window, takes at most 1% of the covered width.
 *
 * Costs: prepare O(n log n) for n runs (one sort by frame number); uOf/pOf O(log pieces);
 * firstFrom O(log n).
 */

import type { MapBuffer } from "./client-map.js";

/**
 * Builds the map-data part of the page script. Browser only.
 * @returns `prepare(data)`: the run columns in frame order, regions, BARs and the display axis;
 *   `style`: the names and colours of the map's categories.
 * @throws Error (from prepare) when a run column's length does not match its count.
 */
export function mapDataClient() {
  const PAGE = 4096;
  /** Colours and names of the map's categories (text colours are not among them). */
  const KINDS = ["unknown", "base page", "THP", "hugetlb", "zero page", "mixed"];
  const KIND_COLOURS = ["#8a8a8a", "#1f77b4", "#2e7d32", "#b35806", "#7b1fa2", "#c62828"];
  const LEN_NAMES = ["4 KiB", "8-60 KiB", "64 KiB-<2 MiB", "2 MiB-<1 GiB", ">= 1 GiB"];
  const LEN_COLOURS = ["#fdae61", "#f46d43", "#74add1", "#4575b4", "#313695"];
  const PROC_COLOURS = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#b35806",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
    "#8c564b",
  ];
  const OTHER = "#d0d0d0";
  /** Run-length class: 4 KiB, 8-60 KiB, 64 KiB-<2 MiB, 2 MiB-<1 GiB, >= 1 GiB. */
  const lenBucket = (pages: number): number =>
    pages <= 1 ? 0 : pages < 16 ? 1 : pages < 512 ? 2 : pages < 262144 ? 3 : 4;

  const regionColour = (name: string): string =>
    /^System RAM/i.test(name)
      ? "#cfe8cf"
      : /reserved/i.test(name)
        ? "#dedede"
        : /^PCI/i.test(name)
          ? "#cfe0f3"
          : "#eadcf2";
  /** The legend of the map in a colour mode: [colour, text] per entry (text may be a process name). */
  const legendItems = (mode: string, buffers: readonly MapBuffer[], selected: number): [string, string][] => {
    const out: [string, string][] = [
      ["#cfe8cf", "System RAM"],
      ["#dedede", "reserved"],
      ["#cfe0f3", "PCI window"],
      ["#eadcf2", "other region"],
      ["#f4a259", "PCI BAR"],
      ["#ffffff", "collapsed hole (not to scale)"],
    ];
    if (mode === "backing")
      out.push(...KINDS.map((k, i): [string, string] => [KIND_COLOURS[i], `run: ${k}`]));
    else if (mode === "length")
      out.push(...LEN_NAMES.map((k, i): [string, string] => [LEN_COLOURS[i], `run of ${k}`]));
    else {
      out.push(
        ...buffers.slice(0, 10).map((b, i): [string, string] => [PROC_COLOURS[i], `${b.comm} (${b.pid})`]),
      );
      if (buffers.length > 10)
        out.push(["#7f7f7f", `${buffers.length - 10} more buffers reuse these colours`]);
    }
    if (selected >= 0) out.push([OTHER, "runs of other buffers"]);
    return out;
  };
  const style = {
    KINDS,
    KIND_COLOURS,
    LEN_NAMES,
    LEN_COLOURS,
    PROC_COLOURS,
    OTHER,
    lenBucket,
    regionColour,
    legendItems,
  };
  const b64 = (s: string): Uint8Array => {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  };
  const f64 = (s: string, n: number): Float64Array => {
    const bytesOf = b64(s);
    if (bytesOf.length !== n * 8)
      throw new Error(`phyr report: run column of ${bytesOf.length} bytes for ${n} runs`);
    return new Float64Array(bytesOf.buffer, 0, n);
  };
  // biome-ignore lint/suspicious/noExplicitAny: the analysis JSON
  const prepare = (data: any) => {
    const buffers: MapBuffer[] = data.buffers;
    // Every buffer's runs, concatenated, then ordered by frame number.
    let total = 0;
    for (const b of buffers)
      if (b.runMap && b.runMap.encoding === "runs-f64le-u8-base64/1") total += b.runMap.count;
    const rawPfn = new Float64Array(total);
    const rawVa = new Float64Array(total);
    const rawPages = new Float64Array(total);
    const rawKind = new Uint8Array(total);
    const rawOwner = new Uint32Array(total);
    let at = 0;
    buffers.forEach((b, bi) => {
      const m = b.runMap;
      if (m?.encoding !== "runs-f64le-u8-base64/1" || m.count === 0) return;
      rawPfn.set(f64(m.pfn, m.count), at);
      rawVa.set(f64(m.va, m.count), at);
      rawPages.set(f64(m.pages, m.count), at);
      rawKind.set(b64(m.kind).subarray(0, m.count), at);
      rawOwner.fill(bi, at, at + m.count);
      at += m.count;
    });
    // Columns in frame order (copied once, so every redraw reads them sequentially).
    const order = new Uint32Array(total);
    for (let i = 0; i < total; i++) order[i] = i;
    order.sort((a, b) => rawPfn[a] - rawPfn[b]);
    const pfn = new Float64Array(total);
    const va = new Float64Array(total);
    const pages = new Float64Array(total);
    const kind = new Uint8Array(total);
    const owner = new Uint32Array(total);
    for (let i = 0; i < total; i++) {
      const r = order[i];
      pfn[i] = rawPfn[r];
      va[i] = rawVa[r];
      pages[i] = rawPages[r];
      kind[i] = rawKind[r];
      owner[i] = rawOwner[r];
    }
    let maxPages = 0;
    for (let i = 0; i < total; i++) if (pages[i] > maxPages) maxPages = pages[i];

    // Covered ranges: top-level regions and BARs (or the runs' extent without any region).
    const regions: { s: number; e: number; name: string; depth: number }[] = data.physmap.regions.map(
      // biome-ignore lint/suspicious/noExplicitAny: JSON
      (r: any) => ({ s: Number(r.start), e: Number(r.end) + 1, name: String(r.name), depth: r.depth }),
    );
    const bars: { s: number; e: number; name: string }[] = [];
    for (const d of data.pci.devices)
      for (const b of d.bars)
        bars.push({ s: Number(b.start), e: Number(b.start) + b.bytes, name: `${d.bdf} BAR${b.index}` });
    // A PCI bus window is mostly empty address space: only its BARs and non-window children count
    // as covered, so the rest of the window collapses like a hole.
    const isWindow = (r: { name: string }) => /^PCI Bus/i.test(r.name);
    const inWindow = (r: { s: number; e: number }) =>
      regions.some((w) => w.depth === 0 && isWindow(w) && w.s <= r.s && r.e <= w.e);
    const spans = [...regions.filter((r) => !isWindow(r) && (r.depth === 0 || inWindow(r))), ...bars].map(
      (r) => [r.s, r.e],
    );
    if (total > 0) spans.push([pfn[0] * PAGE, (pfn[total - 1] + pages[total - 1]) * PAGE]);
    spans.sort((a, b) => a[0] - b[0]);
    const covered: number[][] = [];
    for (const [s, e] of spans) {
      const last = covered[covered.length - 1];
      if (last && s <= last[1]) last[1] = Math.max(last[1], e);
      else covered.push([s, e]);
    }
    const coveredBytes = covered.reduce((t, c) => t + c[1] - c[0], 0);
    const holeUnits = Math.max(PAGE, coveredBytes * 0.01);
    // Pieces of the display axis: [phys start, phys end, unit start, unit end, hole].
    const pieces: { p0: number; p1: number; u0: number; u1: number; hole: boolean }[] = [];
    let u = 0;
    let prevEnd = covered.length > 0 ? covered[0][0] : 0;
    for (const [s, e] of covered) {
      if (s > prevEnd) {
        const w = Math.min(s - prevEnd, holeUnits);
        pieces.push({ p0: prevEnd, p1: s, u0: u, u1: u + w, hole: s - prevEnd > holeUnits });
        u += w;
      }
      pieces.push({ p0: s, p1: e, u0: u, u1: u + (e - s), hole: false });
      u += e - s;
      prevEnd = e;
    }
    const U = u;
    const pieceP0 = Float64Array.from(pieces, (q) => q.p0);
    const pieceP1 = Float64Array.from(pieces, (q) => q.p1);
    const pieceU0 = Float64Array.from(pieces, (q) => q.u0);
    const pieceU1 = Float64Array.from(pieces, (q) => q.u1);
    const pieceScale = Float64Array.from(pieces, (q) => (q.p1 > q.p0 ? (q.u1 - q.u0) / (q.p1 - q.p0) : 0));
    /** The last piece whose start in `starts` is at or below `x` (the first when none is). O(log pieces). */
    const pieceFrom = (starts: Float64Array, x: number) => {
      let lo = 0;
      let hi = pieces.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid] <= x) lo = mid;
        else hi = mid - 1;
      }
      return pieces[lo];
    };
    const pieceByU = (x: number) => pieceFrom(pieceU0, x);
    const pieceByP = (p: number) => pieceFrom(pieceP0, p);
    const uOf = (p: number): number => {
      const q = pieceByP(p);
      if (p <= q.p0) return q.u0;
      if (p >= q.p1) return q.u1;
      return q.u0 + ((p - q.p0) / (q.p1 - q.p0)) * (q.u1 - q.u0);
    };
    const pOf = (x: number): number => {
      const q = pieceByU(x);
      if (q.u1 === q.u0) return q.p0;
      return q.p0 + ((Math.min(Math.max(x, q.u0), q.u1) - q.u0) / (q.u1 - q.u0)) * (q.p1 - q.p0);
    };
    /** First index into `order` whose run could reach `p` (starts at or after p - longest run). */
    const firstFrom = (p: number): number => {
      const f = p / PAGE - maxPages;
      let lo = 0;
      let hi = total;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (pfn[mid] < f) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    return {
      buffers,
      total,
      pfn,
      va,
      pages,
      kind,
      owner,
      maxPages,
      regions,
      bars,
      pieces,
      U,
      pieceP0,
      pieceP1,
      pieceU0,
      pieceU1,
      pieceScale,
      pieceByU,
      pieceByP,
      uOf,
      pOf,
      firstFrom,
    };
  };
  return { prepare, style };
}
