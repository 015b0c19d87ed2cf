/**
 * `capture()`: streams a machine (processes, VMAs with their runs, iomem, PCI, IOMMUs, kernel,
 * access) into a `phyr-snapshot` v1 file, one record per line, optionally gzip-compressed. Memory
 * stays O(one VMA's runs); the file is never built in memory.
 */

import { once } from "node:events";
import { createWriteStream, openSync, type WriteStream } from "node:fs";
import { finished } from "node:stream/promises";
import { createGzip, type Gzip } from "node:zlib";
import { hex } from "../core/index.js";
import type { ReaderOptions } from "./io.js";
import { walkIomem } from "./iomem.js";
import type { VmaStats } from "./maps.js";
import { RUNS_PER_RECORD, SNAPSHOT_FORMAT, SNAPSHOT_VERSION } from "./snapshot-schema.js";
import { liveSource, type MachineSource } from "./source.js";

/** Options of {@link capture}. */
export interface CaptureOptions extends ReaderOptions {
  /** Output file. */
  out: string;
  /** Processes to capture (default "all"). */
  pids?: readonly number[] | "all";
  /** Replace process names with proc-<n>, paths with file-<n>, hostname with "host". */
  anonymize?: boolean;
  /** Gzip the output. */
  gzip?: boolean;
  /** Called after each process: processes done, processes in total. */
  onProgress?: (done: number, total: number) => void;
  /** Machine to capture (default: {@link liveSource} over procRoot/sysRoot). */
  source?: MachineSource;
  /** Fixed capture time (ISO string), for reproducible files; default now. */
  capturedAt?: string;
}

/** What {@link capture} wrote. */
export interface CaptureResult {
  records: number;
  processes: number;
  vmas: number;
  runs: number;
  /** VMAs whose pagemap could not be read (recorded with an `error`). */
  vmaErrors: number;
  /** Processes that vanished or could not be read (left out). */
  skippedProcesses: number;
  /** Uncompressed bytes written. */
  bytes: number;
}

const PSEUDO = new Set([
  "",
  "[heap]",
  "[stack]",
  "[vdso]",
  "[vvar]",
  "[vvar_vclock]",
  "[vsyscall]",
  "[uprobes]",
]);

/** Deterministic renaming: the n-th distinct name seen becomes `<prefix>-<n>`. */
export class Anonymizer {
  private readonly names = new Map<string, string>();
  private readonly paths = new Map<string, string>();
  /** Process name -> proc-<n>. */
  name(s: string): string {
    return rename(this.names, "proc", s);
  }
  /** Path -> file-<n>; pseudo names like [heap] and anonymous "" are kept. */
  path(s: string): string {
    return PSEUDO.has(s) ? s : rename(this.paths, "file", s);
  }
}

function rename(map: Map<string, string>, prefix: string, s: string): string {
  let v = map.get(s);
  if (v === undefined) {
    v = `${prefix}-${map.size + 1}`;
    map.set(s, v);
  }
  return v;
}

class LineSink {
  bytes = 0;
  records = 0;
  private readonly file: WriteStream;
  private readonly gz: Gzip | undefined;
  private error: Error | undefined;
  constructor(path: string, gzip: boolean) {
    // Opened synchronously so that an unwritable path throws here (a stream would only emit
    // 'error' later, with nobody waiting on it); later write errors are kept and rethrown.
    this.file = createWriteStream("", { fd: openSync(path, "w") });
    this.file.on("error", (e) => {
      this.error ??= e;
      this.gz?.destroy(e); // wakes a write waiting for the compressor to drain
    });
    this.gz = gzip ? createGzip() : undefined;
    this.gz?.on("error", (e) => {
      this.error ??= e;
    });
    this.gz?.pipe(this.file);
  }
  async write(record: object): Promise<void> {
    if (this.error) throw this.error;
    const line = `${JSON.stringify(record)}\n`;
    this.bytes += Buffer.byteLength(line);
    this.records++;
    const target = this.gz ?? this.file;
    if (!target.write(line)) await once(target, "drain");
  }
  /** Flushes and closes; rethrows the first write error. Safe after the stream failed. */
  async close(): Promise<void> {
    (this.gz ?? this.file).end();
    try {
      await finished(this.file);
    } catch (e) {
      this.error ??= e as Error;
    }
    if (this.error) throw this.error;
  }
}

/**
 * Captures a machine into a snapshot file. O(pages read); memory O(largest VMA's runs).
 * @param opts output, processes, anonymize, gzip, progress, source
 * @returns counts of what was written
 * @throws Node errno errors when the output cannot be written; ParseError from the readers for
 *   malformed machine-wide files (iomem, PCI)
 */
export async function capture(opts: CaptureOptions): Promise<CaptureResult> {
  const src = opts.source ?? liveSource(opts);
  const anon = opts.anonymize ? new Anonymizer() : undefined;
  const sink = new LineSink(opts.out, opts.gzip === true);
  const result: CaptureResult = {
    records: 0,
    processes: 0,
    vmas: 0,
    runs: 0,
    vmaErrors: 0,
    skippedProcesses: 0,
    bytes: 0,
  };
  try {
    const k = src.kernel();
    const access = src.access();
    await sink.write({
      type: "header",
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      capturedAt: opts.capturedAt ?? new Date().toISOString(),
      kernel: anon
        ? {
            release: k.release,
            version: `Linux version ${k.release}`,
            hostname: "host",
            pageSize: k.pageSize,
          }
        : k,
      anonymized: anon !== undefined,
      access: { ...access, capSysAdmin: access.capSysAdmin ?? null },
    });
    const resources: object[] = [];
    walkIomem(src.iomem(), (r) =>
      resources.push({ start: hex(r.start), end: hex(r.end), name: r.name, depth: r.depth }),
    );
    await sink.write({ type: "iomem", resources });
    const devices = src.pci().map((d) => ({
      ...d,
      resources: d.resources.map((r) => ({
        index: r.index,
        start: hex(r.start),
        end: hex(r.end),
        flags: r.flags,
      })),
    }));
    await sink.write({ type: "pci", devices });
    await sink.write({ type: "iommu", ...src.iommus() });
    const all = src.processes();
    const wanted =
      opts.pids === undefined || opts.pids === "all"
        ? all
        : all.filter((p) => (opts.pids as readonly number[]).includes(p.pid));
    for (let i = 0; i < wanted.length; i++) {
      const p = wanted[i];
      let vmas: VmaStats[];
      try {
        vmas = src.vmas(p.pid);
      } catch {
        result.skippedProcesses++;
        continue;
      }
      await sink.write({
        type: "process",
        pid: p.pid,
        comm: anon ? anon.name(p.comm) : p.comm,
        cmdline: anon ? anon.name(p.comm) : p.cmdline,
      });
      result.processes++;
      for (const v of vmas) await writeVma(sink, src, p.pid, v, anon, result);
      opts.onProgress?.(i + 1, wanted.length);
    }
    result.records = sink.records;
    await sink.write({ type: "end", records: sink.records });
  } finally {
    await sink.close();
    if (!opts.source) src.close();
  }
  result.records = sink.records;
  result.bytes = sink.bytes;
  return result;
}

async function writeVma(
  sink: LineSink,
  src: MachineSource,
  pid: number,
  v: VmaStats,
  anon: Anonymizer | undefined,
  result: CaptureResult,
): Promise<void> {
  const total = (v.end - v.start) / 4096;
  const base = {
    type: "vma",
    pid,
    start: hex(v.start),
    end: hex(v.end),
    perms: v.perms,
    offset: v.offset,
    dev: v.dev,
    inode: v.inode,
    path: anon ? anon.path(v.path) : v.path,
    size: v.size,
    rss: v.rss,
    pss: v.pss,
    anonymous: v.anonymous,
    anonHugePages: v.anonHugePages,
    swap: v.swap,
    locked: v.locked,
    hugetlb: v.hugetlb,
    kernelPageSize: v.kernelPageSize,
    thpEligible: v.thpEligible,
    vmFlags: v.vmFlags,
  };
  result.vmas++;
  if (v.rss === 0) {
    // Nothing resident: no pagemap read needed (the whole VMA is swapped or never touched).
    const swapped = Math.min(total, Math.floor(v.swap / 4096));
    await sink.write({
      ...base,
      pages: { present: 0, swapped, unmapped: total - swapped, hidden: 0 },
      runs: 0,
    });
    return;
  }
  let runs: ReturnType<MachineSource["runs"]>;
  try {
    runs = src.runs(pid, v.start, v.end);
  } catch (e) {
    result.vmaErrors++;
    await sink.write({
      ...base,
      pages: { present: 0, swapped: 0, unmapped: total, hidden: 0 },
      runs: 0,
      error: String((e as Error).message ?? e).slice(0, 500),
    });
    return;
  }
  await sink.write({
    ...base,
    pages: {
      present: runs.presentPages,
      swapped: runs.swappedPages,
      unmapped: runs.unmappedPages,
      hidden: runs.hiddenPages,
    },
    runs: runs.count,
  });
  result.runs += runs.count;
  for (let s = 0; s < runs.count; s += RUNS_PER_RECORD) {
    const e = Math.min(runs.count, s + RUNS_PER_RECORD);
    const va: string[] = [];
    const pfn: string[] = [];
    for (let i = s; i < e; i++) {
      va.push(hex(runs.va[i]));
      pfn.push(hex(runs.pfn[i]));
    }
    await sink.write({
      type: "runs",
      pid,
      vma: hex(v.start),
      va,
      pfn,
      npages: Array.from(runs.npages.subarray(s, e)),
      flags: Array.from(runs.flags.subarray(s, e)),
      kind: Array.from(runs.kind.subarray(s, e)),
    });
  }
}
