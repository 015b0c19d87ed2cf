/**
 * What this reader may see. Without CAP_SYS_ADMIN the kernel still answers but hides physical
 * addresses: pagemap frame numbers read as 0 (fs/proc/task_mmu.c pagemap_open: show_pfn only with
 * CAP_SYS_ADMIN), /proc/iomem prints 0-0 for every range (kernel/resource.c r_show) and
 * /proc/kpageflags cannot be opened (mode 0400). The probe says plainly what is missing and how to
 * get it, and what can still be reported.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { PAGE_SIZE, ParseError } from "../core/index.js";
import type { AccessProbe, AccessState } from "../machine/source-types.js";
import { errnoCode, procPath, type ReaderOptions } from "./io.js";
import { iomemAddressesHidden, readIomem } from "./iomem.js";
import { readMaps } from "./maps.js";
import { readPagemapRuns } from "./pagemap.js";
import { readCapSysAdmin } from "./processes.js";

/** The shapes the readers fill, defined with the MachineSource interface (machine/source-types.ts). */
export type { AccessProbe, AccessState };

/** The fix named in every message. */
export const ROOT_HINT = "run as root (or with CAP_SYS_ADMIN) to read physical frame numbers";

/**
 * Probes pagemap frames (of `pid`, default "self": the first present page found in its VMAs),
 * kpageflags and iomem addresses. Reads at most 64 pages per VMA. O(VMAs).
 * @param opts roots and the pid whose pagemap is probed
 * @returns states and messages (never throws for permission problems)
 */
export function probeAccess(opts: ReaderOptions & { pid?: number | "self" } = {}): AccessProbe {
  const pid = opts.pid ?? "self";
  const pagemapFrames = probePagemap(pid, opts);
  let kpageflags: AccessState = "readable";
  try {
    const fd = openSync(procPath(opts, "kpageflags"), "r");
    try {
      readSync(fd, new Uint8Array(8), 0, 8, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    kpageflags = "unreadable";
  }
  let iomemAddresses: AccessState;
  try {
    iomemAddresses = iomemAddressesHidden(readIomem(opts)) ? "hidden" : "readable";
  } catch {
    iomemAddresses = "unreadable";
  }
  const capSysAdmin = safeCap(pid, opts);
  const messages: string[] = [];
  if (pagemapFrames === "hidden" || pagemapFrames === "unreadable") {
    messages.push(
      `Physical frame numbers in /proc/PID/pagemap are ${pagemapFrames === "hidden" ? "hidden (read as 0)" : "unreadable"}: ${ROOT_HINT}. VMA sizes, resident and swapped page counts and the THP share (AnonHugePages) are still reported.`,
    );
  }
  if (kpageflags === "unreadable") {
    messages.push(
      `/proc/kpageflags is unreadable: ${ROOT_HINT} and page flags; without it THP, hugetlb and zero-page runs cannot be told apart (smaps AnonHugePages still gives the THP share).`,
    );
  }
  if (iomemAddresses === "hidden" || iomemAddresses === "unreadable") {
    messages.push(
      `Addresses in /proc/iomem are ${iomemAddresses === "hidden" ? "hidden (read as 0)" : "unreadable"}: ${ROOT_HINT} and the physical address map; resource names and nesting are still reported.`,
    );
  }
  return { pagemapFrames, kpageflags, iomemAddresses, capSysAdmin, messages };
}

function safeCap(pid: number | "self", opts: ReaderOptions): boolean | undefined {
  try {
    return readCapSysAdmin(pid, opts);
  } catch {
    return undefined;
  }
}

function probePagemap(pid: number | "self", opts: ReaderOptions): AccessState {
  let vmas: ReturnType<typeof readMaps>;
  try {
    vmas = readMaps(pid, opts);
  } catch {
    return "unreadable";
  }
  let sawHidden = false;
  let sawError = false;
  for (const v of vmas) {
    try {
      const runs = readPagemapRuns(pid, v.start, Math.min(v.end, v.start + 64 * PAGE_SIZE), opts);
      if (runs.presentPages > runs.hiddenPages) return "readable";
      if (runs.hiddenPages > 0) sawHidden = true;
    } catch (e) {
      if (e instanceof ParseError || errnoCode(e) !== undefined) sawError = true;
      else throw e;
      if (errnoCode(e) === "EACCES" || errnoCode(e) === "EPERM") return "unreadable";
    }
  }
  if (sawHidden) return "hidden";
  return sawError && vmas.length === 0 ? "unreadable" : "unknown";
}
