/**
 * The report page's P2P heat map (embedded as source text: self-contained, no imports): one cell
 * per (provider BAR, DMA-capable client), coloured by the map type drivers/pci/p2pdma.c
 * calc_map_type_and_dist() gives, darker for a longer distance, with a legend, a hover (and
 * keyboard) detail line, and the full matrix as a table in a <details> box. Cells shrink to fit
 * the width (at least 3 px), so the matrix never widens the page. Redraw O(providers x clients).
 */

import type { ClientKit } from "./client-kit.js";

/**
 * Builds the P2P part of the page script. Browser only.
 * @param kit the page's helpers.
 * @returns `heatMap(parent, p2p)`, which draws the matrix and returns its redraw function.
 */
export function p2pClient(kit: ClientKit): {
  // biome-ignore lint/suspicious/noExplicitAny: the analysis JSON
  heatMap: (parent: HTMLElement, p2p: any) => () => void;
} {
  const { el, bytes, table } = kit;
  const TYPES = ["BUS_ADDR", "THRU_HOST_BRIDGE", "NOT_SUPPORTED", "NONE"];
  const NAMES = [
    "bus address (BUS_ADDR)",
    "through the host bridge (THRU_HOST_BRIDGE)",
    "not supported",
    "none",
  ];
  const COLOURS = ["#2e7d32", "#b35806", "#d9d9d9", "#ffffff"];
  // biome-ignore lint/suspicious/noExplicitAny: the analysis JSON
  const heatMap = (parent: HTMLElement, p2p: any): (() => void) => {
    const box = el("div", "heat");
    box.id = "chart-p2p";
    parent.appendChild(box);
    const np = p2p.providers.length;
    const nc = p2p.clients.length;
    const legend = el("ul", "legend");
    TYPES.forEach((t, i) => {
      const li = el("li");
      const sw = el("span", "swatch");
      sw.style.background = COLOURS[i];
      li.appendChild(sw);
      li.appendChild(document.createTextNode(`${NAMES[i]}${i < 2 ? "; darker = longer path" : ""}`));
      legend.appendChild(li);
      void t;
    });
    const canvas = el("canvas") as HTMLCanvasElement;
    canvas.tabIndex = 0;
    canvas.setAttribute("role", "img");
    canvas.setAttribute(
      "aria-label",
      `P2P heat map: ${np} provider BARs (rows) by ${nc} DMA-capable clients (columns); arrow keys move a cursor, the table below has every cell.`,
    );
    const detail = el(
      "p",
      "heat-detail",
      "Point at (or focus and use the arrow keys on) a cell for its details.",
    );
    detail.setAttribute("aria-live", "polite");
    // Past the width (cells stay at least 3 px), the matrix scrolls in its own box.
    const frame = el("div", "heat-frame");
    frame.appendChild(canvas);
    box.appendChild(frame);
    box.appendChild(detail);
    box.appendChild(legend);
    let cell = 8;
    let cur = [-1, -1];
    const maxDist = Math.max(1, ...p2p.cells.map((c: { distance: number }) => c.distance));
    const draw = (): void => {
      const W = Math.max(120, Math.floor(box.clientWidth || 600));
      cell = Math.max(3, Math.min(22, Math.floor((W - 2) / Math.max(1, nc))));
      const dpr = window.devicePixelRatio || 1;
      const w = cell * nc + 1;
      const h = cell * np + 1;
      canvas.width = Math.floor(w * dpr);
      canvas.height = Math.floor(h * dpr);
      canvas.style.width = `${w}px`;
      canvas.style.height = `${h}px`;
      const g = canvas.getContext("2d");
      if (!g) return;
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      for (let i = 0; i < np; i++)
        for (let j = 0; j < nc; j++) {
          const c = p2p.cells[i * nc + j];
          const t = Math.max(0, TYPES.indexOf(c.type));
          g.globalAlpha = t < 2 ? 0.45 + 0.55 * (c.distance / maxDist) : 1;
          g.fillStyle = COLOURS[t];
          g.fillRect(j * cell, i * cell, cell - (cell > 4 ? 1 : 0), cell - (cell > 4 ? 1 : 0));
        }
      g.globalAlpha = 1;
      if (cur[0] >= 0) {
        g.strokeStyle = "#000000";
        g.lineWidth = 2;
        g.strokeRect(cur[1] * cell + 1, cur[0] * cell + 1, cell - 2, cell - 2);
      }
    };
    const show = (i: number, j: number): void => {
      if (i < 0 || j < 0 || i >= np || j >= nc) return;
      cur = [i, j];
      const p = p2p.providers[i];
      const c = p2p.cells[i * nc + j];
      detail.textContent = `${p.bdf} BAR${p.bar} (${bytes(p.bytes)}) → ${p2p.clients[j]}: ${NAMES[Math.max(0, TYPES.indexOf(c.type))]}, distance ${c.distance}`;
      draw();
    };
    canvas.addEventListener("pointermove", (ev) => {
      const r = canvas.getBoundingClientRect();
      show(Math.floor((ev.clientY - r.top) / cell), Math.floor((ev.clientX - r.left) / cell));
    });
    canvas.addEventListener("keydown", (ev) => {
      const [i, j] = cur[0] < 0 ? [0, 0] : cur;
      const moves: Record<string, number[]> = {
        ArrowUp: [-1, 0],
        ArrowDown: [1, 0],
        ArrowLeft: [0, -1],
        ArrowRight: [0, 1],
      };
      const m = moves[ev.key];
      if (!m) return;
      ev.preventDefault();
      show(Math.min(np - 1, Math.max(0, i + m[0])), Math.min(nc - 1, Math.max(0, j + m[1])));
    });
    draw();
    const details = el("details", "data");
    details.appendChild(el("summary", undefined, "Every cell of the P2P matrix as a table"));
    table(
      details,
      "P2P map type and distance, provider BAR (rows) by client (columns)",
      ["provider", ...p2p.clients],
      p2p.providers.map((p: { bdf: string; bar: number; bytes: number }, i: number) => [
        `${p.bdf} BAR${p.bar} (${bytes(p.bytes)})`,
        ...p2p.clients.map((_c: string, j: number) => {
          const c = p2p.cells[i * nc + j];
          return c.type === "NOT_SUPPORTED" ? "no" : `${c.type} ${c.distance}`;
        }),
      ]),
      "p2p",
    );
    box.appendChild(details);
    return draw;
  };
  return { heatMap };
}
