/**
 * Turns a {@link MachineSource} (live machine or snapshot) into the analyze layer's inputs:
 * the machine facts, and one analysed buffer per process or per requested VA range. Buffers are
 * read and analysed one at a time, so only one process's runs are in memory at once.
 */

import { analyzeBuffer, type BufferAnalysis, type BufferInput, type MachineInput } from "../analyze/index.js";
import { hex } from "../core/index.js";
import {
  IORESOURCE_MEM,
  IORESOURCE_MEM_64,
  IORESOURCE_PREFETCH,
  type MachineSource,
  PageRuns,
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
  all: boolean;
  /** Restrict to this VA range (only with exactly one pid). */
  range?: VaRange;
}

/** Progress is counted in MiB of virtual range read. */
const MiB = 2 ** 20;

/** What one buffer reads: a process and its VA ranges (its resident VMAs, or the requested range). */
interface Plan {
  pid: number;
  comm: string;
  ranges: { start: number; end: number }[];
}

/**
 * Reads and analyses the selected buffers, one process at a time. A process that exits while
 * being read is skipped when analysing all processes, and is an error when named. Progress counts
 * MiB of virtual range read (pagemap batches within a VMA on the live machine), so one large
 * process moves the bar too.
 * @param src the source.
 * @param sel which processes / range.
 * @param progress progress reporter.
 * @returns one analysis per buffer.
 * @throws CliFailure for a named pid that does not exist or cannot be read.
 */
export function collectBuffers(src: MachineSource, sel: Selection, progress: Progress): BufferAnalysis[] {
  const procs = src.processes();
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const named = sel.pids.length > 0;
  const pids = named ? sel.pids : procs.map((p) => p.pid);
  for (const pid of sel.pids) {
    if (!byPid.has(pid))
      throw new CliFailure(
        `pid ${pid} is invalid: no such process${src.origin === "live" ? "" : ` in ${src.origin}`}`,
      );
  }
  const failed = (pid: number, comm: string, e: unknown): CliFailure =>
    new CliFailure(`pid ${pid} (${comm}) could not be read: ${(e as Error).message}`);
  const plans: Plan[] = [];
  for (const pid of pids) {
    const comm = byPid.get(pid)?.comm ?? "";
    try {
      plans.push({ pid, comm, ranges: sel.range ? [sel.range] : residentVmas(src, pid) });
    } catch (e) {
      if (named) throw failed(pid, comm, e);
    }
  }
  const total = plans.reduce((t, p) => t + p.ranges.reduce((s, r) => s + r.end - r.start, 0), 0);
  progress.start(Math.max(1, Math.ceil(total / MiB)), "reading memory (MiB)");
  let done = 0;
  const out: BufferAnalysis[] = [];
  try {
    for (const p of plans) {
      try {
        const input = sel.range
          ? rangeBuffer(src, p, sel.range, done, progress)
          : processBuffer(src, p, done, progress);
        if (input.runs.count > 0 || named) out.push(analyzeBuffer(input));
      } catch (e) {
        if (named) throw failed(p.pid, p.comm, e);
      }
      done += p.ranges.reduce((s, r) => s + r.end - r.start, 0);
      progress.update(Math.ceil(done / MiB));
    }
  } finally {
    progress.stop();
  }
  return out;
}

/** The VMAs of a process that hold memory (hugetlb VMAs count: smaps leaves them out of Rss). */
function residentVmas(src: MachineSource, pid: number): { start: number; end: number }[] {
  return src
    .vmas(pid)
    .filter((v) => (v.rss > 0 || v.hugetlb > 0) && !SKIP_VMAS.has(v.path))
    .map((v) => ({ start: v.start, end: v.end }));
}

/** Runs of one range, moving the progress bar by the bytes of each pagemap batch. */
function readRuns(
  src: MachineSource,
  pid: number,
  start: number,
  end: number,
  base: number,
  progress: Progress,
) {
  return src.runs(pid, start, end, {
    onProgress: (doneBytes) => progress.update(Math.floor((base + doneBytes) / MiB)),
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
  base: number,
  progress: Progress,
): BufferInput {
  const runs = readRuns(src, p.pid, range.start, range.end, base, progress);
  return toInput(
    p.pid,
    p.comm,
    `${p.pid} ${p.comm} ${hex(range.start)}+${hex(range.end - range.start)}`,
    runs,
    range.start,
    range.end - range.start,
  );
}

/**
 * Every resident VMA of one process, concatenated in VA order (no runs for a process without
 * memory).
 */
function processBuffer(src: MachineSource, p: Plan, base: number, progress: Progress): BufferInput {
  const vmas = p.ranges;
  const label = `${p.pid} ${p.comm}`;
  if (vmas.length === 0) return toInput(p.pid, p.comm, label, new PageRuns(0, 0, 1), 0, 0);
  const all = new PageRuns(vmas[0].start, vmas[vmas.length - 1].end);
  let length = 0;
  for (const v of vmas) {
    const r = readRuns(src, p.pid, v.start, v.end, base + length, progress);
    for (let i = 0; i < r.count; i++) all.push(r.va[i], r.pfn[i], r.npages[i], r.flags[i], r.kind[i]);
    all.presentPages += r.presentPages;
    all.swappedPages += r.swappedPages;
    all.unmappedPages += r.unmappedPages;
    all.hiddenPages += r.hiddenPages;
    length += v.end - v.start;
  }
  return toInput(p.pid, p.comm, label, all, vmas[0].start, length);
}
