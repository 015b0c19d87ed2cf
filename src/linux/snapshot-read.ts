/**
 * `loadSnapshot()`: reads a `phyr-snapshot` v1 file as a stream (gunzip when it starts with
 * 1f 8b), splitting lines itself so no line may exceed `maxLineBytes` and the whole input may not
 * exceed `maxTotalBytes`; each line is parsed alone and validated by its strict schema. The result
 * is a {@link MachineSource} giving back the same structures the live readers give. Snapshot
 * contents are untrusted: every error is a ParseError whose path is `<file>:<record>.<field>`.
 */
import { open } from "node:fs/promises";
import { basename } from "node:path";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { hex, PAGE_SIZE } from "../core/index.js";
import { MAX_PFN, PageRuns, RunFlag } from "../machine/index.js";
import type { AccessProbe } from "./access.js";
import type { IomemResource } from "./iomem.js";
import type { VmaStats } from "./maps.js";
import type { IommuInfo, PciDevice } from "./pci.js";
import type { KernelInfo, ProcessInfo } from "./processes.js";
import {
  fail,
  type LoadOptions,
  limitError,
  loadLimits,
  parseRecord,
  splitLines,
  startsWithGzip,
} from "./snapshot-lines.js";
import { type HeaderRecord, RUNS_PER_RECORD, type RunsRecord, type VmaRecord } from "./snapshot-schema.js";
import { clipRuns, type MachineSource } from "./source.js";

export { LOAD_LIMITS, type LoadOptions } from "./snapshot-lines.js";

const num = (h: string) => Number.parseInt(h.slice(2), 16);

/** A loaded snapshot: a {@link MachineSource} over data held in memory (runs in typed arrays). */
export class SnapshotSource implements MachineSource {
  readonly origin: string;
  /** Header as written (format, version, capturedAt, anonymized). */
  header!: HeaderRecord;
  private iomemTree: IomemResource[] = [];
  private pciDevices: PciDevice[] = [];
  private iommu: IommuInfo = { units: [], groups: [] };
  private procs: ProcessInfo[] = [];
  private readonly vmaMap = new Map<number, VmaStats[]>();
  private readonly runMap = new Map<number, PageRuns[]>();
  /** Strings capture shortened and list entries it left out to fit the format's limits (end record). */
  truncated = 0;
  /** Per pid, per VMA: the error text when its pagemap was unreadable at capture, else undefined. */
  readonly vmaErrors = new Map<number, (string | undefined)[]>();

  constructor(origin: string) {
    this.origin = origin;
  }
  kernel(): KernelInfo {
    return { ...this.header.kernel };
  }
  access(): AccessProbe {
    const a = this.header.access;
    return { ...a, capSysAdmin: a.capSysAdmin ?? undefined, messages: [...a.messages] };
  }
  iomem(): IomemResource[] {
    return this.iomemTree;
  }
  pci(): PciDevice[] {
    return this.pciDevices;
  }
  iommus(): IommuInfo {
    return this.iommu;
  }
  processes(): ProcessInfo[] {
    return this.procs;
  }
  vmas(pid: number): VmaStats[] {
    const v = this.vmaMap.get(pid);
    if (!v) throw new RangeError(`pid ${pid} is not in snapshot ${this.origin}`);
    return v;
  }
  /** Runs of the captured VMAs clipped to the range (rounded out to pages). O(runs). @throws RangeError */
  runs(pid: number, vaStart: number, vaEnd: number): PageRuns {
    const parts = this.runMap.get(pid);
    if (!parts) throw new RangeError(`pid ${pid} is not in snapshot ${this.origin}`);
    return clipRuns(
      parts,
      Math.floor(vaStart / PAGE_SIZE) * PAGE_SIZE,
      Math.ceil(vaEnd / PAGE_SIZE) * PAGE_SIZE,
    );
  }
  /** Runs of VMA `index` of `pid` exactly as captured. @throws RangeError */
  vmaRuns(pid: number, index: number): PageRuns {
    const r = this.runMap.get(pid)?.[index];
    if (!r) throw new RangeError(`VMA ${index} of pid ${pid} is not in snapshot ${this.origin}`);
    return r;
  }
  close(): void {}

  /** @internal builds the tree from the flattened records */
  setIomem(
    file: string,
    rec: number,
    flat: { start: string; end: string; name: string; depth: number }[],
  ): void {
    const stack: IomemResource[] = [];
    for (let i = 0; i < flat.length; i++) {
      const f = flat[i];
      const r: IomemResource = {
        start: num(f.start),
        end: num(f.end),
        name: f.name,
        depth: f.depth,
        children: [],
      };
      if (r.start > r.end) throw fail(file, rec, `resources.${i}.start`, `${f.start} is above end ${f.end}`);
      if (f.depth > stack.length)
        throw fail(file, rec, `resources.${i}.depth`, `depth ${f.depth} skips a level`);
      stack.length = f.depth;
      const parent = stack[f.depth - 1];
      if (parent && (r.start < parent.start || r.end > parent.end))
        throw fail(file, rec, `resources.${i}`, "lies outside its parent");
      (parent ? parent.children : this.iomemTree).push(r);
      stack.push(r);
    }
  }
  /** @internal */
  setPci(devices: PciDevice[]): void {
    this.pciDevices = devices;
  }
  /** @internal */
  setIommu(info: IommuInfo): void {
    this.iommu = info;
  }
  /** @internal */
  addProcess(p: ProcessInfo): void {
    this.procs.push(p);
    this.vmaMap.set(p.pid, []);
    this.runMap.set(p.pid, []);
    this.vmaErrors.set(p.pid, []);
  }
  /** @internal */
  addVma(v: VmaStats, runs: PageRuns, error: string | undefined): void {
    const pid = this.procs[this.procs.length - 1].pid;
    this.vmaMap.get(pid)!.push(v);
    this.runMap.get(pid)!.push(runs);
    this.vmaErrors.get(pid)!.push(error);
  }
}

/** Names of standard input read as "-". */
const STDIN_PATHS = new Set(["/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"]);

/**
 * Loads a snapshot written by `capture()`. The file is opened once and read once, as a stream, so
 * a pipe, a FIFO or `/dev/stdin` works like a file (a FIFO with no writer waits for one, as any
 * reader of a FIFO does; the wait does not block the event loop). Memory and time are O(input):
 * runs in typed arrays, about 1 KiB per VMA and 26 bytes per run.
 * @param path snapshot file (plain or gzip), or "-" (or /dev/stdin) for standard input
 * @param opts size and count limits ({@link LOAD_LIMITS} by default)
 * @returns a MachineSource with the captured data
 * @throws RangeError for a limit that is not a positive integer; LimitExceeded when the input
 *   passes a limit (naming it); ParseError naming `<file>:<record>.<field>` for bad JSON, schema
 *   violations, wrong format or version, records out of order, inconsistent counts,
 *   truncation (missing `end` record or cut-off gzip); Node errno errors when unreadable
 */
export async function loadSnapshot(path: string, opts: LoadOptions = {}): Promise<SnapshotSource> {
  const limits = loadLimits(opts);
  // Standard input by any of its names: a socket (what some parents give as stdin) cannot be
  // opened by path (ENXIO), so these read the descriptor already open.
  if (path === "-" || STDIN_PATHS.has(path)) return loadSnapshotStream(process.stdin, "<stdin>", limits);
  const handle = await open(path, "r");
  return loadSnapshotStream(handle.createReadStream(), basename(path), limits);
}

/**
 * Loads a snapshot from a stream (see {@link loadSnapshot}); the stream is read to its end or
 * until an error, then destroyed. O(input).
 * @param raw the bytes (plain or gzip, detected by the magic 1f 8b)
 * @param file name used in errors
 * @param opts limits
 * @throws as {@link loadSnapshot}
 */
export async function loadSnapshotStream(
  raw: Readable,
  file: string,
  opts: LoadOptions = {},
): Promise<SnapshotSource> {
  const limits = loadLimits(opts);
  const maxLine = limits.maxLineBytes;
  const maxTotal = limits.maxTotalBytes;
  let gzip: boolean;
  try {
    gzip = await startsWithGzip(raw);
  } catch (e) {
    raw.destroy();
    throw e;
  }
  const stream: Readable = gzip ? raw.pipe(createGunzip()) : raw;
  if (stream !== raw) {
    raw.on("error", (e) => stream.destroy(e));
    stream.on("close", () => raw.destroy());
  }
  let vmaCount = 0;
  let runCount = 0;
  let procCount = 0;
  const snap = new SnapshotSource(file);
  const order = ["header", "iomem", "pci", "iommu"] as const;
  let rec = 0;
  let ended = false;
  let pid = -1;
  let vma: { rec: number; v: VmaRecord; runs: PageRuns; present: number } | undefined;
  const finishVma = () => {
    if (!vma) return;
    const { v, runs } = vma;
    if (runs.count !== v.runs)
      throw fail(file, vma.rec, "runs", `declares ${v.runs} runs but ${runs.count} follow`);
    if (runs.presentPages !== vma.present)
      throw fail(
        file,
        vma.rec,
        "pages.present",
        `is ${vma.present} but the runs hold ${runs.presentPages} pages`,
      );
    try {
      runs.checkValid();
    } catch (e) {
      throw fail(file, vma.rec, "pages", (e as Error).message);
    }
    vma = undefined;
  };
  for await (const line of splitLines(stream, file, maxLine, maxTotal)) {
    rec++;
    if (ended) throw fail(file, rec, "", "data after the end record");
    const { type, data } = parseRecord(file, rec, line);
    if (rec <= order.length) {
      if (type !== order[rec - 1])
        throw fail(file, rec, "type", `expected a ${order[rec - 1]} record, got ${type}`);
    } else if (order.includes(type as (typeof order)[number]))
      throw fail(file, rec, "type", `a second ${type} record`);
    switch (type) {
      case "header":
        snap.header = data as HeaderRecord;
        break;
      case "iomem":
        snap.setIomem(
          file,
          rec,
          (data as { resources: { start: string; end: string; name: string; depth: number }[] }).resources,
        );
        break;
      case "pci": {
        const devs = (
          data as {
            devices: (Omit<PciDevice, "resources"> & {
              resources: { index: number; start: string; end: string; flags: number }[];
            })[];
          }
        ).devices;
        snap.setPci(
          devs.map((d) => ({
            ...d,
            resources: d.resources.map((r) => ({
              index: r.index,
              start: num(r.start),
              end: num(r.end),
              flags: r.flags,
            })),
          })),
        );
        break;
      }
      case "iommu": {
        const d = data as IommuInfo & { type: string };
        snap.setIommu({ units: d.units, groups: d.groups });
        break;
      }
      case "process": {
        finishVma();
        const p = data as ProcessInfo & { type: string };
        if (++procCount > limits.maxProcesses)
          throw limitError(file, rec, "processes", "maxProcesses", limits.maxProcesses);
        if (p.pid <= pid) throw fail(file, rec, "pid", `pid ${p.pid} is not above the previous ${pid}`);
        pid = p.pid;
        snap.addProcess({ pid: p.pid, comm: p.comm, cmdline: p.cmdline });
        break;
      }
      case "vma": {
        finishVma();
        const v = data as VmaRecord;
        if (++vmaCount > limits.maxVmas) throw limitError(file, rec, "VMAs", "maxVmas", limits.maxVmas);
        if (v.pid !== pid)
          throw fail(file, rec, "pid", `VMA of pid ${v.pid} outside its process record (current ${pid})`);
        const start = num(v.start);
        const end = num(v.end);
        if (start % PAGE_SIZE !== 0 || end % PAGE_SIZE !== 0 || end <= start)
          throw fail(file, rec, "end", `${v.start}-${v.end} is not a page-aligned range`);
        const prev = snap.vmas(pid).at(-1);
        if (prev && start < prev.end)
          throw fail(file, rec, "start", `${v.start} overlaps the VMA before (ends ${hex(prev.end)})`);
        if (v.error !== undefined && (v.runs !== 0 || v.pages.present !== 0))
          throw fail(file, rec, "error", "an unreadable VMA cannot have runs");
        // The declared count is untrusted: start at one record's worth and grow as runs arrive.
        const runs = new PageRuns(start, end, Math.max(1, Math.min(v.runs, RUNS_PER_RECORD)));
        runs.swappedPages = v.pages.swapped;
        runs.unmappedPages = v.pages.unmapped;
        runs.hiddenPages = v.pages.hidden;
        const { type: _t, pid: _pid, pages: _p, runs: _r, error, ...stats } = v;
        snap.addVma({ ...stats, start, end, offset: v.offset }, runs, error);
        vma = { rec, v, runs, present: v.pages.present };
        if (v.pages.present + v.pages.swapped + v.pages.unmapped !== runs.totalPages) {
          throw fail(
            file,
            rec,
            "pages",
            `present + swapped + unmapped = ${v.pages.present + v.pages.swapped + v.pages.unmapped}, the VMA has ${runs.totalPages} pages`,
          );
        }
        break;
      }
      case "runs": {
        const r = data as RunsRecord;
        if (!vma || r.pid !== pid || r.vma !== vma.v.start)
          throw fail(file, rec, "vma", `runs for ${r.pid}/${r.vma} do not follow their VMA record`);
        const n = r.va.length;
        for (const f of ["pfn", "npages", "flags", "kind"] as const) {
          if (r[f].length !== n) throw fail(file, rec, f, `has ${r[f].length} entries, va has ${n}`);
        }
        const runs = vma.runs;
        if (runs.count + n > vma.v.runs)
          throw fail(file, rec, "va", `more runs than the ${vma.v.runs} the VMA declares`);
        runCount += n;
        if (runCount > limits.maxRuns) throw limitError(file, rec, "runs", "maxRuns", limits.maxRuns);
        for (let i = 0; i < n; i++) {
          const va = num(r.va[i]);
          const prevEnd =
            runs.count > 0 ? runs.va[runs.count - 1] + runs.npages[runs.count - 1] * PAGE_SIZE : runs.vaStart;
          if (va % PAGE_SIZE !== 0 || va < prevEnd || va + r.npages[i] * PAGE_SIZE > runs.vaEnd)
            throw fail(
              file,
              rec,
              `va.${i}`,
              `run at ${r.va[i]} is unaligned, out of order or outside its VMA`,
            );
          // What PageRuns.checkValid() checks per run, named here at the runs record.
          if (num(r.pfn[i]) + r.npages[i] > MAX_PFN)
            throw fail(file, rec, `pfn.${i}`, `frames ${r.pfn[i]}+${r.npages[i]} reach beyond 2^40`);
          if ((r.flags[i] & RunFlag.PRESENT) === 0)
            throw fail(file, rec, `flags.${i}`, `${r.flags[i]} lacks the present bit (1)`);
          runs.push(va, num(r.pfn[i]), r.npages[i], r.flags[i], r.kind[i]);
          runs.presentPages += r.npages[i];
        }
        if (runs.presentPages > vma.present)
          throw fail(file, rec, "npages", "runs hold more pages than the VMA's present count");
        break;
      }
      case "end": {
        finishVma();
        const e = data as { records: number; truncated?: number };
        snap.truncated = e.truncated ?? 0;
        if (e.records !== rec - 1)
          throw fail(file, rec, "records", `says ${e.records} records came before it, found ${rec - 1}`);
        ended = true;
        break;
      }
    }
  }
  if (rec === 0) throw fail(file, 1, "type", "empty file: expected a header record");
  if (!ended) throw fail(file, rec + 1, "type", "no end record: the snapshot is truncated");
  return snap;
}
