/**
 * `phyr report`, `phyr analyze` and `phyr topo`: read the machine (live, snapshot, or the reference
 * machine; see source.ts), analyse, print a summary or JSON, and (report) write the self-contained
 * HTML file. When the reference machine stands in for an unreadable live machine, one line on
 * stderr says why, and the analysis carries the same sentence.
 */

import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { analyzeMachine, type MachineAnalysis, type MachineInput } from "../analyze/index.js";
import {
  formatTable,
  type ReportAssets,
  renderReportHtml,
  renderSummary,
  terminalSafe,
} from "../report/index.js";
import { runAllScenarios } from "./cmd-simulate.js";
import { collectBuffers, machineInput, type Selection } from "./collect.js";
import { CliFailure, type CliIo, EXIT_OK, paintFor, progressFor } from "./io.js";
import { jsonDocument, TOPO_SCHEMA, type TopoJson } from "./json.js";
import { type OpenedSource, openSource, type SourceChoice } from "./source.js";

/**
 * Reads uPlot's JS and CSS from node_modules (uplot/dist) for inlining.
 * @returns the assets.
 * @throws CliFailure when the uplot package is not installed.
 */
export function readReportAssets(): ReportAssets {
  const require = createRequire(import.meta.url);
  try {
    return {
      uplotJs: readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"), "utf8"),
      uplotCss: readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8"),
    };
  } catch (e) {
    throw new CliFailure(`cannot read the uplot package for the HTML report: ${(e as Error).message}`);
  }
}

async function withSource<T>(io: CliIo, choice: SourceChoice, fn: (s: OpenedSource) => T): Promise<T> {
  const path = choice.snapshot === undefined ? undefined : resolve(io.cwd ?? process.cwd(), choice.snapshot);
  const opened = await openSource(io.env, { ...choice, snapshot: path });
  if (opened.fallback !== undefined) io.stderr.write(`phyr: ${fallbackLine(opened.fallback)}\n`);
  try {
    return fn(opened);
  } finally {
    opened.src.close();
  }
}

/** The sentence printed (and kept in the analysis) when the reference machine stands in for this one. */
export function fallbackLine(reason: string): string {
  return `${reason}; showing the reference machine instead (a simulated server; --reference to choose it, --live to force this machine)`;
}

/** Machine facts of the opened source, with the fallback sentence added to the access messages. */
function facts(opened: OpenedSource): MachineInput {
  const m = machineInput(opened.src, opened.origin);
  if (opened.fallback === undefined) return m;
  return { ...m, access: { ...m.access, messages: [...m.access.messages, fallbackLine(opened.fallback)] } };
}

function analyse(
  io: CliIo,
  sel: Selection,
  choice: SourceChoice,
  scenarios = false,
): Promise<MachineAnalysis> {
  return withSource(io, choice, (opened) => {
    const m = facts(opened);
    const buffers = collectBuffers(opened.src, sel, progressFor(io));
    return analyzeMachine(m, buffers, { scenarios: scenarios ? runAllScenarios(1) : [] });
  });
}

function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(jsonDocument(value));
}

/**
 * `phyr report`: every process of the live machine (or a snapshot, or the reference machine) plus
 * every consumer scenario at its small size (seed 1); summary (or JSON) and report.html.
 * @returns exit code 0.
 * @throws CliFailure when the machine cannot be read or the report cannot be written; UsageError
 *   for conflicting source flags.
 */
export async function runReport(
  io: CliIo,
  o: { out: string; html: boolean; json: boolean; scenarios?: boolean } & SourceChoice,
): Promise<number> {
  const choice = { snapshot: o.snapshot, reference: o.reference, live: o.live };
  const a = await analyse(io, { pids: [], all: true }, choice, o.scenarios !== false);
  let written = "";
  if (o.html) {
    const path = resolve(io.cwd ?? process.cwd(), o.out);
    try {
      writeFileSync(path, renderReportHtml(a, readReportAssets()));
    } catch (e) {
      if (e instanceof CliFailure) throw e;
      throw new CliFailure(`cannot write the report to ${path}: ${(e as Error).message}`);
    }
    written = path;
  }
  if (o.json) printJson(io, a);
  else {
    const paint = paintFor(io.stdout, io.env);
    io.stdout.write(`${renderSummary(a, { paint }).join("\n")}\n`);
    if (written) io.stdout.write(`\n${paint.green("Report written to")} ${terminalSafe(written)}\n`);
  }
  return EXIT_OK;
}

/**
 * `phyr analyze`: the selected processes or range; summary or JSON.
 * @returns exit code 0.
 * @throws CliFailure for an unknown or unreadable pid; UsageError for conflicting source flags.
 */
export async function runAnalyze(
  io: CliIo,
  sel: Selection,
  json: boolean,
  choice: SourceChoice = {},
): Promise<number> {
  const a = await analyse(io, sel, choice);
  if (json) printJson(io, a);
  else io.stdout.write(`${renderSummary(a, { paint: paintFor(io.stdout, io.env) }).join("\n")}\n`);
  return EXIT_OK;
}

/**
 * `phyr topo`: physical map, PCI tree, IOMMU presence, P2P matrix (no process memory).
 * @returns exit code 0.
 * @throws UsageError for conflicting source flags; CliFailure for an unreadable source.
 */
export async function runTopo(io: CliIo, json: boolean, choice: SourceChoice = {}): Promise<number> {
  const a = await withSource(io, choice, (opened) => analyzeMachine(facts(opened), []));
  if (json) {
    const topo: TopoJson = {
      schema: TOPO_SCHEMA,
      origin: a.origin,
      host: a.host,
      access: a.access,
      physmap: a.physmap,
      pci: a.pci,
      iommu: a.iommu,
      p2p: a.p2p,
    };
    printJson(io, topo);
    return EXIT_OK;
  }
  const paint = paintFor(io.stdout, io.env);
  const out: string[] = [];
  out.push(
    paint.bold(
      `phyr topo — ${terminalSafe(a.host.hostname)} (${a.origin}, kernel ${terminalSafe(a.host.kernel)})`,
    ),
  );
  for (const m of a.access.messages) out.push(paint.yellow(`! ${m}`));
  out.push("", paint.bold(`Physical map (${a.physmap.regions.length} regions)`));
  out.push(
    ...formatTable(
      ["start", "end", "size", "name"],
      a.physmap.regions.map((r) => [r.start, r.end, r.bytes, `${"  ".repeat(r.depth)}${r.name}`]),
      { paint, maxWidth: 60 },
    ),
  );
  out.push("", paint.bold(`PCI (${a.pci.devices.length} functions)`), ...a.pci.tree.map(terminalSafe));
  out.push(
    "",
    paint.bold("IOMMU"),
    a.iommu.present
      ? `present: ${a.iommu.units.map(terminalSafe).join(", ")}, ${a.iommu.groups} groups`
      : "none",
  );
  if (a.p2p.providers.length > 0) {
    out.push("", paint.bold("P2P matrix (provider BAR x DMA-capable client)"));
    for (const n of a.p2p.notes) out.push(paint.dim(terminalSafe(n)));
    const nc = a.p2p.clients.length;
    out.push(
      ...formatTable(
        ["provider", ...a.p2p.clients],
        a.p2p.providers.map((p, i) => [
          `${p.bdf} BAR${p.bar}`,
          ...a.p2p.clients.map(
            (_c, j) => `${a.p2p.cells[i * nc + j].type} ${a.p2p.cells[i * nc + j].distance}`,
          ),
        ]),
        { paint },
      ),
    );
  }
  io.stdout.write(`${out.join("\n")}\n`);
  return EXIT_OK;
}
