/**
 * The report page's bar charts (embedded as source text, like client.ts: self-contained, no
 * imports, no outer references). Horizontal bars on uPlot, one unit per chart: bytes and counts
 * never share an axis. Linear axes start at zero; log axes say "log scale" and bars start at the
 * axis floor, a power below the smallest value, so the smallest bar is visible; ratios are drawn
 * on a log axis centred on 1x, losses (below 1x) to the left in red. Nothing is drawn for empty
 * data (a "no data" note instead). Axis room is measured from the labels, so no label is clipped
 * at any width. Each chart has an HTML legend naming its series, a tooltip with category, value
 * and unit (text only), and its data as a table in a <details> element (keyboard reachable).
 */

import type { ChartSpec, ClientKit } from "./client-kit.js";

/**
 * Builds the chart part of the page script. Browser only.
 * @param kit the page's helpers.
 * @returns `chart(parent, spec)`, which draws (or says "no data"), and `resizeAll()`.
 */
export function chartClient(kit: ClientKit): {
  chart: (parent: HTMLElement, spec: ChartSpec) => void;
  resizeAll: () => void;
} {
  const { el, bytes, num, table, uPlot } = kit;
  const GAIN = "#1f77b4";
  const SECOND = "#b35806";
  const LOSS = "#c62828";
  const FONT = "12px system-ui, sans-serif";
  // biome-ignore lint/suspicious/noExplicitAny: uPlot instances
  const live: { plot: any; box: HTMLElement; remake: () => void }[] = [];
  const measure = document.createElement("canvas").getContext("2d");
  const textWidth = (t: string): number => {
    if (!measure) return t.length * 7;
    measure.font = FONT;
    return Math.ceil(measure.measureText(t).width);
  };
  const ellipsize = (t: string, px: number): string => {
    if (textWidth(t) <= px) return t;
    let s = t;
    while (s.length > 1 && textWidth(`${s}…`) > px) s = s.slice(0, -1);
    return `${s}…`;
  };
  const ratioText = (r: number): string =>
    r >= 1
      ? `${r >= 100 ? num(Math.round(r)) : r.toFixed(2)}x`
      : `${r.toFixed(2)}x (${(1 / r).toFixed(2)}x more)`;
  const valueText = (spec: ChartSpec, v: number): string =>
    spec.unit === "bytes"
      ? `${bytes(v)} (${num(v)} bytes)`
      : spec.unit === "count"
        ? `${num(v)} ${spec.noun ?? ""}`.trim()
        : ratioText(v);
  const axisText = (spec: ChartSpec, v: number): string =>
    spec.unit === "bytes" ? bytes(v) : spec.unit === "count" ? num(v) : v >= 1 ? `${num(v)}x` : `${v}x`;

  const chart = (parent: HTMLElement, spec: ChartSpec): void => {
    const box = el("div", "chart");
    box.id = spec.id;
    parent.appendChild(box);
    const n = spec.categories.length;
    const positive = (v: number | null): v is number => v !== null && Number.isFinite(v) && v > 0;
    const any = spec.series.some((s) => s.values.some(positive));
    if (n === 0 || !any) {
      box.dataset.empty = "true";
      box.appendChild(el("p", "empty", `No data: ${spec.empty}`));
      return;
    }
    const ratio = spec.unit === "ratio";
    const log = ratio || spec.scale === "log";
    const all = spec.series.flatMap((s) => s.values.filter(positive));
    const base = spec.unit === "bytes" && !ratio ? 2 : 10;
    const lo = Math.min(...all);
    const hi = Math.max(...all);
    // Log axes: the floor is a power of the base strictly below the smallest value.
    const floorPow = (v: number) => base ** (Math.ceil(Math.log(v) / Math.log(base) - 1e-9) - 1);
    const ceilPow = (v: number) => base ** Math.ceil(Math.log(v) / Math.log(base) + 1e-9);
    let range: [number, number];
    // Ratios are drawn as log10(ratio) on a linear axis, from 0 (= 1x).
    if (ratio) {
      const l = Math.log10(lo);
      const h = Math.log10(hi);
      range = [Math.min(0, Math.floor(l)), Math.max(0, Math.ceil(h + 1e-9))];
      if (range[0] === range[1]) range = [range[0], range[0] + 1];
    } else if (log) range = [floorPow(lo), Math.max(ceilPow(hi), base * floorPow(lo))];
    else range = [0, hi * 1.05];
    const xs = spec.categories.map((_, i) => i);
    const rows = ratio
      ? [
          spec.series[0].values.map((v) => (positive(v) && v >= 1 ? Math.log10(v) : null)),
          spec.series[0].values.map((v) => (positive(v) && v < 1 ? Math.log10(v) : null)),
        ]
      : spec.series.map((s) => s.values.map((v) => (positive(v) ? v : log ? null : (v ?? null))));
    const names = ratio
      ? [`${spec.series[0].label}: gain`, `${spec.series[0].label}: loss (below 1x)`]
      : spec.series.map((s) => s.label);
    const colours = ratio ? [GAIN, LOSS] : [GAIN, SECOND];
    const k = rows.length;
    const axisLabel =
      spec.unit === "bytes"
        ? `bytes${log ? " (log scale)" : ""}`
        : spec.unit === "count"
          ? `${spec.noun ?? "count"}${log ? " (log scale)" : ""}`
          : "ratio, log scale (right of 1x: gain; left: loss)";
    const height = Math.max(140, n * (k > 1 && !ratio ? 30 : 24) + 70);
    const tip = el("div", "tip");
    tip.setAttribute("role", "status");
    tip.hidden = true;
    const plotBox = el("div", "plot");
    plotBox.setAttribute("role", "img");
    plotBox.setAttribute("aria-label", `${spec.caption} (bar chart; its data is in the table below)`);
    box.appendChild(plotBox);
    box.appendChild(tip);
    const legend = el("ul", "legend");
    rows.forEach((r, j) => {
      if (!r.some((v) => v !== null)) return;
      const li = el("li");
      const sw = el("span", "swatch");
      sw.style.background = colours[j];
      li.appendChild(sw);
      li.appendChild(document.createTextNode(names[j]));
      legend.appendChild(li);
    });
    if (ratio && spec.series[0].values.some((v) => v === 1)) {
      const li = el("li", undefined, "exactly 1x (no difference): no bar");
      legend.appendChild(li);
    }
    box.appendChild(legend);
    const widthNow = () => Math.max(260, Math.floor(box.clientWidth || parent.clientWidth || 600));
    const make = () => {
      const w = widthNow();
      const catRoom = Math.min(Math.floor(w * 0.42), Math.max(...spec.categories.map(textWidth)) + 12);
      const labels = spec.categories.map((c) => ellipsize(c, catRoom - 12));
      const ends = [range[0], range[1]].map((v) => textWidth(axisText(spec, ratio ? 10 ** v : v)));
      const slots = Math.max(2, Math.floor((w - catRoom) / (Math.max(...ends) + 18)));
      // Log and ratio axes: ticks at powers only (every `step`-th, so labels never overlap).
      const valueSplits = (): number[] => {
        const e0 = ratio ? range[0] : Math.round(Math.log(range[0]) / Math.log(base));
        const e1 = ratio ? range[1] : Math.round(Math.log(range[1]) / Math.log(base));
        const steps = base === 2 ? [1, 2, 5, 10, 20, 30, 40] : [1, 2, 3, 5, 10];
        const step = steps.find((st) => (e1 - e0) / st + 1 <= slots) ?? steps[steps.length - 1];
        const out: number[] = [];
        for (let e = Math.ceil(e0 / step) * step; e <= e1; e += step) out.push(ratio ? e : base ** e);
        return out;
      };
      const opts = {
        width: w,
        height,
        padding: [8, Math.ceil(ends[1] / 2) + 8, 0, 0],
        legend: { show: false },
        cursor: { points: { show: false }, drag: { x: false, y: false } },
        select: { show: false },
        scales: {
          x: { time: false, ori: 1, dir: -1, range: [-0.5, n - 0.5] },
          y: { ori: 0, dir: 1, ...(log && !ratio ? { distr: 3, log: base } : {}), range: () => range },
        },
        axes: [
          {
            scale: "x",
            side: 3,
            size: catRoom,
            gap: 6,
            ticks: { show: false },
            font: FONT,
            stroke: "#1b1b1b",
            grid: { show: false },
            splits: () => xs,
            values: (_u: unknown, splits: number[]) => splits.map((i) => labels[i] ?? ""),
          },
          {
            scale: "y",
            side: 2,
            size: 34,
            font: FONT,
            stroke: "#1b1b1b",
            label: axisLabel,
            labelSize: 22,
            labelFont: FONT,
            space: Math.max(60, ...ends) + 12,
            // Our own splits are already spaced: uPlot's log-axis label filter must not thin them.
            ...(log ? { splits: valueSplits, filter: (_u: unknown, splits: number[]) => splits } : {}),
            values: (_u: unknown, splits: (number | null)[]) =>
              splits.map((v) => (v === null ? "" : axisText(spec, ratio ? 10 ** v : v))),
          },
        ],
        series: [
          {},
          ...rows.map((_, j) => ({
            label: names[j],
            stroke: colours[j],
            fill: colours[j],
            width: 0,
            points: { show: false },
            paths: uPlot.paths.bars({
              size: [ratio || k === 1 ? 0.7 : 0.4, 40],
              align: ratio || k === 1 ? 0 : j === 0 ? -1 : 1,
            }),
          })),
        ],
        hooks: {
          setCursor: [
            // biome-ignore lint/suspicious/noExplicitAny: uPlot instance
            (u: any) => {
              const i = u.cursor.idx;
              if (i === null || i === undefined || u.cursor.left < 0) {
                tip.hidden = true;
                return;
              }
              const parts = [spec.categories[i]];
              spec.series.forEach((s) => {
                const v = s.values[i];
                parts.push(`${s.label}: ${v === null || v === undefined ? "no value" : valueText(spec, v)}`);
              });
              tip.textContent = parts.join(" — ");
              tip.hidden = false;
              const left = Math.min(Math.max(0, u.cursor.left + catRoom + 12), Math.max(0, w - 260));
              tip.style.left = `${left}px`;
              tip.style.top = `${Math.max(0, u.cursor.top - 8)}px`;
            },
          ],
        },
      };
      return new uPlot(opts, [xs, ...rows], plotBox);
    };
    const entry = { box, plot: make(), remake: () => {} };
    entry.remake = () => {
      entry.plot.destroy();
      entry.plot = make();
    };
    live.push(entry);
    box.dataset.points = String(n * k);
    const details = el("details", "data");
    details.appendChild(el("summary", undefined, `Data of this chart (${spec.caption})`));
    table(
      details,
      spec.caption,
      ["category", ...spec.series.map((s) => s.label)],
      spec.categories.map((c, i) => [
        c,
        ...spec.series.map((s) => {
          const v = s.values[i];
          return v === null || v === undefined ? "-" : valueText(spec, v);
        }),
      ]),
    );
    box.appendChild(details);
  };

  /** Redraws every chart whose box changed width; forgets charts no longer on the page. O(charts). */
  const resizeAll = (): void => {
    for (let i = live.length - 1; i >= 0; i--) {
      const e = live[i];
      if (!e.box.isConnected) {
        e.plot.destroy();
        live.splice(i, 1);
      } else if (Math.max(260, Math.floor(e.box.clientWidth)) !== e.plot.width) e.remake();
    }
  };
  return { chart, resizeAll };
}
