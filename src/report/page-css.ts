/**
 * The report page's stylesheet. Text colours meet WCAG AA (>= 4.5:1 on their background); the
 * page never scrolls sideways from 360 px up (wide tables, the PCI tree and the P2P table scroll
 * in their own box, with sticky header rows); a print stylesheet drops the controls and opens the
 * scroll boxes.
 */

/** The page's own CSS (uPlot's stylesheet is inlined before it). */
export const PAGE_CSS = `
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1180px; padding: 12px 16px 40px; color: #1b1b1b; background: #fff; overflow-wrap: anywhere; }
h1 { font-size: 22px; margin: 8px 0; } h2 { font-size: 18px; border-bottom: 1px solid #bbb; padding-bottom: 4px; margin-top: 32px; }
a { color: #0b57d0; } a.term { color: inherit; text-decoration: underline dotted; text-underline-offset: 2px; }
header .meta { margin: 4px 0; color: #333; } header .mode { font-weight: 600; }
nav.toc ol { display: flex; flex-wrap: wrap; gap: 4px 14px; padding: 0; margin: 8px 0; list-style: none; }
nav.toc a { display: inline-block; padding: 2px 0; }
.skip { position: absolute; left: -9999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px 8px; z-index: 10; }
.scroll { max-width: 100%; overflow: auto; max-height: 70vh; margin: 10px 0; border: 1px solid #e2e2e2; }
.scroll:focus { outline: 2px solid #0b57d0; }
table { border-collapse: collapse; font-size: 13px; min-width: 100%; }
caption { text-align: left; font-weight: 600; padding: 6px 8px; caption-side: top; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e6e6e6; text-align: left; vertical-align: top; }
thead th { position: sticky; top: 0; background: #f2f2f2; z-index: 1; white-space: nowrap; }
tbody th { font-weight: normal; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.mono td, table.mono th, pre.tree { font-family: ui-monospace, monospace; white-space: pre; }
pre.tree { margin: 0; padding: 6px 8px; }
button.sort { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer; color: #1b1b1b; }
th[aria-sort=ascending] button.sort::after { content: " ▲"; } th[aria-sort=descending] button.sort::after { content: " ▼"; }
p.warn { background: #fff4ce; padding: 6px 10px; } p.empty { color: #595959; font-style: italic; } p.intro, p.shows, p.note { color: #404040; }
.chooser { margin: 12px 0; padding: 8px 10px; background: #f2f6fc; border: 1px solid #cdd9ea; }
.chooser select { max-width: 100%; font: inherit; }
.chooser .hint { color: #404040; }
.chart, .physmap, .heat { position: relative; margin: 12px 0; max-width: 100%; }
.plot { max-width: 100%; overflow: hidden; }
.tip { position: absolute; z-index: 5; background: #fff; border: 1px solid #555; padding: 4px 8px; font-size: 12px; white-space: pre-line; pointer-events: none; max-width: min(300px, 90vw); box-shadow: 0 2px 6px rgba(0,0,0,.2); }
ul.legend { list-style: none; padding: 0; margin: 6px 0; display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12px; }
ul.legend .swatch { display: inline-block; width: 12px; height: 12px; margin-right: 5px; vertical-align: -2px; border: 1px solid #767676; }
details.data { margin: 6px 0 14px; } details.data summary { cursor: pointer; color: #0b57d0; }
.map-controls { display: flex; flex-wrap: wrap; gap: 6px 12px; align-items: center; margin-bottom: 6px; }
.map-controls button, .map-controls select, .map-controls input { font: inherit; }
.map-controls form { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; }
.stage { position: relative; width: 100%; }
.heat-frame { max-width: 100%; max-height: 70vh; overflow: auto; }
.stage canvas, .heat canvas { display: block; touch-action: none; }
canvas:focus { outline: 2px solid #0b57d0; }
p.map-status, p.heat-detail { font-size: 12px; color: #404040; margin: 4px 0; }
#glossary dt { font-weight: 600; margin-top: 8px; } #glossary dd { margin: 2px 0 0 16px; } #glossary .src { color: #404040; font-size: 12px; }
.uplot, .uplot * { font-family: system-ui, sans-serif; }
@media (max-width: 600px) { body { padding: 8px 10px 32px; } h1 { font-size: 19px; } th, td { padding: 3px 6px; } }
@media print {
  .map-controls, .chooser, .tip, .skip, nav.toc, details.data summary { display: none; }
  details.data > :not(summary) { display: block; }
  .scroll { max-height: none; overflow: visible; border: 0; }
  section { break-inside: avoid-page; } h2 { break-after: avoid; }
  a.term { text-decoration: none; }
  body { max-width: none; }
}
`;
