/**
 * The report page's physical memory map (embedded as source text: self-contained, no imports).
 * The physical address space is drawn to scale with holes collapsed: covered ranges (top-level
 * /proc/iomem regions other than PCI bus windows, and within windows the BARs and other children)
 * keep their width in bytes; a gap between them, including the empty part of a window, takes at
 * most 1% of the covered width. Three bands: regions (System RAM, reserved, PCI windows, ...), PCI BARs,
 * and the runs of every analysed buffer, from the same run columns the analysis JSON carries
 * (`runMap`). Runs are binned on the fly for the current zoom: each pixel column shows the category
 * with the largest share of it, shaded by how much of the column runs cover. Zoom (wheel, buttons,
 * +/-) and pan (drag, arrows) go down to single frames; hover (or focus and arrows) tells process,
 * VA, PFN range, run length and backing. All text goes through textContent or the canvas.
 *
 * Costs: load O(n log n) for n runs (one sort by frame number); each redraw O(runs in view +
 * width); hover O(log n + runs in one pixel column, capped).
 */

import type { ClientKit } from "./client-kit.js";
import type { mapDataClient } from "./client-map-data.js";

/** A buffer as the map needs it (a subset of BufferAnalysis). */
export interface MapBuffer {
  label: string;
  pid: number;
  comm: string;
  runMap?: { encoding: string; count: number; pfn: string; va: string; pages: string; kind: string };
}

/**
 * Builds the map part of the page script. Browser only.
 * @param kit the page's helpers.
 * @param mapData the map-data part (run columns, regions, display axis).
 * @returns `physMap(parent, data)` drawing the map into `parent`, and `select(buffer)` that shows
 *   one buffer's runs in colour (-1: all).
 */
export function mapClient(
  kit: ClientKit,
  mapData: ReturnType<typeof mapDataClient>,
): {
  physMap: (
    parent: HTMLElement,
    // biome-ignore lint/suspicious/noExplicitAny: the analysis JSON
    data: any,
  ) => { select: (buffer: number) => void; redraw: () => void };
} {
  const { el, bytes, num } = kit;
  const { prepare } = mapData;
  const PAGE = 4096;
  const hex = (n: number): string => `0x${Math.floor(n).toString(16)}`;
  const { KINDS, KIND_COLOURS, LEN_COLOURS, PROC_COLOURS, OTHER, lenBucket, regionColour, legendItems } =
    mapData.style;

  // biome-ignore lint/suspicious/noExplicitAny: the analysis JSON
  const physMap = (parent: HTMLElement, data: any) => {
    const prepared = prepare(data);
    const { buffers, total, pfn, va, pages, kind, owner, regions, bars, pieces, U } = prepared;
    const { pieceP0, pieceP1, pieceU0, pieceU1, pieceScale, pieceByU, pieceByP, uOf, pOf, firstFrom } =
      prepared;

    const box = el("div", "physmap");
    box.id = "chart-physmap";
    parent.appendChild(box);
    if (U === 0) {
      box.dataset.empty = "true";
      box.appendChild(el("p", "empty", "No data: neither a physical map nor any run with a frame number."));
      return { select: () => {}, redraw: () => {} };
    }
    const controls = el("div", "map-controls");
    const btn = (text: string, label: string) => {
      const b = el("button", undefined, text) as HTMLButtonElement;
      b.type = "button";
      if (label !== text) b.setAttribute("aria-label", label);
      b.title = label;
      controls.appendChild(b);
      return b;
    };
    const zoomIn = btn("+", "Zoom in");
    const zoomOut = btn("−", "Zoom out");
    const whole = btn("Whole map", "Whole map");
    const modeLabel = el("label", undefined, "Colour by ");
    const mode = el("select") as HTMLSelectElement;
    for (const [v, t] of [
      ["process", "process"],
      ["backing", "backing"],
      ["length", "run length"],
    ]) {
      const o = el("option", undefined, t) as HTMLOptionElement;
      o.value = v;
      mode.appendChild(o);
    }
    modeLabel.appendChild(mode);
    controls.appendChild(modeLabel);
    const goForm = el("form", "goto") as HTMLFormElement;
    const goLabel = el("label", undefined, "Go to physical address ");
    const goInput = el("input") as HTMLInputElement;
    goInput.name = "addr";
    goInput.placeholder = "0x100000000";
    goInput.size = 16;
    goLabel.appendChild(goInput);
    goForm.appendChild(goLabel);
    const goBtn = el("button", undefined, "Go") as HTMLButtonElement;
    goBtn.type = "submit";
    goForm.appendChild(goBtn);
    controls.appendChild(goForm);
    box.appendChild(controls);
    const canvas = el("canvas") as HTMLCanvasElement;
    canvas.tabIndex = 0;
    canvas.setAttribute("role", "img");
    canvas.setAttribute(
      "aria-label",
      "Physical memory map: regions, PCI BARs and the runs of every buffer by physical address. Keys: plus and minus zoom, arrows pan. The regions table and the process table give the same data as text.",
    );
    const stage = el("div", "stage");
    stage.appendChild(canvas);
    const tip = el("div", "tip");
    tip.hidden = true;
    stage.appendChild(tip);
    box.appendChild(stage);
    const status = el("p", "map-status");
    status.setAttribute("aria-live", "polite");
    box.appendChild(status);
    const legend = el("ul", "legend");
    box.appendChild(legend);
    if (total === 0)
      box.appendChild(el("p", "empty", "No runs to paint: no buffer has readable frame numbers."));

    const H = 170;
    const BAND_REG = [0, 22];
    const BAND_BAR = [26, 16];
    const BAND_RUN = [46, 96];
    let v0 = 0;
    let v1 = U;
    let selected = -1;
    let W = 600;
    let hoverX = -1;

    const xOfU = (x: number): number => ((x - v0) / (v1 - v0)) * W;
    const uOfX = (x: number): number => v0 + (x / W) * (v1 - v0);
    let m = mode.value;
    const colourOf = (c: number): string => {
      if (c < 0) return OTHER;
      return m === "backing" ? KIND_COLOURS[c] : m === "length" ? LEN_COLOURS[c] : PROC_COLOURS[c];
    };
    const minSpan = 48 * PAGE;

    const drawLegend = () => {
      legend.textContent = "";
      for (const [colour, text] of legendItems(mode.value, buffers, selected)) {
        const li = el("li");
        const sw = el("span", "swatch");
        sw.style.background = colour;
        li.appendChild(sw);
        li.appendChild(document.createTextNode(text));
        legend.appendChild(li);
      }
    };

    // The last full drawing, reused while only the hover line moves.
    const cache = document.createElement("canvas");
    let cacheKey = "";
    const hoverLine = (g: CanvasRenderingContext2D) => {
      if (hoverX < 0) return;
      g.fillStyle = "#1b1b1b";
      g.fillRect(hoverX, 0, 1, BAND_RUN[0] + BAND_RUN[1]);
    };
    const draw = (): void => {
      const t0 = performance.now();
      W = Math.max(200, Math.floor(stage.clientWidth || box.clientWidth || 600));
      const dpr = window.devicePixelRatio || 1;
      m = mode.value;
      const key = `${v0},${v1},${W},${dpr},${m},${selected}`;
      const g = canvas.getContext("2d");
      if (!g) return;
      if (key === cacheKey) {
        g.setTransform(1, 0, 0, 1, 0, 0);
        g.clearRect(0, 0, canvas.width, canvas.height);
        g.drawImage(cache, 0, 0);
        g.setTransform(dpr, 0, 0, dpr, 0, 0);
        hoverLine(g);
        return;
      }
      canvas.width = Math.floor(W * dpr);
      canvas.height = Math.floor(H * dpr);
      canvas.style.width = `${W}px`;
      canvas.style.height = `${H}px`;
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.clearRect(0, 0, W, H);
      g.font = "11px system-ui, sans-serif";
      g.textBaseline = "middle";
      // Regions and holes.
      for (const q of pieces) {
        const a = xOfU(q.u0);
        const b = xOfU(q.u1);
        if (b < 0 || a > W) continue;
        if (q.hole) {
          g.fillStyle = "#ffffff";
          g.fillRect(a, BAND_REG[0], b - a, BAND_RUN[0] + BAND_RUN[1]);
          g.strokeStyle = "#8a8a8a";
          g.setLineDash([3, 3]);
          g.beginPath();
          g.moveTo(a + (b - a) / 2, 0);
          g.lineTo(a + (b - a) / 2, BAND_RUN[0] + BAND_RUN[1]);
          g.stroke();
          g.setLineDash([]);
        }
      }
      for (const r of regions) {
        if (r.depth !== 0) continue;
        const a = Math.max(0, xOfU(uOf(r.s)));
        const b = Math.min(W, xOfU(uOf(r.e)));
        if (b <= 0 || a >= W) continue;
        g.fillStyle = regionColour(r.name);
        g.fillRect(a, BAND_REG[0], Math.max(1, b - a), BAND_REG[1]);
        g.strokeStyle = "#ffffff";
        g.strokeRect(a, BAND_REG[0], Math.max(1, b - a), BAND_REG[1]);
        // The name, shortened to fit the visible part of the region (never cut by the canvas edge).
        const room = Math.min(b, W - 3) - a - 6;
        if (room > 24) {
          let label = r.name;
          while (label.length > 1 && g.measureText(label).width > room) label = `${label.slice(0, -2)}…`;
          if (g.measureText(label).width <= room) {
            g.fillStyle = "#1b1b1b";
            g.fillText(label, a + 3, BAND_REG[0] + BAND_REG[1] / 2);
          }
        }
      }
      for (const r of bars) {
        const a = Math.max(0, xOfU(uOf(r.s)));
        const b = Math.min(W, xOfU(uOf(r.e)));
        if (b <= 0 || a >= W) continue;
        g.fillStyle = "#f4a259";
        g.fillRect(a, BAND_BAR[0], Math.max(1, b - a), BAND_BAR[1]);
      }
      // Runs, binned per pixel column.
      const cover = new Float32Array(W);
      const best = new Int32Array(W).fill(-2);
      const bestCov = new Float32Array(W);
      const pv0 = pOf(v0);
      const pv1 = pOf(v1);
      let inView = 0;
      const edges: number[] = [];
      // Hot loop, kept flat: the piece of a run's start only moves forward (runs are in frame
      // order), pixel x = (unit - v0) * pxPerUnit, and the category is read from the columns.
      const pxPerUnit = W / (v1 - v0);
      const modeCode = m === "backing" ? 1 : m === "length" ? 2 : 0;
      const sel = selected;
      const np = pieces.length;
      let qi = 0;
      for (let k = firstFrom(pv0); k < total; k++) {
        const s = pfn[k] * PAGE;
        if (s >= pv1) break;
        const e = s + pages[k] * PAGE;
        if (e <= pv0) continue;
        inView++;
        while (qi + 1 < np && pieceP0[qi + 1] <= s) qi++;
        let qe = qi;
        while (qe + 1 < np && pieceP0[qe + 1] < e) qe++;
        const ua = s >= pieceP1[qi] ? pieceU1[qi] : pieceU0[qi] + (s - pieceP0[qi]) * pieceScale[qi];
        const ub = e >= pieceP1[qe] ? pieceU1[qe] : pieceU0[qe] + (e - pieceP0[qe]) * pieceScale[qe];
        const a = (ua - v0) * pxPerUnit;
        const b = (ub - v0) * pxPerUnit;
        const c =
          sel >= 0 && owner[k] !== sel
            ? -1
            : modeCode === 1
              ? kind[k]
              : modeCode === 2
                ? lenBucket(pages[k])
                : owner[k] % PROC_COLOURS.length;
        const c0 = a > 0 ? Math.floor(a) : 0;
        const c1 = b < W ? Math.ceil(b) : W;
        for (let x = c0; x < c1; x++) {
          const ov = Math.min(b, x + 1) - Math.max(a, x);
          cover[x] += ov;
          if (ov > bestCov[x] || (ov === bestCov[x] && c >= 0)) {
            bestCov[x] = ov;
            best[x] = c;
          }
        }
        if (b - a >= 6 && a >= 0 && a <= W) edges.push(a);
      }
      for (let x = 0; x < W; x++) {
        if (best[x] === -2) continue;
        // Any run in a column shows clearly; fuller columns are darker.
        g.globalAlpha = 0.7 + 0.3 * Math.min(1, cover[x]);
        g.fillStyle = colourOf(best[x]);
        g.fillRect(x, BAND_RUN[0], 1, BAND_RUN[1]);
      }
      g.globalAlpha = 1;
      g.fillStyle = "#ffffff";
      for (const a of edges) g.fillRect(a, BAND_RUN[0], 1, BAND_RUN[1]);
      // Frame grid when a page is at least 6 px wide.
      const pxPerPage = (W / (v1 - v0)) * PAGE;
      if (pxPerPage >= 6) {
        g.fillStyle = "rgba(255,255,255,0.6)";
        const first = Math.ceil(pv0 / PAGE) * PAGE;
        for (let p = first; p < pv1; p += PAGE) g.fillRect(xOfU(uOf(p)), BAND_RUN[0] + BAND_RUN[1] - 8, 1, 8);
      }
      // Address ticks, inside the canvas.
      g.fillStyle = "#1b1b1b";
      g.textBaseline = "alphabetic";
      const tickY = H - 10;
      const ticks = Math.max(2, Math.floor(W / 150));
      for (let i = 0; i <= ticks; i++) {
        const x = (i / ticks) * W;
        const label = hex(pOf(uOfX(Math.min(W - 0.001, x))));
        const tw = g.measureText(label).width;
        const lx = Math.min(Math.max(3, x - tw / 2), W - tw - 3);
        g.fillRect(Math.min(Math.max(3, x), W - 4), BAND_RUN[0] + BAND_RUN[1] + 2, 1, 5);
        g.fillText(label, lx, tickY);
      }
      cache.width = canvas.width;
      cache.height = canvas.height;
      cache.getContext("2d")?.drawImage(canvas, 0, 0);
      cacheKey = key;
      hoverLine(g);
      const span = pv1 - pv0;
      status.textContent = `Showing ${hex(pv0)}–${hex(pv1)} (${bytes(Math.round(span))} of address space, ${bytes(Math.max(1, Math.round(span / W)))} per pixel${pxPerPage >= 1 ? `, ${pxPerPage.toFixed(1)} px per 4 KiB frame` : ""}); ${num(inView)} of ${num(total)} runs in view.`;
      box.dataset.viewStart = hex(pv0);
      box.dataset.viewEnd = hex(pv1);
      box.dataset.runsInView = String(inView);
      box.dataset.drawMs = (performance.now() - t0).toFixed(1);
    };

    /** The run under pixel column x (largest overlap; at most 50,000 runs examined). */
    const runAt = (x: number): number => {
      const p0 = pOf(uOfX(x));
      const p1 = pOf(uOfX(x + 1));
      let bestR = -1;
      let bestOv = 0;
      let seen = 0;
      for (let k = firstFrom(p0); k < total && seen < 50000; k++) {
        const r = k;
        const s = pfn[r] * PAGE;
        if (s >= p1) break;
        const e = s + pages[r] * PAGE;
        if (e <= p0) continue;
        seen++;
        const ov = Math.min(e, p1) - Math.max(s, p0);
        const pref = selected < 0 || owner[r] === selected;
        if (bestR < 0 || (pref && !(selected < 0 || owner[bestR] === selected)) || (ov > bestOv && pref)) {
          bestR = r;
          bestOv = ov;
        }
      }
      return bestR;
    };
    const showTip = (x: number, y: number): void => {
      hoverX = x;
      const lines: string[] = [];
      const p = pOf(uOfX(x));
      if (y >= BAND_RUN[0] - 4) {
        const r = runAt(x);
        if (r >= 0) {
          const b = buffers[owner[r]];
          const frame = Math.min(Math.max(Math.floor(p / PAGE), pfn[r]), pfn[r] + pages[r] - 1);
          lines.push(
            `process: ${b.comm} (pid ${b.pid})`,
            `buffer: ${b.label}`,
            `VA: ${hex(va[r] + (frame - pfn[r]) * PAGE)} (run starts at ${hex(va[r])})`,
            `PFN range: ${hex(pfn[r])}–${hex(pfn[r] + pages[r] - 1)}`,
            `run length: ${num(pages[r])} pages (${bytes(pages[r] * PAGE)})`,
            `backing: ${KINDS[kind[r]] ?? "unknown"}`,
          );
        }
      }
      if (lines.length === 0) {
        const inBar = bars.find((r) => r.s <= p && p < r.e);
        const reg = regions.filter((r) => r.s <= p && p < r.e).sort((a, b) => b.depth - a.depth)[0];
        const q = pieceByP(p);
        lines.push(`address: ${hex(p)}`);
        if (inBar) lines.push(`PCI BAR: ${inBar.name}`);
        if (reg) lines.push(`region: ${reg.name}`);
        if (q.hole && p >= q.p0 && p < q.p1) lines.push(`hole of ${bytes(q.p1 - q.p0)} (collapsed)`);
      }
      tip.textContent = lines.join("\n");
      tip.hidden = false;
      tip.style.left = `${Math.min(Math.max(0, x + 12), Math.max(0, W - 300))}px`;
      tip.style.top = `${Math.min(y + 12, H - 20)}px`;
      draw();
    };
    const hideTip = () => {
      hoverX = -1;
      tip.hidden = true;
      draw();
    };
    const zoomAt = (factor: number, x: number): void => {
      const c = uOfX(x);
      let span = (v1 - v0) * factor;
      const q = pieceByU(c);
      const scale = q.p1 > q.p0 ? (q.u1 - q.u0) / (q.p1 - q.p0) : 1;
      span = Math.min(U, Math.max(minSpan * Math.max(scale, 1e-9), span));
      const f = x / W;
      v0 = Math.max(0, Math.min(U - span, c - f * span));
      v1 = v0 + span;
      draw();
    };
    const pan = (dx: number): void => {
      const du = (dx / W) * (v1 - v0);
      const span = v1 - v0;
      v0 = Math.max(0, Math.min(U - span, v0 + du));
      v1 = v0 + span;
      draw();
    };
    zoomIn.addEventListener("click", () => zoomAt(0.25, W / 2));
    zoomOut.addEventListener("click", () => zoomAt(4, W / 2));
    whole.addEventListener("click", () => {
      v0 = 0;
      v1 = U;
      draw();
    });
    mode.addEventListener("change", () => {
      drawLegend();
      draw();
    });
    goForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const text = goInput.value.trim();
      const p = /^(0x)?[0-9a-f]+$/i.test(text) ? Number.parseInt(text.replace(/^0x/i, ""), 16) : Number.NaN;
      if (!Number.isFinite(p) || p < 0 || p >= 2 ** 52) {
        status.textContent = `Cannot go to ${JSON.stringify(text)}: not a hexadecimal physical address below 2^52.`;
        return;
      }
      const c = uOf(p);
      const span = minSpan * 4;
      v0 = Math.max(0, Math.min(U - span, c - span / 2));
      v1 = Math.min(U, v0 + span);
      draw();
    });
    canvas.addEventListener(
      "wheel",
      (ev) => {
        ev.preventDefault();
        const rect = canvas.getBoundingClientRect();
        zoomAt(ev.deltaY < 0 ? 0.5 : 2, ev.clientX - rect.left);
      },
      { passive: false },
    );
    let dragX: number | null = null;
    canvas.addEventListener("pointerdown", (ev) => {
      dragX = ev.clientX;
      canvas.setPointerCapture(ev.pointerId);
    });
    canvas.addEventListener("pointerup", () => {
      dragX = null;
    });
    canvas.addEventListener("pointermove", (ev) => {
      const rect = canvas.getBoundingClientRect();
      if (dragX !== null && Math.abs(ev.clientX - dragX) > 2) {
        pan(dragX - ev.clientX);
        dragX = ev.clientX;
        return;
      }
      showTip(Math.floor(ev.clientX - rect.left), ev.clientY - rect.top);
    });
    canvas.addEventListener("pointerleave", hideTip);
    canvas.addEventListener("keydown", (ev) => {
      const k = ev.key;
      if (k === "+" || k === "=") zoomAt(0.5, W / 2);
      else if (k === "-") zoomAt(2, W / 2);
      else if (k === "ArrowLeft") pan(-W / 8);
      else if (k === "ArrowRight") pan(W / 8);
      else if (k === "Home") {
        v0 = 0;
        v1 = U;
        draw();
      } else return;
      ev.preventDefault();
      showTip(Math.floor(W / 2), BAND_RUN[0] + 10);
    });
    canvas.addEventListener("blur", hideTip);
    drawLegend();
    draw();
    return {
      select: (b: number) => {
        selected = b;
        drawLegend();
        draw();
      },
      redraw: draw,
    };
  };
  return { physMap };
}
