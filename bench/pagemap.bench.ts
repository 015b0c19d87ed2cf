/**
 * Reading the pagemap of a 4 GiB mapping (1 GiB with --quick) made by a python3 child that
 * writes every page: raw batched reads of the file against read + decode + run forming, measured
 * in the same run. Target: parse overhead (full - raw) <= raw read time. The two are timed in
 * back-to-back pairs (paired rounds), so load from other processes hits both alike (mitata's
 * sampler times one function at a time, which on a shared box skews a difference of two timings);
 * the overhead ratio is the median of the per-round (full - raw) / raw, printed with their range.
 *
 * Each pair is timed twice over: CPU time of this process (user + system, process.cpuUsage) and
 * wall-clock time. Both calls are CPU-bound (the kernel walks page tables to fill the read; no
 * device I/O), so CPU time is what each costs; wall-clock time adds the time spent waiting for a
 * CPU, which on a loaded 2-core box is as large as the work and arrives in bursts. The target is
 * judged on CPU time; the wall-clock ratio is printed beside it.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, openSync, readSync } from "node:fs";
import { PAGEMAP_BATCH, readPagemapRuns } from "../src/linux/index.js";
import { type BenchRow, type BenchSuite, cpuNowNs, median, pairedRatio } from "./harness.js";

const SCRIPT = `
import mmap, sys, ctypes
size = int(sys.argv[1])
m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
for off in range(0, size, 4096):
    m[off] = 1
print(hex(ctypes.addressof(ctypes.c_char.from_buffer(m))), flush=True)
sys.stdin.read()
`;

function rawRead(pid: number, start: number, end: number, buf: Uint8Array): number {
  const fd = openSync(`/proc/${pid}/pagemap`, "r");
  let sum = 0;
  try {
    for (let vpn = start / 4096; vpn < end / 4096; vpn += PAGEMAP_BATCH) {
      const n = Math.min(PAGEMAP_BATCH, end / 4096 - vpn) * 8;
      sum += readSync(fd, buf, 0, n, vpn * 8);
    }
  } finally {
    closeSync(fd);
  }
  return sum;
}

export const suite: BenchSuite = {
  name: "pagemap",
  async run(opts) {
    if (process.platform !== "linux") return [];
    const size = opts.quick ? 2 ** 30 : 4 * 2 ** 30;
    const child = spawn("python3", ["-c", SCRIPT, String(size)], { stdio: ["pipe", "pipe", "inherit"] });
    try {
      let out = "";
      while (!out.includes("\n")) out += String((await once(child.stdout, "data"))[0]);
      const addr = Number.parseInt(out.trim(), 16);
      const pid = child.pid!;
      const buf = new Uint8Array(PAGEMAP_BATCH * 8);
      const check = readPagemapRuns(pid, addr, addr + size);
      if (check.presentPages !== size / 4096)
        throw new Error(`expected ${size / 4096} present pages, read ${check.presentPages}`);
      const raws: number[] = [];
      const fulls: number[] = [];
      const rawCpu: number[] = [];
      const fullCpu: number[] = [];
      let sink = 0;
      const gc = (globalThis as { gc?: () => void }).gc;
      // Two untimed pairs first (JIT, page cache of /proc), then a GC before every timed pair.
      for (let i = 0; i < 2; i++)
        sink += rawRead(pid, addr, addr + size, buf) + readPagemapRuns(pid, addr, addr + size).count;
      for (let i = 0; i < (opts.quick ? 21 : 15); i++) {
        gc?.();
        const c0 = cpuNowNs();
        const t0 = process.hrtime.bigint();
        sink += rawRead(pid, addr, addr + size, buf);
        const t1 = process.hrtime.bigint();
        const c1 = cpuNowNs();
        sink += readPagemapRuns(pid, addr, addr + size).count;
        const t2 = process.hrtime.bigint();
        const c2 = cpuNowNs();
        raws.push(Number(t1 - t0));
        fulls.push(Number(t2 - t1));
        rawCpu.push(c1 - c0);
        fullCpu.push(c2 - c1);
      }
      if (sink === 0) throw new Error("nothing read");
      const label = opts.quick ? "1 GiB" : "4 GiB";
      const raw = median(rawCpu);
      const full = median(fullCpu);
      // Per round: (full - raw) / raw of one back-to-back pair; the ratio is their median.
      const overhead = pairedRatio(fullCpu.map((f, i) => (f - rawCpu[i]) / rawCpu[i]));
      const rawWall = median(raws);
      const fullWall = median(fulls);
      const wallOverhead = pairedRatio(fulls.map((f, i) => (f - raws[i]) / raws[i]));
      const rows: BenchRow[] = [
        { name: `raw pagemap read, ${label} (${size / 4096} entries), CPU`, value: raw, unit: "ns" },
        { name: `read + decode + runs, ${label} (${check.count} runs), CPU`, value: full, unit: "ns" },
        {
          name: "decode + run-forming overhead (full - raw), CPU",
          value: Math.max(0, full - raw),
          unit: "ns",
          ratio: { against: "raw read CPU time", ...overhead, want: "<= 1", ok: overhead.value <= 1 },
        },
        { name: `raw pagemap read, ${label}, wall clock`, value: rawWall, unit: "ns" },
        { name: `read + decode + runs, ${label}, wall clock`, value: fullWall, unit: "ns" },
        {
          name: "decode + run-forming overhead (full - raw), wall clock",
          value: Math.max(0, fullWall - rawWall),
          unit: "ns",
          ratio: { against: "raw read wall time", ...wallOverhead },
        },
      ];
      return rows;
    } finally {
      child.stdin.end();
      child.kill();
    }
  },
};
