/**
 * Types shared by the report page's script parts (client*.ts). Types only: each part is embedded in
 * the page as source text, so the parts share values through the {@link ClientKit} object that
 * reportClientMain builds and passes to each part's factory, never through imports.
 */

/** Parsed JSON of the data island (the page script reads it untyped). */
// biome-ignore lint/suspicious/noExplicitAny: the analysis JSON
type Json = any;

/** Helpers every part of the page script uses (built once by reportClientMain). */
export interface ClientKit {
  /** Creates an element with an optional class and text (text always through textContent). */
  el: (tag: string, cls?: string, text?: string) => HTMLElement;
  /** Bytes in binary units, e.g. `1.5 MiB`. */
  bytes: (n: number) => string;
  /** An integer with thousands separators. */
  num: (n: number) => string;
  /** A table with a caption, `scope` on every header cell, inside a box that scrolls on its own. */
  table: (
    parent: HTMLElement,
    caption: string,
    head: (string | Node)[],
    rows: (string | number | Node)[][],
    cls?: string,
  ) => HTMLTableElement;
  /** The uPlot constructor (the inlined library's global). */
  // biome-ignore lint/suspicious/noExplicitAny: uPlot is untyped inside the page script
  uPlot: any;
}

/** What a chart shows (see chartClient). */
export interface ChartSpec {
  /** Element id of the chart's box. */
  id: string;
  /** What the chart shows: the caption of its data table and its accessible name. */
  caption: string;
  /** One bar (group) per category, top to bottom. */
  categories: string[];
  /** One bar per category per series; null: no value. */
  series: { label: string; values: (number | null)[] }[];
  /**
   * `bytes` and `count` are drawn from zero (linear) or from the axis floor (log, labelled so);
   * `ratio` values (baseline / design) are drawn on a log axis centred on 1x: gains to the right,
   * losses (below 1x) to the left in another colour.
   */
  unit: "bytes" | "count" | "ratio";
  /** What is counted (`runs`, `leaves`), for `count` charts. */
  noun?: string;
  /** Axis scale for bytes and counts. */
  scale: "linear" | "log";
  /** Shown instead of the chart when there is nothing to draw. */
  empty: string;
}

/** What the sections part needs beyond {@link ClientKit} (see sectionsClient). */
export interface SectionKit extends ClientKit {
  /** The analysis (JSON). */
  data: Json;
  /** Draws a chart, or a "no data" note (chartClient). */
  chart: (parent: HTMLElement, spec: ChartSpec) => void;
  /** Text, linked to its glossary entry when it is a glossary term. */
  termNode: (text: string, key?: string) => Node;
  /** Appends a section with a heading and an intro to the page. */
  section: (id: string, title: string, intro: string) => HTMLElement;
  /** Appends a section whose body `render` rebuilds for the chosen buffer (or the sums). */
  bufferSection: (
    id: string,
    title: string,
    intro: string,
    render: (body: HTMLElement, b: Json) => void,
  ) => void;
  /** "all N buffers" or "buffer LABEL". */
  viewName: () => string;
  /** True when the sums of all buffers are shown. */
  allBuffers: () => boolean;
}
