/**
 * Turns a {@link MachineSource} (live machine or snapshot) into the analyze layer's inputs:
 * the machine facts, and one analysed buffer per process or per requested VA range. Buffers are
 * read and analysed one at a time, so only one process's runs are in memory at once.
 */

import { analyzeBuffer, type BufferAnalysis, type BufferInput, type MachineInput } from "../analyze/index.js";
import { hex, PAGE_SIZE } from "../core/index.js";
import {
  IORESOURCE_MEM,
  IORESOURCE_MEM_64,
  IORESOURCE_PREFETCH,
  type MachineSource,
  mappedRangeRuns,
  PageRuns,
  plainError,
  residentPagesOf,
} from "../linux/index.js";
import type { VaRange } from "./args.js";
import { CliFailure, type Progress } from "./io.js";

/** Pseudo VMAs that are not process memory (kernel-provided mappings). */
const SKIP_VMAS = new Set(["[vsyscall]", "[vvar]", "[vvar_vclock]"]);

/**
 * Machine facts of a source in the analyze layer's shape. For a source that knows them (the
 * reference machine), the ACS control bits, allowlist and CPU that sysfs would not show are passed
 * on for the P2P matrix.
 * O(devices + iomem nodes).
 * @param src the source.
 * @param origin how the data was obtained.
 * @returns the machine input.
 */
export function machineInput(src: MachineSource, origin: MachineInput["origin"]): MachineInput {
  const k = src.kernel();
  const access = src.access();
  const platform = src.p2pPlatform?.();
  return {
    origin,
    hostname: k.hostname,
    kernel: k.release,
    pageSize: k.pageSize,
    access: {
      pfns: access.pagemapFrames === "readable",
      iomem: access.iomemAddresses === "readable",
      messages: [...access.messages],
    },
    iomem: src.iomem(),
    pci: src.pci().map((d) => ({
      bdf: d.bdf,
      vendor: d.vendor,
      device: d.device,
      classCode: d.class,
      bars: d.resources
        .filter((r) => r.index < 6)
        .map((r) => ({
          index: r.index,
          start: r.start,
          size: r.end - r.start + 1,
          mem: (r.flags & IORESOURCE_MEM) !== 0,
          prefetch: (r.flags & IORESOURCE_PREFETCH) !== 0,
          is64: (r.flags & IORESOURCE_MEM_64) !== 0,
        })),
      iommuGroup: d.iommuGroup,
      upstream: [...d.upstream],
      ...(platform ? { acsCtrl: platform.acs.get(d.bdf) ?? 0 } : {}),
    })),
    iommus: src.iommus().units,
    ...(platform
      ? { p2pPlatform: { allowlist: platform.allowlist, cpuSupportsP2p: platform.cpuSupportsP2p } }
      : {}),
  };
}

/** Which buffers to analyse. */
export interface Selection {
  /** Processes to analyse; empty with `all` = every process with memory. */
  pids: number[];
  /** Process names: every process whose comm is exactly one of them (like `pgrep -x`). */
  names?: string[];
  all: boolean;
  /** Restrict to this VA range (only with exactly one pid). */
  range?: VaRange;
  /** Include each buffer's run map (default true; the terminal summary shows none). */
  runMaps?: boolean;
}

/** Progress is counted in MiB of virtual range read. */
const MiB = 2 ** 20;

/** What one buffer reads: a process and its VA ranges (its resident VMAs, or the requested range). */
export interface Plan {
  pid: number;
  comm: string;
  /** `resident`: pages smaps says a whole VMA holds (absent for a --range or a VMA without one). */
  ranges: { start: number; end: number; resident?: number }[];
  /** VMAs of the process (0 for a kernel thread; not read for a --range). */
  vmaCount: number;
  /** Include the run map in the analysis (absent: true). */
  runMap?: boolean;
}

/**
 * Reads and analyses the selected buffers, one process at a time. A process that exits while
 * being read is skipped when analysing all processes, and is an error when named. Progress counts
 * MiB of virtual range read (pagemap batches within a VMA on the live machine), so one large
 * process moves the bar too. {@link planBuffers}, then {@link bufferOfPlan} per plan, then
 * {@link finishBuffers}: workers.ts runs the middle step on worker threads with the same result.
 * @param src the source.
 * @param sel which processes / range.
 * @param progress progress reporter.
 * @param partial receives one line per thing asked for and left out or changed: processes skipped
 *   (the first few named, with the reason), a widened or partly unmapped range, a named process
 *   with no user memory.
 * @returns one analysis per buffer.
 * @throws CliFailure for a named pid that does not exist or cannot be read.
 */
export function collectBuffers(
  src: MachineSource,
  sel: Selection,
  progress: Progress,
  partial: string[] = [],
): BufferAnalysis[] {
  return collectPlanned(src, planBuffers(src, sel), sel, progress, partial);
}

/** {@link collectBuffers} of a plan already made (see {@link planBuffers}), in this thread. */
export function collectPlanned(
  src: MachineSource,
  plan: BufferPlan,
  sel: Selection,
  progress: Progress,
  partial: string[] = [],
): BufferAnalysis[] {
  startReading(progress, plan);
  const outcomes: BufferOutcome[] = [];
  try {
    for (const job of plan.jobs) {
      const onBytes = (b: number) => progress.update(Math.floor((job.base + b) / MiB));
      let outcome: BufferOutcome;
      try {
        outcome = bufferOfPlan(src, job, sel, plan.named, onBytes);
      } catch (e) {
        outcome = { error: plainError(e) };
      }
      // A named process that cannot be read ends the run here, as it always has.
      if ("error" in outcome && plan.named) throw failed(job, outcome.error);
      outcomes.push(outcome);
      progress.update(Math.ceil((job.base + jobBytes(job)) / MiB));
    }
  } finally {
    progress.stop();
  }
  return finishBuffers(plan, outcomes, sel, partial);
}

/** Starts `progress` for reading `plan`: MiB of virtual range (the one label and total both threads use). O(1). */
export function startReading(progress: Progress, plan: BufferPlan): void {
  progress.start(Math.max(1, Math.ceil(plan.total / MiB)), "reading memory (MiB)");
}

/** The buffers to read: one job per process, in pid order (or name order), and what was skipped. */
export interface BufferPlan {
  jobs: BufferJob[];
  /** Processes were named (errors are failures, not skips). */
  named: boolean;
  /** Skip notes of processes whose VMAs could not be read. */
  skipped: string[];
  /** Bytes of virtual range all jobs read (progress total). */
  total: number;
}

/** One buffer to read: a process and its ranges; `base`: bytes of the jobs before it (progress). */
export interface BufferJob extends Plan {
  base: number;
}

/** What reading one job gave: its analysis (absent: nothing to show) and notes, or its error. */
export type BufferOutcome =
  | { analysis?: BufferAnalysis; notes: string[] }
  | { error: { message: string; code?: string } };

/**
 * Lists the processes to read and their VMAs (the cheap part, on the calling thread). O(processes
 * + VMAs).
 * @throws CliFailure for a named pid or name that does not exist or cannot be read.
 */
export function planBuffers(src: MachineSource, sel: Selection): BufferPlan {
  const procs = src.processes();
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const names = sel.names ?? [];
  const self = src.origin === "live" ? process.pid : -1;
  const byName = names.flatMap((n) => {
    const found = procs.filter((p) => p.comm === n && p.pid !== self).map((p) => p.pid);
    if (found.length === 0) {
      throw new CliFailure(
        `--pid ${JSON.stringify(n)} is invalid: no process is named exactly that${src.origin === "live" ? "" : ` in ${src.origin}`} (names are compared with the 15-character comm, as pgrep -x does)`,
      );
    }
    return found;
  });
  const wanted = [...new Set([...sel.pids, ...byName])];
  const named = wanted.length > 0;
  const pids = named ? wanted : procs.map((p) => p.pid);
  for (const pid of sel.pids) {
    if (!byPid.has(pid))
      throw new CliFailure(
        `pid ${pid} is invalid: no such process${src.origin === "live" ? "" : ` in ${src.origin}`}`,
      );
  }
  const skipped: string[] = [];
  const jobs: BufferJob[] = [];
  let total = 0;
  for (const pid of pids) {
    const comm = byPid.get(pid)?.comm ?? "";
    try {
      const vmas = sel.range ? [] : src.vmas(pid);
      const job = {
        pid,
        comm,
        ranges: sel.range ? [sel.range] : residentVmas(vmas),
        vmaCount: vmas.length,
        runMap: sel.runMaps !== false,
        base: total,
      };
      jobs.push(job);
      total += jobBytes(job);
    } catch (e) {
      if (named) throw failed({ pid, comm }, plainError(e));
      skipped.push(skipNote(pid, comm, e));
    }
  }
  return { jobs, named, skipped, total };
}

/**
 * Resident pages the plan's jobs hold, as smaps counts them (a range without a count, such as
 * `--range`, counts every page in it): what sizes the work. O(ranges).
 */
export function planPages(plan: BufferPlan): number {
  let pages = 0;
  for (const j of plan.jobs) for (const r of j.ranges) pages += r.resident ?? (r.end - r.start) / PAGE_SIZE;
  return pages;
}

/** Bytes of virtual range a job reads. O(ranges). */
export function jobBytes(p: Plan): number {
  return p.ranges.reduce((s, r) => s + r.end - r.start, 0);
}

/**
 * Reads and analyses one job's buffer (the costly part: any thread with its own source). Plain data
 * in and out. O(pages read + runs).
 * @param onBytes called with bytes of the job's virtual range read so far.
 * @throws the source's errors (a process that exited, permission).
 */
export function bufferOfPlan(
  src: MachineSource,
  p: Plan,
  sel: Pick<Selection, "range">,
  named: boolean,
  onBytes: (bytes: number) => void,
): { analysis?: BufferAnalysis; notes: string[] } {
  const notes: string[] = [];
  const input = sel.range ? rangeBuffer(src, p, sel.range, onBytes) : processBuffer(src, p, onBytes);
  const analysis =
    input.runs.count > 0 || named ? analyzeBuffer(input, { runMap: p.runMap !== false }) : undefined;
  const clipped = sel.range && {
    ...sel.range,
    start: input.vaStart,
    end: input.vaStart + input.vaLength,
  };
  if (sel.range && clipped && (clipped.start !== sel.range.start || clipped.end !== sel.range.end))
    notes.push(
      `--range ${hex(sel.range.start)}-${hex(sel.range.end)} was clipped to the VMAs of pid ${p.pid} it overlaps: ${hex(clipped.start)}-${hex(clipped.end)} (nothing is mapped outside them)`,
    );
  if (named) notes.push(...bufferNotes(p, input, clipped));
  return analysis ? { analysis, notes } : { notes };
}

/**
 * The buffers and notes of the jobs' outcomes (in job order), as {@link collectBuffers} returns them.
 * O(jobs).
 * @throws CliFailure for the first named process that could not be read.
 */
export function finishBuffers(
  plan: BufferPlan,
  outcomes: readonly BufferOutcome[],
  sel: Selection,
  partial: string[],
): BufferAnalysis[] {
  const out: BufferAnalysis[] = [];
  const skipped = [...plan.skipped];
  outcomes.forEach((o, k) => {
    const job = plan.jobs[k];
    if ("error" in o) {
      if (plan.named) throw failed(job, o.error);
      skipped.push(skipNote(job.pid, job.comm, o.error));
      return;
    }
    if (o.analysis) out.push(o.analysis);
    partial.push(...o.notes);
  });
  if (sel.range?.widened) {
    partial.push(
      `--range ${sel.range.requested} was widened to whole 4 KiB pages: ${hex(sel.range.start)}+${hex(sel.range.end - sel.range.start)}`,
    );
  }
  if (skipped.length > 0) {
    const shown = skipped.slice(0, SKIPPED_NAMED);
    const more = skipped.length - shown.length;
    partial.push(
      `${skipped.length} process${skipped.length === 1 ? "" : "es"} skipped: ${shown.join("; ")}${more > 0 ? `; and ${more} more` : ""}`,
    );
  }
  return out;
}

function failed(p: { pid: number; comm: string }, e: { message: string }): CliFailure {
  return new CliFailure(`pid ${p.pid} (${p.comm}) could not be read: ${e.message}`);
}

/** Skipped processes named in the note (the rest are counted). */
const SKIPPED_NAMED = 3;

/** `pid comm (why)` for a process that could not be read (it exited, or permission). */
function skipNote(pid: number, comm: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  const why =
    code === "ENOENT" || code === "ESRCH"
      ? "exited while being read"
      : code === "EACCES" || code === "EPERM"
        ? "permission denied"
        : oneLine((e as Error)?.message ?? String(e));
  return `${pid} ${comm} (${why})`;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

/** Notes on a named buffer: no user memory at all, or a range partly not present. */
function bufferNotes(p: Plan, input: BufferInput, range: VaRange | undefined): string[] {
  const present = countRunPages(input.runs);
  if (!range && p.ranges.length === 0) {
    return [
      p.vmaCount === 0
        ? `pid ${p.pid} (${p.comm}) has no user memory: no VMAs (a kernel thread)`
        : `pid ${p.pid} (${p.comm}) has no resident user memory in its ${p.vmaCount} VMAs`,
    ];
  }
  if (range) {
    const total = (range.end - range.start) / PAGE_SIZE;
    if (present < total) {
      return [
        `--range covers ${total.toLocaleString("en-US")} page${total === 1 ? "" : "s"} of pid ${p.pid}: ${present.toLocaleString("en-US")} present, ${input.unmapped.toLocaleString("en-US")} not present, ${input.swapped.toLocaleString("en-US")} swapped out`,
      ];
    }
  }
  return [];
}

function countRunPages(runs: BufferInput["runs"]): number {
  let n = 0;
  for (let i = 0; i < runs.count; i++) n += runs.npages[i];
  return n;
}

/**
 * The VMAs of a process that hold memory (hugetlb VMAs count: smaps leaves them out of Rss), each
 * with the pages smaps says it holds ({@link residentPagesOf}, the rule capture uses too), so the
 * live source can stop reading once it found them. O(VMAs).
 */
function residentVmas(vmas: ReturnType<MachineSource["vmas"]>): Plan["ranges"] {
  return vmas
    .filter((v) => (v.rss > 0 || v.hugetlb > 0) && !SKIP_VMAS.has(v.path))
    .map((v) => {
      const resident = residentPagesOf(v);
      return resident === undefined
        ? { start: v.start, end: v.end }
        : { start: v.start, end: v.end, resident };
    });
}

/** Runs of one whole VMA; `onBytes` gets the bytes read of the process (after each pagemap batch). */
function readRuns(
  src: MachineSource,
  pid: number,
  v: Plan["ranges"][number],
  base: number,
  onBytes: (bytes: number) => void,
) {
  return src.runs(pid, v.start, v.end, {
    onProgress: (doneBytes) => onBytes(base + doneBytes),
    residentPages: v.resident,
  });
}

function toInput(
  pid: number,
  comm: string,
  label: string,
  runs: PageRuns,
  vaStart: number,
  vaLength: number,
): BufferInput {
  return {
    label,
    pid,
    comm,
    vaStart,
    vaLength,
    runs,
    swapped: runs.swappedPages,
    unmapped: runs.unmappedPages,
  };
}

/** The pages of [range.start, range.end) of one process. */
function rangeBuffer(
  src: MachineSource,
  p: Plan,
  range: VaRange,
  onBytes: (bytes: number) => void,
): BufferInput {
  // Clipped to the process's VMAs: pagemap is read only where something is mapped, so the work
  // follows the mapped part, and never reaches past the top of the user address space.
  const length = range.end - range.start;
  const r = mappedRangeRuns(src, p.pid, range.start, range.end, (done, total) =>
    onBytes((done / total) * length),
  );
  return toInput(
    p.pid,
    p.comm,
    `${p.pid} ${p.comm} ${hex(r.start)}+${hex(r.end - r.start)}`,
    r.runs,
    r.start,
    r.end - r.start,
  );
}

/**
 * Every resident VMA of one process, concatenated in VA order (no runs for a process without
 * memory).
 */
function processBuffer(src: MachineSource, p: Plan, onBytes: (bytes: number) => void): BufferInput {
  const vmas = p.ranges;
  const label = `${p.pid} ${p.comm}`;
  if (vmas.length === 0) return toInput(p.pid, p.comm, label, new PageRuns(0, 0, 1), 0, 0);
  const all = new PageRuns(vmas[0].start, vmas[vmas.length - 1].end);
  let length = 0;
  for (const v of vmas) {
    const r = readRuns(src, p.pid, v, length, onBytes);
    // One VMA: its runs are the buffer's (no copy).
    if (vmas.length === 1) return toInput(p.pid, p.comm, label, r, v.start, v.end - v.start);
    all.appendRuns(r);
    all.presentPages += r.presentPages;
    all.swappedPages += r.swappedPages;
    all.unmappedPages += r.unmappedPages;
    all.hiddenPages += r.hiddenPages;
    length += v.end - v.start;
  }
  return toInput(p.pid, p.comm, label, all, vmas[0].start, length);
}
