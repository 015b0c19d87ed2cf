/**
 * Processes and kernel identity from procfs: /proc/<pid>/{comm,cmdline,status}, and
 * /proc/sys/kernel/{osrelease,hostname}, /proc/version.
 */
import { readdirSync } from "node:fs";
import { PAGE_SIZE, ParseError } from "../core/index.js";
import type { KernelInfo, ProcessInfo } from "../machine/source-types.js";
import { errnoCode, pidPart, procPath, type ReaderOptions, readAttr, readText } from "./io.js";

/** The shapes the readers fill, defined with the MachineSource interface (machine/source-types.ts). */
export type { KernelInfo, ProcessInfo };

/**
 * Lists processes under `procRoot` (numeric directories), skipping ones that exit while read. O(processes).
 * @returns processes sorted by pid
 */
export function readProcesses(opts?: ReaderOptions): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const name of readdirSync(procPath(opts))) {
    if (!/^[1-9]\d{0,9}$/.test(name)) continue;
    const comm = readAttr(procPath(opts, name, "comm"));
    if (comm === undefined) continue;
    const cmd = readAttr(procPath(opts, name, "cmdline")) ?? "";
    out.push({ pid: Number(name), comm, cmdline: cmd.replace(/\0+$/, "").replace(/\0/g, " ") });
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/**
 * Resident pages of a process: the second field of /proc/PID/statm (fs/proc/array.c
 * proc_pid_statm(): get_mm_rss(), in pages; hugetlb pages are not counted). One small read, for
 * sizing work before the VMAs are read. O(1).
 * @returns the pages, or 0 when the process is gone or the file is unreadable or malformed.
 */
export function residentPagesOfPid(pid: number, opts?: ReaderOptions): number {
  const statm = readAttr(procPath(opts, String(pid), "statm"));
  const f = statm?.trim().split(/\s+/);
  const n = f === undefined || f.length < 2 ? Number.NaN : Number(f[1]);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

/**
 * Reads the kernel release, version line and hostname. O(1).
 * @throws Node errno errors when osrelease is missing
 */
export function readKernelInfo(opts?: ReaderOptions): KernelInfo {
  const release = readText(procPath(opts, "sys/kernel/osrelease"), 4096).trim();
  return {
    release,
    version: readAttr(procPath(opts, "version")) ?? "",
    hostname: readAttr(procPath(opts, "sys/kernel/hostname")) ?? "",
    pageSize: PAGE_SIZE,
  };
}

/** CAP_SYS_ADMIN bit number (include/uapi/linux/capability.h). */
export const CAP_SYS_ADMIN = 21;

/**
 * Whether a process has CAP_SYS_ADMIN in its effective set, from the CapEff line of its status.
 * @returns true/false, or undefined when the status file is missing
 * @throws ParseError when the CapEff line is malformed
 */
export function readCapSysAdmin(pid: number | "self", opts?: ReaderOptions): boolean | undefined {
  const path = procPath(opts, pidPart(pid), "status");
  let text: string;
  try {
    text = readText(path, 1 << 20);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
  const lines = text.split("\n");
  const i = lines.findIndex((l) => l.startsWith("CapEff:"));
  if (i < 0) return undefined;
  const m = /^CapEff:\s+([0-9a-f]{16})$/.exec(lines[i]);
  if (!m)
    throw new ParseError(
      path,
      i + 1,
      `expected "CapEff: <16 hex digits>", got ${JSON.stringify(lines[i].slice(0, 60))}`,
    );
  return ((Number.parseInt(m[1].slice(8), 16) >>> CAP_SYS_ADMIN) & 1) === 1;
}
