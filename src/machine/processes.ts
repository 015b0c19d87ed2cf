/**
 * The reference machine's processes: each built as an {@link AddressSpace} on the aged memory and
 * faulted in through mm/ (demand faults pick 4 KiB pages, THPs or hugetlb pages by the VMA and the
 * THP policy), so every layout is what the allocator produced, not a drawn picture.
 */

import { PAGE_SIZE } from "../core/index.js";
import { ageMemory, type MachineMemory } from "../mem/index.js";
import { AddressSpace, MappedFile, type Vma } from "../mm/index.js";
import type { ProcessLayout, VmaLayout } from "./spec.js";

/** A mapping of a built process: the mm VMA plus what /proc/PID/maps prints for it. */
export interface ReferenceVma {
  vma: Vma;
  layout: VmaLayout;
  /** Four permission characters as in maps ("rw-p", "rw-s", "r-xp"). */
  perms: string;
  /** Shared mapping (MAP_SHARED): pagemap reports its pages as file pages. */
  shared: boolean;
  dev: string;
  inode: number;
}

/** A built process. */
export interface ReferenceProcess {
  pid: number;
  comm: string;
  cmdline: string;
  mm: AddressSpace;
  vmas: ReferenceVma[];
}

/** Pages faulted in per round of kernel churn of a long-running service. */
const CHURN_BATCH = 512;
/** Kernel churn steps (mem/aging.ts) after each round. */
const CHURN_STEPS = 512;
/** Chance that a heap page fault is followed by a page of the service's log entering the page cache. */
const LOG_CHANCE = 0.6;

/**
 * Builds one process: maps its VMAs, then faults them in (text read-only, the rest written).
 * A `churn` process's main mapping (its largest anonymous one) grows the way a service's heap
 * grows while the machine runs: after each 4 KiB fault, with chance 0.6, a page of its log file
 * enters the page cache, and after every 512 faults come 512 steps of kernel allocation churn
 * (mem/aging.ts), all drawn from the machine's seeded generator; so its pages land scattered.
 * O(pages / leaf size + churn steps).
 * @throws RangeError / MemError from mm/ and mem/ when the layout does not fit the machine.
 */
export function buildProcess(
  mem: MachineMemory,
  p: ProcessLayout,
  inode: { next: number },
): ReferenceProcess {
  const mm = new AddressSpace(mem, { thp: "madvise" });
  const vmas: ReferenceVma[] = [];
  for (const l of p.vmas) {
    const node = l.node === undefined ? {} : { policy: { node: l.node } };
    let vma: Vma;
    let perms = "rw-p";
    let dev = "00:00";
    let ino = 0;
    let shared = false;
    switch (l.kind) {
      case "text":
        vma = mm.mmap({
          kind: "file",
          start: l.start,
          len: l.len,
          write: false,
          file: new MappedFile(mem, l.path),
        });
        perms = "r-xp";
        dev = "fd:01";
        ino = inode.next++;
        break;
      case "anon":
      case "thp":
        vma = mm.mmap({ kind: "anon", start: l.start, len: l.len, hugepage: l.kind === "thp", ...node });
        break;
      case "hugetlb2M":
      case "hugetlb1G":
        vma = mm.mmap({
          kind: "hugetlb",
          start: l.start,
          len: l.len,
          hugeSize: l.kind === "hugetlb1G" ? "1G" : "2M",
        });
        // postgres maps its shared buffers MAP_SHARED; qemu's -mem-path without share=on is MAP_PRIVATE.
        shared = l.kind === "hugetlb2M";
        perms = shared ? "rw-s" : "rw-p";
        dev = l.kind === "hugetlb1G" ? "00:2f" : "00:0f";
        ino = inode.next++;
        break;
    }
    vmas.push({ vma, layout: l, perms, shared, dev, inode: ino });
  }
  const main = p.churn ? largestAnon(vmas) : undefined;
  for (const v of vmas) {
    const len = v.layout.populate ?? v.layout.len;
    const write = v.layout.kind !== "text";
    if (v === main) churnFault(mem, mm, v.vma.start, len, p.log ?? `/var/log/${p.comm}.log`);
    else mm.populate(v.vma.start, len, write);
  }
  return { pid: p.pid, comm: p.comm, cmdline: p.cmdline, mm, vmas };
}

function largestAnon(vmas: ReferenceVma[]): ReferenceVma | undefined {
  let best: ReferenceVma | undefined;
  for (const v of vmas) {
    if (
      v.layout.kind === "anon" &&
      (!best || (v.layout.populate ?? v.layout.len) > (best.layout.populate ?? best.layout.len))
    )
      best = v;
  }
  return best;
}

function churnFault(mem: MachineMemory, mm: AddressSpace, start: number, len: number, logPath: string): void {
  const log = new MappedFile(mem, logPath);
  let logPage = 0;
  for (let a = 0, n = 1; a < len; a += PAGE_SIZE, n++) {
    mm.fault(start + a, true);
    if (mem.rng.chance(LOG_CHANCE)) log.getPage(logPage++);
    if (n % CHURN_BATCH === 0) ageMemory(mem, { steps: CHURN_STEPS });
  }
}
