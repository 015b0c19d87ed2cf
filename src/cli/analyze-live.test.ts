/**
 * Acceptance: `phyr analyze --pid P --range VA:LEN --json` on a python3 child with a known mmap
 * layout reports the pages, runs and per-format bytes that this test computes on its own from
 * /proc/P/pagemap (read here with BigInt, runs formed and bytes counted by the rules written out
 * below). compact and packed are phyr's own stores, checked against their decoders in formats/.
 * Runs only as root on Linux (frame numbers are hidden otherwise).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MachineAnalysis } from "../analyze/index.js";
import { main } from "./program.js";

const live = process.platform === "linux" && process.getuid?.() === 0;

const CHILD = `
import mmap, ctypes, sys
n = 24 * 1024 * 1024
m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
half = n // 2
m.madvise(mmap.MADV_HUGEPAGE, 0, half)
# first half: in order (THP where possible); second half: every other page, then the rest backwards
for off in range(0, half, 4096): m[off] = 1
for off in range(half, n, 8192): m[off] = 2
for off in range(n - 4096, half, -8192): m[off] = 3
print(hex(addr), n, flush=True)
sys.stdin.read()
`;

interface Independent {
  pages: number;
  runs: number;
  runPages: number[];
  runPfns: number[];
}

/** Reads pagemap words for [va, va+len) and forms runs: a run continues while VA and PFN both continue. */
function readIndependently(pid: number, va: number, len: number): Independent {
  const n = len / 4096;
  const buf = Buffer.alloc(n * 8);
  const fd = openSync(`/proc/${pid}/pagemap`, "r");
  try {
    let got = 0;
    while (got < buf.length) {
      const r = readSync(fd, buf, got, buf.length - got, (va / 4096) * 8 + got);
      if (r === 0) break;
      got += r;
    }
  } finally {
    closeSync(fd);
  }
  const runPages: number[] = [];
  const runPfns: number[] = [];
  let pages = 0;
  let prevPfn = -2n;
  let prevPresent = false;
  for (let i = 0; i < n; i++) {
    const w = buf.readBigUInt64LE(i * 8);
    const present = (w >> 63n) & 1n;
    if (present === 0n) {
      prevPresent = false;
      continue;
    }
    const pfn = w & ((1n << 55n) - 1n);
    pages++;
    if (prevPresent && pfn === prevPfn + 1n) runPages[runPages.length - 1]++;
    else {
      runPages.push(1);
      runPfns.push(Number(pfn));
    }
    prevPfn = pfn;
    prevPresent = true;
  }
  return { pages, runs: runPages.length, runPages, runPfns };
}

/** Naturally aligned power-of-two pieces of a run (largest first, greedy). */
function naturalPieces(pfn: number, n: number): number {
  let count = 0;
  while (n > 0) {
    let order = 0;
    while (pfn % 2 ** (order + 1) === 0 && 2 ** (order + 1) <= n) order++;
    pfn += 2 ** order;
    n -= 2 ** order;
    count++;
  }
  return count;
}

describe.skipIf(!live)("phyr analyze --pid --range --json on a live child", () => {
  let child: ChildProcess;
  let addr = 0;
  let size = 0;
  beforeAll(async () => {
    child = spawn("python3", ["-c", CHILD], { stdio: ["pipe", "pipe", "inherit"] });
    const line = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout! });
      rl.once("line", resolve);
      child.once("exit", (c) => reject(new Error(`python3 child exited with ${c}`)));
    });
    const [a, n] = line.trim().split(" ");
    addr = Number.parseInt(a, 16);
    size = Number(n);
  });
  afterAll(() => {
    child?.stdin?.end();
    child?.kill();
  });

  it("reports the same pages, runs and per-format bytes as an independent computation", async () => {
    let out = "";
    let err = "";
    const io = {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
      env: {},
    };
    // The kernel may move pages meanwhile (khugepaged, compaction): read the child's pagemap
    // before and after phyr does, and retry until both reads agree.
    let code = -1;
    let ind = readIndependently(child.pid!, addr, size);
    for (let attempt = 0; attempt < 5; attempt++) {
      out = "";
      const before = ind;
      code = await main(
        ["analyze", "--pid", String(child.pid), "--range", `0x${addr.toString(16)}:${size}`, "--json"],
        io,
      );
      ind = readIndependently(child.pid!, addr, size);
      if (JSON.stringify(before) === JSON.stringify(ind)) break;
    }
    expect(err).toBe("");
    expect(code).toBe(0);
    const a = JSON.parse(out) as MachineAnalysis;
    expect(a.schema).toBe("phyr-analysis/1");
    expect(a.buffers).toHaveLength(1);
    const b = a.buffers[0];
    expect(b.vaStart).toBe(`0x${addr.toString(16)}`);
    expect(b.vaLength).toBe(size);
    expect(b.pages).toBe(size / 4096);
    expect(b.pages).toBe(ind.pages);
    expect(b.runs).toBe(ind.runs);
    const bytes = Object.fromEntries(b.formats.map((f) => [f.name, f.bytes]));
    // struct page * array: 8 B per page; single-page bio_vecs: 16 B per page.
    expect(bytes.pages).toBe(8 * ind.pages);
    expect(bytes["biovec-page"]).toBe(16 * ind.pages);
    // phys_vec {addr, len}: 16 B per run; iommufd pfn_batch: 12 B per run.
    expect(bytes.phyr16).toBe(16 * ind.runs);
    // Multi-page bio_vecs: one per run (every run here is far below the 0xfffff000 split).
    expect(bytes.biovec).toBe(16 * ind.runs);
    // rlist: page-aligned runs below 4 GiB take the 8-byte form; 512-byte chunks hold 63 of them.
    expect(bytes.rlist).toBe(512 * Math.ceil(ind.runs / 63));
    expect(bytes.pfnbatch).toBe(12 * ind.runs);
    // scatterlist: one entry per run (< 4 GiB), 128-slot chunks whose last slot chains, + sg_table.
    const chunks = ind.runs <= 128 ? 1 : 1 + Math.ceil((ind.runs - 128) / 127);
    expect(bytes.scatterlist).toBe(16 + 32 * (ind.runs + chunks - 1));
    // Jason's 8-byte words: one per naturally aligned piece, + 24 B header.
    let pieces = 0;
    for (let i = 0; i < ind.runs; i++) pieces += naturalPieces(ind.runPfns[i], ind.runPages[i]);
    expect(bytes.jason8).toBe(24 + 8 * pieces);
    // Histogram: bucket floor(log2(npages)).
    const hist: number[] = [];
    for (const n of ind.runPages) {
      const k = Math.floor(Math.log2(n));
      while (hist.length <= k) hist.push(0);
      hist[k]++;
    }
    expect(b.histogram.runs).toEqual(hist);
  });

  it("a capture of the child, analysed with --snapshot, gives the same buffer as the live read", async () => {
    const dir = mkdtempSync(join(tmpdir(), "phyr-capture-"));
    const file = join(dir, "child.ndjson.gz");
    const range = `0x${addr.toString(16)}:${size}`;
    let out = "";
    let err = "";
    const io = {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
      env: {},
    };
    expect(await main(["capture", "-o", file, "--pid", String(child.pid), "--json"], io)).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ file, processes: 1 });
    out = "";
    expect(await main(["analyze", "--pid", String(child.pid), "--range", range, "--json"], io)).toBe(0);
    const liveA = JSON.parse(out) as MachineAnalysis;
    out = "";
    expect(
      await main(["analyze", "--snapshot", file, "--pid", String(child.pid), "--range", range, "--json"], io),
    ).toBe(0);
    const snapA = JSON.parse(out) as MachineAnalysis;
    expect(err).toBe("");
    expect(snapA.origin).toBe("snapshot");
    expect(snapA.buffers[0].pages).toBe(liveA.buffers[0].pages);
    expect(snapA.buffers[0].runs).toBe(liveA.buffers[0].runs);
    expect(snapA.buffers[0].formats).toEqual(liveA.buffers[0].formats);
    expect(snapA.physmap).toEqual(liveA.physmap);
    expect(snapA.pci).toEqual(liveA.pci);
  });
});
