/**
 * `capture()`: streams a machine (processes, VMAs with their runs, iomem, PCI, IOMMUs, kernel,
 * access) into a `phyr-snapshot` v1 file, one record per line, optionally gzip-compressed. Memory
 * stays O(one VMA's runs); the file is never built in memory.
 */

import { once } from "node:events";
import { finished } from "node:stream/promises";
import { createGzip, type Gzip } from "node:zlib";
import { hex } from "../core/index.js";
import { AtomicFile } from "./atomic-file.js";
import { type ProcessReader, readProcessesHere, type VmaRead } from "./capture-read.js";
import type { ReaderOptions } from "./io.js";
import { walkIomem } from "./iomem.js";
import type { VmaStats } from "./maps.js";
import { cutString, SnapshotFit } from "./snapshot-fit.js";
import { SNAPSHOT_LIMITS as L, SNAPSHOT_FORMAT, SNAPSHOT_VERSION } from "./snapshot-schema.js";
import { liveSource, type MachineSource } from "./source.js";

// The reading half (any thread), the resident-pages rule report/analyze share, and errors as
// plain data (what every worker thread sends back).
export {
  type ProcessRead,
  type ProcessReader,
  plainError,
  readProcessesHere,
  readProcessWhole,
  residentPagesOf,
  type VmaRead,
} from "./capture-read.js";

/** Options of {@link capture}. */
export interface CaptureOptions extends ReaderOptions {
  /** Output file: written to a temporary file beside it and renamed over it when whole. */
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

/** Skipped processes named in {@link CaptureResult.skipped} (the rest are only counted). */
export const SKIPPED_KEPT = 20;

/** Why a process could not be read, in a few words. */
function skipReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === "ENOENT" || code === "ESRCH") return "exited while being read";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  return String((e as Error)?.message ?? e)
    .replace(/\s+/g, " ")
    .slice(0, 200);
}

/** What {@link capture} wrote. */
export interface CaptureResult {
  records: number;
  processes: number;
  vmas: number;
  runs: number;
  /** VMAs whose pagemap could not be read (recorded with an `error`). */
  vmaErrors: number;
  /** Processes that vanished or could not be read, or whose pid is beyond the format's limit (left out). */
  skippedProcesses: number;
  /** The first {@link SKIPPED_KEPT} of them: pid, name (anonymized with the rest) and why. */
  skipped: { pid: number; comm: string; reason: string }[];
  /**
   * Strings shortened (ending in "…[truncated]") and list entries left out so that the file fits
   * the limits the loader enforces (SNAPSHOT_LIMITS); also in the file's end record.
   */
  truncated: number;
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

/** Bytes gathered before one write to the file. */
const FLUSH_BYTES = 1 << 16;

/**
 * Lines into an {@link AtomicFile}: written whole by {@link close} (fsync + rename), or not at all
 * by {@link abort}. Optionally through gzip.
 */
class LineSink {
  bytes = 0;
  records = 0;
  private readonly file: AtomicFile;
  private gz: Gzip | undefined;
  private pending: string[] = [];
  private pendingBytes = 0;
  private error: Error | undefined;
  constructor(path: string) {
    // Opened synchronously so that an unwritable directory throws here, before any reading.
    this.file = AtomicFile.open(path);
  }
  /** Compresses what follows with gzip. */
  static gzip(path: string): LineSink {
    const s = new LineSink(path);
    const gz = createGzip();
    gz.on("data", (c: Buffer) => {
      try {
        s.file.write(c);
      } catch (e) {
        s.error ??= e as Error;
        gz.destroy(e as Error);
      }
    });
    gz.on("error", (e) => {
      s.error ??= e;
    });
    s.gz = gz;
    return s;
  }
  /** Writes one record as a JSON line. O(bytes). */
  async write(record: object): Promise<void> {
    await this.writeLines(`${JSON.stringify(record)}\n`, 1);
  }
  /** Writes `records` ready lines (each ending in a newline). O(bytes). */
  async writeLines(text: string | Uint8Array, records: number): Promise<void> {
    if (this.error) throw this.error;
    this.records += records;
    if (typeof text === "string") {
      const n = Buffer.byteLength(text);
      this.bytes += n;
      this.pending.push(text);
      this.pendingBytes += n;
      if (this.pendingBytes >= FLUSH_BYTES) await this.flush();
      return;
    }
    this.bytes += text.byteLength;
    await this.flush();
    await this.put(text);
  }
  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const text = this.pending.join("");
    this.pending = [];
    this.pendingBytes = 0;
    await this.put(text);
  }
  private async put(data: string | Uint8Array): Promise<void> {
    if (!this.gz) this.file.write(data);
    else if (!this.gz.write(data)) await once(this.gz, "drain");
  }
  /** Writes what is pending and makes the file visible, whole (fsync + rename). Rethrows the first error. */
  async close(): Promise<void> {
    try {
      await this.flush();
      if (this.gz) {
        this.gz.end();
        await finished(this.gz);
      }
      if (this.error) throw this.error;
      this.file.commit();
    } catch (e) {
      this.abort();
      throw this.error ?? e;
    }
  }
  /** Removes the temporary file: the target is left as it was. */
  abort(): void {
    this.gz?.destroy();
    this.file.abort();
  }
}

/**
 * Captures a machine into a snapshot file. O(pages read); memory O(largest VMA's runs).
 * @param opts output, processes, anonymize, gzip, progress, source
 * @returns counts of what was written
 * @throws Node errno errors when the output cannot be written; ParseError from the readers for
 *   malformed machine-wide files (iomem, PCI)
 */
export function capture(opts: CaptureOptions): Promise<CaptureResult> {
  return captureWith(opts);
}

/**
 * {@link capture} with the processes read by `reader` (worker threads: src/cli/capture-workers.ts);
 * everything that depends on order (anonymized names, truncation counts, record order, the file)
 * stays on this thread, so the file is the one {@link capture} writes. O(pages read); memory
 * O(largest VMA's runs) on this thread, plus what the reader holds.
 * @param reader reads the processes, in the order given (default: in this thread, lazily).
 */
export async function captureWith(opts: CaptureOptions, reader?: ProcessReader): Promise<CaptureResult> {
  const src = opts.source ?? liveSource(opts);
  const anon = opts.anonymize ? new Anonymizer() : undefined;
  const sink = opts.gzip === true ? LineSink.gzip(opts.out) : new LineSink(opts.out);
  const result: CaptureResult = {
    records: 0,
    processes: 0,
    vmas: 0,
    runs: 0,
    vmaErrors: 0,
    skippedProcesses: 0,
    skipped: [],
    truncated: 0,
    bytes: 0,
  };
  const fit = new SnapshotFit();
  try {
    const k = src.kernel();
    const access = src.access();
    await sink.write({
      type: "header",
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      capturedAt: opts.capturedAt ?? new Date().toISOString(),
      kernel: {
        release: fit.str(k.release, L.release),
        version: anon ? fit.str(`Linux version ${k.release}`, L.version) : fit.str(k.version, L.version),
        hostname: anon ? "host" : fit.str(k.hostname, L.hostname),
        pageSize: k.pageSize,
      },
      anonymized: anon !== undefined,
      access: {
        ...access,
        capSysAdmin: access.capSysAdmin ?? null,
        messages: fit.list(access.messages, L.messages).map((m) => fit.str(m, L.message)),
      },
    });
    const resources: object[] = [];
    walkIomem(src.iomem(), (r) =>
      resources.push({
        start: hex(r.start),
        end: hex(r.end),
        name: fit.str(r.name, L.iomemName),
        depth: r.depth,
      }),
    );
    await sink.write({ type: "iomem", resources: fit.list(resources, L.iomemResources) });
    const devices = fit.list(src.pci(), L.pciFunctions).map((d) => ({
      ...d,
      hostBridge: fit.str(d.hostBridge, L.hostBridge),
      resources: d.resources.map((r) => ({
        index: r.index,
        start: hex(r.start),
        end: hex(r.end),
        flags: r.flags,
      })),
    }));
    await sink.write({ type: "pci", devices });
    const iommu = src.iommus();
    await sink.write({
      type: "iommu",
      units: fit.list(iommu.units, L.iommuUnits).map((u) => fit.str(u, L.iommuUnit)),
      groups: fit.list(iommu.groups, L.iommuGroups).map((g) => ({
        id: g.id,
        devices: fit.list(g.devices, L.groupDevices).map((d) => fit.str(d, L.groupDevice)),
      })),
    });
    const all = src.processes();
    const wanted =
      opts.pids === undefined || opts.pids === "all"
        ? all
        : all.filter((p) => (opts.pids as readonly number[]).includes(p.pid));
    // Read in this order (by this thread or by workers), written in the same order.
    const reads = (reader ?? readProcessesHere(src))(wanted.filter((p) => p.pid <= L.pid).map((p) => p.pid));
    try {
      for (let i = 0; i < wanted.length; i++) {
        const p = wanted[i];
        const skip = (reason: string) => {
          result.skippedProcesses++;
          if (result.skipped.length < SKIPPED_KEPT) {
            result.skipped.push({
              pid: p.pid,
              // Shortened like the file's names, but not counted: this list is not in the file.
              comm: cutString(anon ? anon.name(p.comm) : p.comm, L.comm),
              reason,
            });
          }
        };
        if (p.pid > L.pid) {
          skip(`pid above the format's limit ${L.pid}`);
          continue;
        }
        const next = await reads.next();
        if (next.done || next.value.pid !== p.pid)
          throw new Error(
            `capture: the reader gave ${next.done ? "no process" : `pid ${next.value.pid}`} for pid ${p.pid}`,
          );
        const read = next.value;
        if ("error" in read) {
          skip(skipReason(read.error));
          continue;
        }
        await sink.write({
          type: "process",
          pid: p.pid,
          comm: fit.str(anon ? anon.name(p.comm) : p.comm, L.comm),
          cmdline: fit.str(anon ? anon.name(p.comm) : p.cmdline, L.cmdline),
        });
        result.processes++;
        let k = 0;
        for (const r of read.reads) await writeVma(sink, p.pid, read.vmas[k++], r, anon, fit, result);
        opts.onProgress?.(i + 1, wanted.length);
      }
    } finally {
      await reads.return?.();
    }
    result.records = sink.records;
    result.truncated = fit.truncated;
    await sink.write({
      type: "end",
      records: sink.records,
      ...(fit.truncated > 0 ? { truncated: fit.truncated } : {}),
    });
    await sink.close();
  } catch (e) {
    sink.abort();
    throw e;
  } finally {
    if (!opts.source) src.close();
  }
  result.records = sink.records;
  result.bytes = sink.bytes;
  return result;
}

async function writeVma(
  sink: LineSink,
  pid: number,
  v: VmaStats,
  r: VmaRead,
  anon: Anonymizer | undefined,
  fit: SnapshotFit,
  result: CaptureResult,
): Promise<void> {
  result.vmas++;
  await sink.write({
    type: "vma",
    pid,
    start: hex(v.start),
    end: hex(v.end),
    perms: v.perms,
    offset: v.offset,
    dev: v.dev,
    inode: v.inode,
    path: fit.str(anon ? anon.path(v.path) : v.path, L.path),
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
    vmFlags: fit.vmFlags(v.vmFlags),
    pages: r.pages,
    runs: r.runs,
    ...(r.error === undefined ? {} : { error: fit.str(r.error, L.message) }),
  });
  if (r.error !== undefined) result.vmaErrors++;
  result.runs += r.runs;
  if (r.text !== undefined) await sink.writeLines(r.text, r.records);
}
