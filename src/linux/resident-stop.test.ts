/**
 * The live source stops reading a whole VMA's pagemap once it found the pages smaps says the VMA
 * holds (Rss + Swap, or the hugetlb bytes): fixture proc trees whose pagemap file ends after the
 * resident pages' batch, so a read past them fails and a read that stopped succeeds. smaps' Rss
 * leaves out zero-page mappings that pagemap shows present (fs/proc/task_mmu.c smaps_pte_entry():
 * vm_normal_page() is NULL for the zero pfn), so zero pages found raise the limit by their count.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { collectBuffers } from "../cli/collect.js";
import { noProgress } from "../cli/io.js";
import { RunKind } from "../machine/index.js";
import { KPF } from "./kpageflags.js";
import { PAGEMAP_BATCH } from "./pagemap.js";
import { liveSource } from "./source.js";

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

const PAGE = 4096;
/** The VMA: 4 batches of pagemap words (1 GiB) starting at 1 GiB. */
const VMA_START = 0x4000_0000;
const VMA_PAGES = 4 * PAGEMAP_BATCH;
const VMA_END = VMA_START + VMA_PAGES * PAGE;
const ZERO_PFN = 0x50;
const BASE_PFN = 0x1000;
const PRESENT = 0x80000000;

interface Fixture {
  /** Virtual page index in the VMA -> frame, for the present pages. */
  pages: [number, number][];
  /** Batches of the VMA the pagemap file covers (the file ends there). */
  batches: number;
  /** smaps Rss and Swap in pages, hugetlb bytes, VmFlags. */
  rss: number;
  swap?: number;
  hugetlb?: number;
  vmFlags?: string;
  /** Whether /proc/kpageflags exists. */
  kpageflags?: boolean;
}

/** A proc tree with pid 7: comm, stat, smaps with one VMA, pagemap ending after `batches`. */
function procTree(f: Fixture): string {
  const root = mkdtempSync(join(tmpdir(), "phyr-stop-"));
  roots.push(root);
  const d = join(root, "7");
  mkdirSync(d);
  writeFileSync(join(d, "comm"), "sparse\n");
  writeFileSync(join(d, "stat"), "7 (sparse) S 1 7 7 0 -1 4194560 0 0\n");
  const kb = (pages: number) => `${(pages * PAGE) / 1024} kB`;
  writeFileSync(
    join(d, "smaps"),
    [
      `${VMA_START.toString(16)}-${VMA_END.toString(16)} rw-p 00000000 00:00 0 `,
      `Size:           ${kb(VMA_PAGES)}`,
      `Rss:            ${kb(f.rss)}`,
      `Swap:           ${kb(f.swap ?? 0)}`,
      `Private_Hugetlb: ${(f.hugetlb ?? 0) / 1024} kB`,
      `VmFlags: ${f.vmFlags ?? "rd wr mr mw me ac"}`,
      "",
    ].join("\n"),
  );
  const firstVpn = VMA_START / PAGE;
  const words = new Uint32Array(2 * (firstVpn + f.batches * PAGEMAP_BATCH));
  for (const [i, pfn] of f.pages) {
    words[2 * (firstVpn + i)] = pfn;
    words[2 * (firstVpn + i) + 1] = PRESENT;
  }
  writeFileSync(join(d, "pagemap"), new Uint8Array(words.buffer));
  if (f.kpageflags !== false) {
    const kpf = new Uint32Array(2 * (BASE_PFN + 0x1000));
    kpf[2 * ZERO_PFN] = 1 << KPF.ZERO_PAGE;
    for (let p = BASE_PFN; p < BASE_PFN + 0x1000; p++) kpf[2 * p] = (1 << KPF.LRU) | (1 << KPF.ANON);
    writeFileSync(join(root, "kpageflags"), new Uint8Array(kpf.buffer));
  }
  return root;
}

/** Pages 0..n-1 of the VMA on scattered base frames (every other frame: one run each). */
const scattered = (n: number, from = 0): [number, number][] =>
  Array.from({ length: n }, (_, k) => [from + k, BASE_PFN + 2 * k] as [number, number]);

describe("live runs of a whole VMA stop once smaps' resident pages are found", () => {
  it("stops after the batch holding the last resident page; the rest counts as unmapped", () => {
    const root = procTree({ pages: scattered(10), batches: 1, rss: 10 });
    const src = liveSource({ procRoot: root, sysRoot: root });
    const r = src.runs(7, VMA_START, VMA_END, { residentPages: 10 });
    expect(r.readEnd).toBe(VMA_START + PAGEMAP_BATCH * PAGE);
    expect([r.count, r.presentPages, r.unmappedPages, r.swappedPages]).toEqual([10, 10, VMA_PAGES - 10, 0]);
    expect(r.kind[0]).toBe(RunKind.BASE);
    // Without the count the whole VMA is read, and this file ends after its first batch.
    expect(() => src.runs(7, VMA_START, VMA_END)).toThrow(/file ends at byte/);
    src.close();
  });

  it("zero pages (present in pagemap, not in Rss) raise the limit: the read goes on to the last counted page", () => {
    // 3 zero-page mappings in batch 0, 10 counted pages: 7 in batch 0, 3 in batch 2.
    const pages: [number, number][] = [
      [0, ZERO_PFN],
      [1, ZERO_PFN],
      [2, ZERO_PFN],
      ...scattered(7, 10),
      [2 * PAGEMAP_BATCH + 5, BASE_PFN + 100],
      [2 * PAGEMAP_BATCH + 7, BASE_PFN + 102],
      [2 * PAGEMAP_BATCH + 9, BASE_PFN + 104],
    ];
    const root = procTree({ pages, batches: 3, rss: 10 });
    const src = liveSource({ procRoot: root, sysRoot: root });
    const r = src.runs(7, VMA_START, VMA_END, { residentPages: 10 });
    // A first read with limit 10 stops after batch 0 (3 zero + 7 counted found); the zero pages
    // raise the limit to 13, found by the end of batch 2 (the file ends there).
    expect(r.readEnd).toBe(VMA_START + 3 * PAGEMAP_BATCH * PAGE);
    expect(r.presentPages).toBe(13);
    expect(r.va[r.count - 1]).toBe(VMA_START + (2 * PAGEMAP_BATCH + 9) * PAGE);
    expect(r.kind[0]).toBe(RunKind.ZERO);
    src.close();
  });

  it("zero pages that push the counted pages past the first stop make it read again, further", () => {
    // 10 counted pages: 5 in batch 0 with 5 zero pages, 5 in batch 1. A read with limit 10 stops
    // after batch 0 (5 + 5 found); the zero pages raise it to 15, found by the end of batch 1.
    const pages: [number, number][] = [
      ...Array.from({ length: 5 }, (_, k) => [k, ZERO_PFN] as [number, number]),
      ...scattered(5, 100),
      ...scattered(5, PAGEMAP_BATCH + 3).map(([i, p]) => [i, p + 50] as [number, number]),
    ];
    const root = procTree({ pages, batches: 2, rss: 10 });
    const src = liveSource({ procRoot: root, sysRoot: root });
    const r = src.runs(7, VMA_START, VMA_END, { residentPages: 10 });
    expect(r.readEnd).toBe(VMA_START + 2 * PAGEMAP_BATCH * PAGE);
    expect([r.presentPages, r.unmappedPages]).toEqual([15, VMA_PAGES - 15]);
    src.close();
  });

  it("without a readable kpageflags (zero pages cannot be told apart) it reads the whole VMA", () => {
    const root = procTree({ pages: scattered(10), batches: 4, rss: 10, kpageflags: false });
    const src = liveSource({ procRoot: root, sysRoot: root });
    const r = src.runs(7, VMA_START, VMA_END, { residentPages: 10 });
    expect(r.readEnd).toBe(VMA_END);
    expect(r.presentPages).toBe(10);
    src.close();
  });
});

describe("collectBuffers passes each whole VMA's smaps count to the live source", () => {
  const strip = (pid: number, root: string) => {
    const src = liveSource({ procRoot: root, sysRoot: root });
    try {
      const [b] = collectBuffers(src, { pids: [pid], all: false }, noProgress);
      return b;
    } finally {
      src.close();
    }
  };

  it("Rss + Swap: a pagemap ending after the resident batch analyses (a whole read would fail)", () => {
    // 6 present pages: 4 in batch 0, 2 in batch 1; Rss 4 + Swap 2 = 6 is only found by the end of
    // batch 1 (a limit of Rss alone would stop after batch 0 and lose 2 pages).
    const pages = [
      ...scattered(4),
      ...scattered(2, PAGEMAP_BATCH).map(([i, p]) => [i, p + 20] as [number, number]),
    ];
    const root = procTree({ pages, batches: 2, rss: 4, swap: 2 });
    const b = strip(7, root);
    expect([b.pid, b.pages, b.vaLength]).toEqual([7, 6, VMA_PAGES * PAGE]);
  });

  it("hugetlb bytes / 4096 for a hugetlb VMA (its Rss is 0)", () => {
    const root = procTree({
      // 512 pages: 256 in batch 0, 256 in batch 1 (a limit of Rss 0 would stop after batch 0).
      pages: [
        ...scattered(256),
        ...scattered(256, PAGEMAP_BATCH).map(([i, p]) => [i, p + 1024] as [number, number]),
      ],
      batches: 2,
      rss: 0,
      hugetlb: 512 * PAGE,
      vmFlags: "rd wr ht",
    });
    const b = strip(7, root);
    expect([b.pages, b.vaLength]).toEqual([512, VMA_PAGES * PAGE]);
  });

  it.each(["pf", "mm", "io"])(
    "a VM_PFNMAP/MIXEDMAP/IO VMA (VmFlags %s: pages smaps may not count) is read whole",
    (flag) => {
      const root = procTree({ pages: scattered(6), batches: 1, rss: 6, vmFlags: `rd wr ${flag}` });
      expect(() => strip(7, root)).toThrow(/file ends at byte/);
    },
  );
});
