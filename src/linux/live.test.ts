/**
 * Live test on this machine: a python3 child maps 64 MiB, optionally madvise(MADV_HUGEPAGE) (or
 * 8 MiB of MAP_HUGETLB pages from a pool the test reserves and gives back), writes every page,
 * prints the address and waits; we read its pagemap, smaps and kpageflags. Skipped only when not
 * on Linux or not root.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { firstLine } from "../../test/child-line.js";
import { RunKind } from "../machine/index.js";
import { classifyRuns, openKpageflags } from "./kpageflags.js";
import { readSmaps } from "./maps.js";
import { readPagemapRuns } from "./pagemap.js";
import { phyrFromRuns } from "./phyr-runs.js";

const SIZE = 64 << 20;
const PAGES = SIZE / 4096;
const live = process.platform === "linux" && process.getuid?.() === 0;

const HUGETLB_SIZE = 8 << 20;
const NR_HUGEPAGES = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";

const SCRIPT = `
import mmap, sys
MAP_HUGETLB = 0x40000
size = ${HUGETLB_SIZE} if sys.argv[1] == "hugetlb" else ${SIZE}
extra = MAP_HUGETLB if sys.argv[1] == "hugetlb" else 0
m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | extra)
if sys.argv[1] == "huge":
    m.madvise(mmap.MADV_HUGEPAGE)
for off in range(0, size, 4096):
    m[off] = 1
import ctypes
addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
print(hex(addr), flush=True)
sys.stdin.read()
`;

async function withChild<T>(mode: string, fn: (pid: number, addr: number) => T): Promise<T> {
  const child: ChildProcessWithoutNullStreams = spawn("python3", ["-c", SCRIPT, mode]);
  try {
    const out = await firstLine(child, "child exited");
    return fn(child.pid!, Number.parseInt(out.trim(), 16));
  } finally {
    child.stdin.end();
    child.kill();
  }
}

/** THP mode from sysfs: "always", "madvise" or "never" (the bracketed word). */
function thpMode(): string {
  try {
    return (
      /\[(\w+)\]/.exec(readFileSync("/sys/kernel/mm/transparent_hugepage/enabled", "utf8"))?.[1] ?? "never"
    );
  } catch {
    return "never";
  }
}

/**
 * What the child's layout implies, checked on the runs phyr reads: every page of the region
 * present (exact count, no hidden frames), runs adding up, and the THP pages kpageflags shows in
 * the region's VMA equal to the VMA's AnonHugePages, each THP run one whole, aligned 2 MiB folio.
 * @returns AnonHugePages of the VMA, in bytes
 */
function checkRegion(pid: number, addr: number): number {
  const runs = readPagemapRuns(pid, addr, addr + SIZE);
  runs.checkValid();
  expect(runs.presentPages).toBe(PAGES);
  expect(runs.unmappedPages + runs.swappedPages + runs.hiddenPages).toBe(0);
  let sum = 0;
  for (let i = 0; i < runs.count; i++) sum += runs.npages[i];
  expect(sum).toBe(PAGES);
  const list = phyrFromRuns(runs);
  expect(list.totalBytes).toBe(SIZE);
  expect(list.nents).toBeLessThanOrEqual(runs.count);

  const vma = readSmaps(pid).find((v) => v.start <= addr && addr < v.end)!;
  expect(vma.end).toBeGreaterThanOrEqual(addr + SIZE);
  const src = openKpageflags();
  try {
    const all = classifyRuns(readPagemapRuns(pid, vma.start, vma.end), src);
    all.checkValid();
    let thpRuns = 0;
    for (let i = 0; i < all.count; i++) {
      if (all.kind[i] !== RunKind.THP) continue;
      thpRuns++;
      expect(all.npages[i]).toBe(512);
      expect(all.va[i] % (2 << 20)).toBe(0);
      expect(all.pfn[i] % 512).toBe(0);
    }
    expect(all.pagesOfKind(RunKind.THP) * 4096).toBe(vma.anonHugePages);
    expect(thpRuns).toBe(vma.anonHugePages / (2 << 20));
    expect(all.pagesOfKind(RunKind.HUGETLB)).toBe(0);
  } finally {
    src.close();
  }
  return vma.anonHugePages;
}

describe.skipIf(!live)("live: a child's 64 MiB region read through pagemap", () => {
  it("without MADV_HUGEPAGE: every page present, runs add up exactly, no THP unless THP is always on", async () => {
    await withChild("base", (pid, addr) => {
      const vma = readSmaps(pid).find((v) => v.start <= addr && addr < v.end)!;
      expect(vma.vmFlags).not.toContain("hg");
      const thp = checkRegion(pid, addr);
      if (thpMode() !== "always") expect(thp).toBe(0);
    });
  });

  it("with MADV_HUGEPAGE: THP runs are whole 2 MiB folios and match AnonHugePages", async () => {
    await withChild("huge", (pid, addr) => {
      const vma = readSmaps(pid).find((v) => v.start <= addr && addr < v.end)!;
      expect(vma.vmFlags).toContain("hg");
      const thp = checkRegion(pid, addr);
      // An aligned 64 MiB mapping holds at least 31 whole 2 MiB extents; the kernel granted THPs here.
      if (thpMode() !== "never") expect(thp).toBeGreaterThan(0);
    });
  });

  it("with MAP_HUGETLB: four whole 2 MiB hugetlb runs, told apart from THP, matching smaps", async () => {
    // Reserve four 2 MiB pages for the child and give them back afterwards.
    const before = Number(readFileSync(NR_HUGEPAGES, "utf8"));
    writeFileSync(NR_HUGEPAGES, String(before + 4));
    try {
      await withChild("hugetlb", (pid, addr) => {
        const vma = readSmaps(pid).find((v) => v.start <= addr && addr < v.end)!;
        expect(vma).toMatchObject({ start: addr, end: addr + HUGETLB_SIZE, kernelPageSize: 2 << 20 });
        expect(vma.hugetlb).toBe(HUGETLB_SIZE);
        expect(vma.vmFlags).toContain("ht");
        const src = openKpageflags();
        try {
          const runs = classifyRuns(readPagemapRuns(pid, addr, addr + HUGETLB_SIZE), src);
          runs.checkValid();
          expect(runs.presentPages).toBe(HUGETLB_SIZE / 4096);
          expect(runs.count).toBe(4);
          for (let i = 0; i < 4; i++) {
            expect(runs.kind[i]).toBe(RunKind.HUGETLB);
            expect(runs.npages[i]).toBe(512);
            expect(runs.va[i]).toBe(addr + i * (2 << 20));
            expect(runs.pfn[i] % 512).toBe(0);
          }
          expect(runs.pagesOfKind(RunKind.THP)).toBe(0);
        } finally {
          src.close();
        }
      });
    } finally {
      writeFileSync(NR_HUGEPAGES, String(before));
    }
  });
});
