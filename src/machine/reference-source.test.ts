/**
 * The reference machine: same seed, same machine; the layouts the README documents are what the
 * allocator produced; runs follow the pagemap run rule (checked against a page-by-page walk of the
 * page tables); smaps counters agree with the leaves. Two builds for the whole file.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { SZ_1G, SZ_2M } from "../core/index.js";
import { pteFlags, ptePfn } from "../mm/index.js";
import { REFERENCE_KERNEL, type ReferenceMachine, referenceMachine, SERVICE_HEAP } from "./index.js";
import { RunFlag, RunKind } from "./page-runs.js";
import { ReferenceSource } from "./reference-source.js";

let a: ReferenceMachine;
let b: ReferenceMachine;
let src: ReferenceSource;

beforeAll(() => {
  a = referenceMachine();
  b = referenceMachine();
  src = new ReferenceSource(a);
});

const proc = (m: ReferenceMachine, comm: string) => m.processes.find((p) => p.comm === comm)!;
const vmaOf = (m: ReferenceMachine, comm: string, path: string) =>
  proc(m, comm).vmas.find((v) => v.layout.path === path)!.vma;

/** Runs of one VMA as plain rows. */
function rows(m: ReferenceMachine, pid: number, start: number, end: number) {
  const r = (m === a ? src : new ReferenceSource(m)).runs(pid, start, end);
  const out: number[][] = [];
  for (let i = 0; i < r.count; i++) out.push([r.va[i], r.pfn[i], r.npages[i], r.flags[i], r.kind[i]]);
  return out;
}

describe("referenceMachine(): determinism", () => {
  it("two builds give the same memory digest, address spaces and run tables", () => {
    expect(a.mem.digest()).toBe(b.mem.digest());
    expect(a.processes.map((p) => p.pid)).toEqual(b.processes.map((p) => p.pid));
    for (let i = 0; i < a.processes.length; i++) {
      expect(a.processes[i].mm.digest()).toBe(b.processes[i].mm.digest());
      const ra = src.processRuns(a.processes[i].pid);
      const rb = new ReferenceSource(b).processRuns(b.processes[i].pid);
      expect(ra.count).toBe(rb.count);
      expect(ra.pfn.subarray(0, ra.count)).toEqual(rb.pfn.subarray(0, rb.count));
      expect(ra.npages.subarray(0, ra.count)).toEqual(rb.npages.subarray(0, rb.count));
    }
    expect(a.mem.iomem.format()).toBe(b.mem.iomem.format());
  });

  it("every address space and run table passes its invariant check", () => {
    for (const p of a.processes) p.mm.checkValid();
    for (const p of a.processes) src.processRuns(p.pid).checkValid();
  });
});

describe("referenceMachine(): the documented layouts", () => {
  it("postgres shared buffers: 32 GiB in 16384 runs of one 2 MiB hugetlb page each, marked file and shared", () => {
    const v = vmaOf(a, "postgres", "/anon_hugepage (deleted)");
    const r = rows(a, 2104, v.start, v.end);
    expect(v.end - v.start).toBe(32 * SZ_1G);
    expect(r).toHaveLength(16384);
    const odd = r.filter(
      ([va, pfn, n, flags, kind]) =>
        n !== 512 ||
        kind !== RunKind.HUGETLB ||
        pfn % 512 !== 0 ||
        va % SZ_2M !== 0 ||
        !(flags & RunFlag.FILE),
    );
    expect(odd).toEqual([]);
  });

  it("the VM: 32 GiB of guest RAM in 32 runs of one 1 GiB hugetlb page each, private (not file)", () => {
    const v = vmaOf(a, "qemu-system-x86", "/dev/hugepages1G/qemu_back_mem.pc.ram.Xq1mRt (deleted)");
    const r = rows(a, 2871, v.start, v.end);
    expect(r).toHaveLength(32);
    for (const [, pfn, n, flags, kind] of r) {
      expect([n, kind, pfn % 262144, flags & RunFlag.FILE]).toEqual([262144, RunKind.HUGETLB, 0, 0]);
    }
  });

  it("the ML job: 16 GiB in 8192 runs of one 2 MiB THP each, on node 1", () => {
    const v = vmaOf(a, "python3", "");
    const r = rows(a, 3310, v.start, v.end);
    expect(r).toHaveLength(8192);
    expect(r.filter(([, pfn, n, , kind]) => n !== 512 || kind !== RunKind.THP || pfn % 512 !== 0)).toEqual(
      [],
    );
    const node1Start = a.mem.spec.nodes[1].start / 4096;
    expect(r.every(([, pfn]) => pfn >= node1Start)).toBe(true);
  });

  it("the service: a 64 MiB heap of 4 KiB pages in many short runs (average under 3 pages)", () => {
    const v = vmaOf(a, "java", "");
    const r = rows(a, 1877, v.start, v.end);
    const pages = r.reduce((s, x) => s + x[2], 0);
    expect(pages).toBe(SERVICE_HEAP / 4096);
    expect(r.every(([, , , , kind]) => kind === RunKind.BASE)).toBe(true);
    expect(pages / r.length).toBeLessThan(3);
  });

  it("smaps counters: hugetlb outside Rss, AnonHugePages for THPs, Rss for 4 KiB pages", () => {
    const pg = src.vmas(2104).find((x) => x.path === "/anon_hugepage (deleted)")!;
    expect(pg).toMatchObject({ rss: 0, hugetlb: 32 * SZ_1G, kernelPageSize: SZ_2M, perms: "rw-s" });
    expect(pg.vmFlags).toContain("ht");
    const vm = src.vmas(2871).find((x) => x.kernelPageSize === SZ_1G)!;
    expect(vm).toMatchObject({ rss: 0, hugetlb: 32 * SZ_1G, perms: "rw-p" });
    const ml = src.vmas(3310).find((x) => x.anonHugePages > 0)!;
    expect(ml).toMatchObject({
      rss: 16 * SZ_1G,
      anonymous: 16 * SZ_1G,
      anonHugePages: 16 * SZ_1G,
      thpEligible: true,
    });
    expect(ml.vmFlags).toContain("hg");
    const heap = src.vmas(1877).find((x) => x.size === 4 * SZ_1G)!;
    expect(heap).toMatchObject({
      rss: SERVICE_HEAP,
      anonymous: SERVICE_HEAP,
      anonHugePages: 0,
      thpEligible: false,
    });
    const text = src.vmas(1877)[0];
    expect(text).toMatchObject({
      perms: "r-xp",
      anonymous: 0,
      path: "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
    });
  });

  it("kernel identity says it is the reference machine, not a kernel release", () => {
    expect(src.kernel()).toEqual(REFERENCE_KERNEL);
    expect(src.kernel().version).toMatch(/phyr reference machine/);
    expect(src.access().messages).toHaveLength(1);
  });
});

describe("ReferenceSource.runs(): the pagemap run rule", () => {
  /**
   * Naive model: every page of the range looked up in the page table one at a time; a run
   * continues while the VA and frame both continue, the flags are equal, the page is a base page
   * and so was the one before (huge pages are one run per folio, as kpageflags splits them).
   */
  function naive(m: ReferenceMachine, pid: number, start: number, end: number): number[][] {
    const p = m.processes.find((x) => x.pid === pid)!;
    const f = m.mem.folios;
    const out: number[][] = [];
    let prev: number[] | undefined;
    for (let va = start; va < end; va += 4096) {
      const e = p.mm.pt.lookup(va);
      if (e === 0) {
        prev = undefined;
        continue;
      }
      const size = p.mm.pt.lastSize;
      const pfn = ptePfn(e) + (va - p.mm.pt.lastBase) / 4096;
      const id = f.folioOfPfn(pfn);
      const huge = size > 4096;
      const kind = huge ? (f.flags[id] & 8 ? RunKind.HUGETLB : RunKind.THP) : RunKind.BASE;
      const v = p.vmas.find((x) => x.vma.start <= va && va < x.vma.end)!;
      const flags =
        RunFlag.PRESENT |
        RunFlag.SOFT_DIRTY |
        (f.flags[id] & 2 || v.shared ? RunFlag.FILE : 0) |
        (f.mapcount[id] === 1 ? RunFlag.EXCLUSIVE : 0);
      const headOfHuge = huge && va === p.mm.pt.lastBase;
      if (
        prev &&
        !headOfHuge &&
        prev[4] === kind &&
        prev[0] + prev[2] * 4096 === va &&
        prev[1] + prev[2] === pfn &&
        prev[3] === flags
      ) {
        prev[2]++;
      } else {
        prev = [va, pfn, 1, flags, kind];
        out.push(prev);
      }
      expect(pteFlags(e) & 1).toBe(1);
    }
    return out;
  }

  it.each([
    ["systemd", 1],
    ["java", 1877],
  ])("%s: runs equal a page-by-page walk of its page table", (_name, pid) => {
    const p = a.processes.find((x) => x.pid === pid)!;
    for (const { vma, layout } of p.vmas) {
      const end = vma.start + (layout.populate ?? layout.len) + 8 * 4096;
      const stop = Math.min(vma.end, end);
      expect(rows(a, pid, vma.start, stop)).toEqual(naive(a, pid, vma.start, stop));
    }
  });

  it("a clipped range starts and ends inside runs and counts the rest as unmapped", () => {
    const v = vmaOf(a, "postgres", "/anon_hugepage (deleted)");
    const r = src.runs(2104, v.start + 4096, v.start + 2 * SZ_2M + 8192);
    expect(r.count).toBe(3);
    expect([r.npages[0], r.npages[1], r.npages[2]]).toEqual([511, 512, 2]);
    expect(r.presentPages).toBe(1025);
    expect(r.unmappedPages).toBe(0);
    r.checkValid();
    const hole = src.runs(1877, 0x1000, 0x3000);
    expect([hole.count, hole.unmappedPages]).toEqual([0, 2]);
  });

  it("bad input: unknown pid and empty range are RangeErrors naming the value", () => {
    expect(() => src.runs(4242, 0, 4096)).toThrow(/pid 4242 is invalid/);
    expect(() => src.vmas(4242)).toThrow(RangeError);
    expect(() => src.runs(1, 0x2000, 0x1000)).toThrow(/range 0x2000-0x1000 is invalid/);
  });
});
