/**
 * Turns a {@link MachineSource} (live machine or snapshot) into the analyze layer's inputs:
 * the machine facts, and one analysed buffer per process or per requested VA range. Buffers are
 * read and analysed one at a time, so only one process's runs are in memory at once.
 */

import { analyzeBuffer, type BufferAnalysis, type BufferInput, type MachineInput } from "../analyze/index.js";
import { hex } from "../core/index.js";
import { IORESOURCE_MEM, IORESOURCE_PREFETCH, type MachineSource, PageRuns } from "../linux/index.js";
import { ReferenceSource } from "../machine/index.js";
import type { VaRange } from "./args.js";
import { CliFailure, type Progress } from "./io.js";

/** IORESOURCE_MEM_64 (include/linux/ioport.h). */
const IORESOURCE_MEM_64 = 0x100000;
/** Pseudo VMAs that are not process memory (kernel-provided mappings). */
const SKIP_VMAS = new Set(["[vsyscall]", "[vvar]", "[vvar_vclock]"]);

/**
 * Machine facts of a source in the analyze layer's shape. For the reference machine, the ACS
 * control bits, allowlist and CPU that sysfs would not show are passed on for the P2P matrix.
 * O(devices + iomem nodes).
 * @param src the source.
 * @param origin how the data was obtained.
 * @returns the machine input.
 */
export function machineInput(src: MachineSource, origin: MachineInput["origin"]): MachineInput {
  const k = src.kernel();
  const access = src.access();
  const platform = src instanceof ReferenceSource ? src.p2pPlatform() : undefined;
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

/**
 * Reads and analyses the selected buffers, one process at a time. A process that exits while
 * being read is skipped when analysing all processes, and is an error when named.
 * @param src the source.
 * @param sel which processes / range.
 * @param progress progress reporter (pages of VA read).
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
  const out: BufferAnalysis[] = [];
  progress.start(pids.length, "reading processes");
  pids.forEach((pid, i) => {
    const comm = byPid.get(pid)?.comm ?? "";
    try {
      const input = sel.range ? rangeBuffer(src, pid, comm, sel.range) : processBuffer(src, pid, comm);
      if (input.runs.count > 0 || named) out.push(analyzeBuffer(input));
    } catch (e) {
      if (named) {
        progress.stop();
        throw new CliFailure(`pid ${pid} (${comm}) could not be read: ${(e as Error).message}`);
      }
    }
    progress.update(i + 1);
  });
  progress.stop();
  return out;
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
function rangeBuffer(src: MachineSource, pid: number, comm: string, range: VaRange): BufferInput {
  const runs = src.runs(pid, range.start, range.end);
  return toInput(
    pid,
    comm,
    `${pid} ${comm} ${hex(range.start)}+${hex(range.end - range.start)}`,
    runs,
    range.start,
    range.end - range.start,
  );
}

/**
 * Every resident VMA of one process, concatenated in VA order (no runs for a process without
 * memory). Hugetlb VMAs count as resident by their hugetlb bytes: smaps leaves them out of Rss.
 */
function processBuffer(src: MachineSource, pid: number, comm: string): BufferInput {
  const vmas = src.vmas(pid).filter((v) => (v.rss > 0 || v.hugetlb > 0) && !SKIP_VMAS.has(v.path));
  if (vmas.length === 0) return toInput(pid, comm, `${pid} ${comm}`, new PageRuns(0, 0, 1), 0, 0);
  const all = new PageRuns(vmas[0].start, vmas[vmas.length - 1].end);
  let length = 0;
  for (const v of vmas) {
    const r = src.runs(pid, v.start, v.end);
    for (let i = 0; i < r.count; i++) all.push(r.va[i], r.pfn[i], r.npages[i], r.flags[i], r.kind[i]);
    all.presentPages += r.presentPages;
    all.swappedPages += r.swappedPages;
    all.unmappedPages += r.unmappedPages;
    all.hiddenPages += r.hiddenPages;
    length += v.end - v.start;
  }
  return toInput(pid, comm, `${pid} ${comm}`, all, vmas[0].start, length);
}
