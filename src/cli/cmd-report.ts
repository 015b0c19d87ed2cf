/**
 * `phyr report`, `phyr analyze` and `phyr topo`: read the machine (live, snapshot, or the reference
 * machine; see source.ts), analyse, print a summary or JSON, and (report) write the self-contained
 * HTML file. Reports of physical runs need frame numbers: without them the command fails in one
 * line (see source.ts). Whenever the reference machine is shown, the first line of the output
 * (and a line on stderr, and the analysis's first access message) says so.
 */

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { analyzeMachine, type MachineAnalysis, type MachineInput } from "../analyze/index.js";
import { writeFileAtomic } from "../linux/index.js";
import {
  displaySafe,
  formatTable,
  type ReportAssets,
  renderReportHtml,
  renderSummary,
  terminalSafe,
} from "../report/index.js";
import { runAllScenarios } from "./cmd-simulate.js";
import { readTraceSummary } from "./cmd-trace.js";
import { machineInput, type Selection } from "./collect.js";
import { CliFailure, type CliIo, EXIT_OK, paintFor, progressFor } from "./io.js";
import { jsonDocument, TOPO_SCHEMA, type TopoJson } from "./json.js";
import { liveRoots, type OpenedSource, openSource, type SourceChoice, type SourceNeeds } from "./source.js";
import { whatIfLines } from "./what-if-lines.js";
import { collectBuffersOnWorkers, type WorkerSource } from "./workers.js";

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

/** How a command prints the terminal summary (report, analyze). */
export interface SummaryFlags {
  /** Processes listed (default 10). */
  top?: number;
  sort?: "pages" | "runs" | "name";
  /** Ignore COLUMNS: full-width tables. */
  wide?: boolean;
  /**
   * Worker threads reading processes; default: the live machine, autoWorkers() of the resident pages read; the reference
   * machine 1 (its few processes take less than building it again in each worker).
   */
  workers?: number;
}

async function withSource<T>(
  io: CliIo,
  choice: SourceChoice,
  needs: SourceNeeds,
  fn: (s: OpenedSource) => T | Promise<T>,
): Promise<T> {
  const path =
    choice.snapshot === undefined || choice.snapshot === "-"
      ? choice.snapshot
      : resolve(io.cwd ?? process.cwd(), choice.snapshot);
  const opened = await openSource(io.env, { ...choice, snapshot: path, limits: io.limits }, needs);
  try {
    return await fn(opened);
  } finally {
    opened.src.close();
  }
}

/**
 * The sentence that starts every output about the reference machine: chosen with --reference,
 * or shown by the bare `phyr` command because this machine's frame numbers cannot be read.
 */
export function referenceNotice(fallback?: string): string {
  const what = "REFERENCE MACHINE: phyr's simulated server, not this computer";
  return fallback === undefined
    ? `${what} (--reference)`
    : `${what}; shown because ${fallback} (run as root, or use --snapshot FILE, for a real machine)`;
}

/** Machine facts of the opened source, with the reference notice added to the access messages. */
function facts(opened: OpenedSource): MachineInput {
  const m = machineInput(opened.src, opened.origin);
  if (opened.origin !== "reference") return m;
  return {
    ...m,
    access: { ...m.access, messages: [referenceNotice(opened.fallback), ...m.access.messages] },
  };
}

function analyse(
  io: CliIo,
  sel: Selection,
  choice: SourceChoice,
  scenarios = false,
  workers?: number,
): Promise<MachineAnalysis> {
  return withSource(io, choice, { frames: true }, async (opened) => {
    const m = facts(opened);
    const partial: string[] = [];
    // Workers open the same machine themselves: the live roots or the reference machine (a
    // snapshot is read in this thread, where it is loaded already).
    const how: WorkerSource | undefined =
      opened.origin === "live"
        ? { kind: "live", ...liveRoots(io.env) }
        : opened.origin === "reference"
          ? { kind: "reference" }
          : undefined;
    // Plain progress lines are for long reads of a real machine, not the in-memory reference one.
    const progress = progressFor(io, opened.origin !== "reference");
    const n = workers ?? (opened.origin === "live" ? "auto" : 1);
    const buffers = await collectBuffersOnWorkers(opened.src, how, sel, progress, partial, n);
    return analyzeMachine(m, buffers, {
      scenarios: scenarios ? runAllScenarios(1) : [],
      partial,
      maxP2pCells: io.limits?.maxP2pCells,
    });
  });
}

/** JSON on stdout; about the reference machine, the notice goes first on stderr (JSON has no place for it first). */
function printJson(io: CliIo, value: { origin: string; access: { messages: string[] } }): void {
  if (value.origin === "reference") io.stderr.write(`phyr: ${value.access.messages[0]}\n`);
  io.stdout.write(jsonDocument(value));
}

/** Terminal width for tables: COLUMNS when set and stdout is a terminal or COLUMNS is given; none with --wide. */
function tableWidth(io: CliIo, wide: boolean | undefined): number | undefined {
  if (wide) return undefined;
  const cols = Number.parseInt(io.env.COLUMNS ?? "", 10);
  if (Number.isInteger(cols) && cols >= 40) return cols;
  const tty = (io.stdout as { columns?: number }).columns;
  return io.stdout.isTTY === true && typeof tty === "number" && tty >= 40 ? tty : undefined;
}

/**
 * The terminal summary: the report layer's summary, then what-if, completeness notes and the
 * verdict. For the reference machine the notice is the first line.
 */
function summaryLines(io: CliIo, a: MachineAnalysis, flags: SummaryFlags): string[] {
  const paint = paintFor(io.stdout, io.env);
  const width = tableWidth(io, flags.wide);
  const out: string[] = [];
  let shown = a;
  if (a.origin === "reference") {
    out.push(paint.yellow(paint.bold(a.access.messages[0])));
    shown = { ...a, access: { ...a.access, messages: a.access.messages.slice(1) } };
  }
  out.push(...renderSummary(shown, { paint, top: flags.top, sort: flags.sort, width }));
  if (a.whatIf.length > 0) out.push("", ...whatIfLines(a, paint, width));
  out.push("", paint.bold("Verdict"), ...a.verdict.lines);
  for (const n of a.completeness.notes) out.push(paint.yellow(`! ${terminalSafe(n)}`));
  return out;
}

/**
 * `phyr report`: every process of the live machine (or a snapshot, or the reference machine);
 * summary (or JSON) and, when asked or by default without --json, report.html.
 * @returns exit code 0.
 * @throws CliFailure when the machine cannot be read (or its frame numbers are hidden) or the
 *   report cannot be written; UsageError for conflicting flags.
 */
export async function runReport(
  io: CliIo,
  o: { out: string; html: boolean; json: boolean; scenarios?: boolean; trace?: string } & SourceChoice &
    SummaryFlags,
): Promise<number> {
  const choice = { snapshot: o.snapshot, reference: o.reference, fallback: o.fallback };
  const analysed = await analyse(io, { pids: [], all: true }, choice, o.scenarios === true, o.workers);
  // --trace FILE: the trace's per-device summary rides along as the analysis' `trace` member.
  const a = o.trace === undefined ? analysed : { ...analysed, trace: await readTraceSummary(io, o.trace) };
  let written = "";
  if (o.html) {
    const path = resolve(io.cwd ?? process.cwd(), o.out);
    try {
      // Whole or not at all: a temporary file beside it, fsynced and renamed (a planted symlink
      // at the name is replaced, not followed).
      // Untrusted names shown with their control and bidi characters escaped (displaySafe).
      writeFileAtomic(path, renderReportHtml(displaySafe(a), readReportAssets()));
    } catch (e) {
      if (e instanceof CliFailure) throw e;
      throw new CliFailure(`cannot write the report to ${path}: ${(e as Error).message}`);
    }
    written = path;
  }
  if (o.json) {
    printJson(io, a);
    if (written) io.stderr.write(`phyr: report written to ${terminalSafe(written)}\n`);
  } else {
    const paint = paintFor(io.stdout, io.env);
    io.stdout.write(`${summaryLines(io, a, o).join("\n")}\n`);
    if (written) io.stdout.write(`\n${paint.green("Report written to")} ${terminalSafe(written)}\n`);
  }
  return EXIT_OK;
}

/**
 * `phyr analyze`: the selected processes or range; summary or JSON.
 * @returns exit code 0.
 * @throws CliFailure for an unknown or unreadable pid or hidden frame numbers; UsageError for
 *   conflicting source flags.
 */
export async function runAnalyze(
  io: CliIo,
  sel: Selection,
  json: boolean,
  choice: SourceChoice = {},
  flags: SummaryFlags = {},
): Promise<number> {
  const a = await analyse(io, { ...sel, runMaps: json }, choice, false, flags.workers);
  if (json) printJson(io, a);
  else io.stdout.write(`${summaryLines(io, a, flags).join("\n")}\n`);
  return EXIT_OK;
}

/**
 * `phyr topo`: physical map, PCI tree, IOMMU presence, P2P matrix (no process memory).
 * @returns exit code 0.
 * @throws UsageError for conflicting source flags; CliFailure for an unreadable source.
 */
export async function runTopo(
  io: CliIo,
  json: boolean,
  choice: SourceChoice = {},
  wide = false,
): Promise<number> {
  const a = await withSource(io, choice, { frames: false }, (opened) =>
    analyzeMachine(facts(opened), [], { maxP2pCells: io.limits?.maxP2pCells }),
  );
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
  const width = tableWidth(io, wide);
  const out: string[] = [];
  const messages = [...a.access.messages];
  if (a.origin === "reference") out.push(paint.yellow(paint.bold(messages.shift() ?? "")));
  out.push(
    paint.bold(
      `phyr topo — ${terminalSafe(a.host.hostname)} (${a.origin}, kernel ${terminalSafe(a.host.kernel)})`,
    ),
  );
  for (const m of messages) out.push(paint.yellow(`! ${m}`));
  out.push("", paint.bold(`Physical map (${a.physmap.regions.length} regions)`));
  if (a.access.iomem) {
    out.push(
      ...formatTable(
        ["start", "end", "size", "name"],
        a.physmap.regions.map((r) => [r.start, r.end, r.bytes, `${"  ".repeat(r.depth)}${r.name}`]),
        { paint, maxWidth: 60, width },
      ),
    );
  } else {
    // kernel/resource.c r_show(): without CAP_SYS_ADMIN every range prints as 0-0, so only the
    // names and their nesting are real.
    out.push("addresses hidden (read as 0 without CAP_SYS_ADMIN): names only");
    out.push(...a.physmap.regions.map((r) => `${"  ".repeat(r.depth)}${terminalSafe(r.name)}`));
  }
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
        { paint, width },
      ),
    );
  }
  io.stdout.write(`${out.join("\n")}\n`);
  return EXIT_OK;
}
