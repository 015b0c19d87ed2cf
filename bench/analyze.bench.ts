/**
 * The main job at host scale: analysing one process end to end (pagemap, kpageflags, every
 * per-buffer cost) against the tools a user would otherwise run, measured in the same run.
 *
 * The bench makes its own processes with a small C program (bench/peers/frag-process.c): 8 GiB of
 * anonymous 4 KiB pages written so that most physical runs are two pages long (1 GiB with
 * --quick), and a 4 TiB MAP_NORESERVE reservation whose first 1 GiB is written (1 TiB / 256 MiB
 * with --quick), analysed whole and as a --range over its written part. The peer is
 * bench/peers/page-types-walk.c,
 * what `tools/mm/page-types -p PID -l` does over the same range (pagemap in 64K-entry batches, one
 * kpageflags read per present page, ranges split on flags). Both are built with the system `cc`;
 * without one the suite prints a note and no rows.
 *
 * Every figure is CPU time (user + system): the work is CPU-bound (the kernel walks page tables
 * and page flags to fill the reads), and on a shared 2-core machine wall-clock time mostly measures
 * waiting. phyr's judged side is the command a user runs, `phyr analyze --pid P --range VA:LEN`,
 * spawned fresh each round (Node's start, module loading, compiling the hot code cold, reading,
 * every representation and IOMMU layout, printing), timed by bench/peers/cpu-time.c with wait4();
 * the same work through the library in this process, warm, is printed beside it. The C peer
 * reports its own getrusage. Rounds are paired (raw read, peer, phyr back to back) and each ratio
 * row gives the median of the per-round ratios with their range (the printed spread).
 * Root only: frame numbers and /proc/kpageflags need CAP_SYS_ADMIN.
 */
import { type ChildProcessByStdio, execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { VaRange } from "../src/cli/args.js";
import { collectBuffers } from "../src/cli/collect.js";
import { noProgress } from "../src/cli/io.js";
import { liveSource, PAGEMAP_BATCH } from "../src/linux/index.js";
import { type BenchRow, type BenchSuite, cpuNowNs, median, pairedRow, roundRatios } from "./harness.js";

const GiB = 2 ** 30;
type Child = ChildProcessByStdio<Writable, Readable, null>;
const here = dirname(fileURLToPath(import.meta.url));
/** The C sources sit in bench/peers of the repository; this file runs from dist/bench. */
const PEERS = join(here, "..", "..", "bench", "peers");

/** The CLI entry point this file was built beside (dist/src/cli/main.js). */
const CLI = join(here, "..", "src", "cli", "main.js");

/** Builds the C peers; null (with the reason) when there is no C compiler. */
function buildPeers(): { walker: string; frag: string; cpuTime: string; dir: string } | { missing: string } {
  const dir = mkdtempSync(join(tmpdir(), "phyr-bench-"));
  try {
    for (const name of ["page-types-walk", "frag-process", "cpu-time"])
      execFileSync("cc", ["-O2", "-o", join(dir, name), join(PEERS, `${name}.c`)], { stdio: "pipe" });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return { missing: `cannot build the C peers with cc: ${(e as Error).message.split("\n")[0]}` };
  }
  return {
    walker: join(dir, "page-types-walk"),
    frag: join(dir, "frag-process"),
    cpuTime: join(dir, "cpu-time"),
    dir,
  };
}

/**
 * CPU time in ns of `phyr analyze --pid P --range VA:LEN` run as a fresh process (the user's
 * command, output discarded), measured by cpu-time with wait4().
 */
function cliNs(cpuTime: string, pid: number, va: number, bytes: number): number {
  const args = [
    process.execPath,
    CLI,
    "analyze",
    "--pid",
    String(pid),
    "--range",
    `0x${va.toString(16)}:${bytes}`,
  ];
  const run = spawnSync(cpuTime, args, { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const m = /cpu_us=(\d+) status=0/.exec(run.stderr);
  if (!m) throw new Error(`phyr analyze under cpu-time printed ${JSON.stringify(run.stderr.slice(-500))}`);
  return Number(m[1]) * 1000;
}

/** Starts frag-process and waits until it printed its mapping's address. */
async function startProcess(bin: string, args: string[]): Promise<{ child: Child; va: number }> {
  const child = spawn(bin, args, { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  while (!out.includes("\n")) {
    const [chunk] = (await Promise.race([
      once(child.stdout, "data"),
      once(child, "exit").then(() => {
        throw new Error(`${bin} ${args.join(" ")} exited before it was ready`);
      }),
    ])) as [Buffer];
    out += String(chunk);
  }
  return { child, va: Number.parseInt(out.trim(), 16) };
}

function stop(child: Child): void {
  child.stdin.end();
  child.kill();
}

/** CPU time in ns of `fn` in this process. */
function cpuNs(fn: () => unknown): number {
  const c0 = cpuNowNs();
  if (fn() === undefined) throw new Error("nothing measured");
  return cpuNowNs() - c0;
}

/** The raw pagemap read of a range in page-types' batches: the floor of any pagemap reader. */
function rawRead(pid: number, start: number, bytes: number, buf: Uint8Array): number {
  const fd = openSync(`/proc/${pid}/pagemap`, "r");
  let sum = 0;
  try {
    for (let vpn = start / 4096; vpn < (start + bytes) / 4096; vpn += PAGEMAP_BATCH) {
      const n = Math.min(PAGEMAP_BATCH, (start + bytes) / 4096 - vpn) * 8;
      sum += readSync(fd, buf, 0, n, vpn * 8);
    }
  } finally {
    closeSync(fd);
  }
  return sum;
}

/** The C walker's own CPU time in ns, and its page and range counts. */
function walk(
  walker: string,
  pid: number,
  va: number,
  bytes: number,
): { ns: number; pages: number; ranges: number } {
  const run = spawnSync(walker, [String(pid), va.toString(16), String(bytes)], {
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
  });
  const r = run.stderr;
  const m = /pages=(\d+) ranges=(\d+) cpu_us=(\d+)/.exec(r);
  if (!m) throw new Error(`page-types-walk printed ${JSON.stringify(r)}`);
  return { ns: Number(m[3]) * 1000, pages: Number(m[1]), ranges: Number(m[2]) };
}

/** phyr's analysis of one process (or one range of it) through the CLI's library path. */
function analyse(pid: number, range?: VaRange): number {
  const src = liveSource();
  try {
    const out = collectBuffers(src, { pids: [pid], all: false, ...(range ? { range } : {}) }, noProgress);
    return out.reduce((s, b) => s + b.pages, 0);
  } finally {
    src.close();
  }
}

export const suite: BenchSuite = {
  name: "analyze",
  async run(opts) {
    if (process.platform !== "linux" || process.getuid?.() !== 0) {
      process.stdout.write("  (skipped: needs Linux and root to read frame numbers and /proc/kpageflags)\n");
      return [];
    }
    const peers = buildPeers();
    if ("missing" in peers) {
      process.stdout.write(`  (skipped: ${peers.missing})\n`);
      return [];
    }
    const rows: BenchRow[] = [];
    const rounds = opts.quick ? 3 : 5;
    try {
      // 1. One fragmented process: phyr against page-types and the raw read, same range, same run.
      const size = opts.quick ? GiB : 8 * GiB;
      const label = opts.quick ? "1 GiB" : "8 GiB";
      const frag = await startProcess(peers.frag, [String(size)]);
      try {
        const pid = frag.child.pid!;
        const range: VaRange = { start: frag.va, end: frag.va + size, requested: "bench", widened: false };
        const buf = new Uint8Array(PAGEMAP_BATCH * 8);
        const raw: number[] = [];
        const peer: number[] = [];
        const ours: number[] = [];
        const lib: number[] = [];
        let shape = { pages: 0, ranges: 0 };
        analyse(pid, range); // warm-up of the library path in this process
        for (let i = 0; i < rounds; i++) {
          raw.push(cpuNs(() => rawRead(pid, frag.va, size, buf)));
          const w = walk(peers.walker, pid, frag.va, size);
          peer.push(w.ns);
          shape = w;
          ours.push(cliNs(peers.cpuTime, pid, frag.va, size));
          lib.push(cpuNs(() => analyse(pid, range)));
        }
        const vsPeer = roundRatios(peer, ours);
        const vsRaw = roundRatios(ours, raw);
        const libVsPeer = roundRatios(peer, lib);
        // The target is the issue's: the 8 GiB process (full mode); --quick is a smoke run of 1 GiB,
        // where Node's start and module loading (about half a second) weigh more.
        rows.push(
          {
            name: `raw pagemap read, ${label} (${size / 4096} entries), CPU`,
            value: median(raw),
            unit: "ns",
          },
          {
            name: `page-types -p -l walk, ${label} (${shape.pages} pages, ${shape.ranges} ranges), CPU`,
            value: median(peer),
            unit: "ns",
          },
          pairedRow(
            `phyr analyze --pid --range, ${label}, the command (fresh process), CPU`,
            median(ours),
            "page-types walk CPU",
            vsPeer,
            opts.quick ? undefined : ">= 1x (less CPU)",
            opts.quick ? undefined : (r) => r >= 1,
          ),
          pairedRow(
            "phyr analyze (the command) vs the raw pagemap read",
            median(ours),
            "raw read CPU (times slower; moonshot <= 3)",
            vsRaw,
          ),
          pairedRow(
            `the same analysis through the library, warm, in this process, ${label}, CPU`,
            median(lib),
            "page-types walk CPU",
            libVsPeer,
          ),
        );
      } finally {
        stop(frag.child);
      }

      // 2. A huge reservation with its first part written, against the written part alone: the
      // same process and the same pages, read once as the whole process (every VMA, the reservation
      // whole) and once as `--range` over the written part, so the difference is what the empty
      // rest of the reservation costs (two processes would differ in their physical layout).
      const reserve = opts.quick ? 1024 * GiB : 4096 * GiB;
      const touched = opts.quick ? GiB / 4 : GiB;
      const sparse = await startProcess(peers.frag, [String(reserve), String(touched)]);
      try {
        const pid = sparse.child.pid!;
        const written: VaRange = {
          start: sparse.va,
          end: sparse.va + touched,
          requested: "bench",
          widened: false,
        };
        const sp: number[] = [];
        const de: number[] = [];
        analyse(pid);
        analyse(pid, written);
        for (let i = 0; i < rounds; i++) {
          sp.push(cpuNs(() => analyse(pid)));
          de.push(cpuNs(() => analyse(pid, written)));
        }
        const ratios = roundRatios(sp, de);
        const what = `${reserve / GiB / 1024} TiB reserved, ${touched / GiB} GiB written`;
        rows.push(
          {
            name: `phyr analyze --pid --range, the ${touched / GiB} GiB written alone, CPU`,
            value: median(de),
            unit: "ns",
          },
          pairedRow(
            `phyr analyze --pid, the whole process (${what}), CPU`,
            median(sp),
            "the written part alone (times slower)",
            ratios,
            "<= 2x",
            (r) => r <= 2,
          ),
        );
      } finally {
        stop(sparse.child);
      }
    } finally {
      rmSync(peers.dir, { recursive: true, force: true });
    }
    return rows;
  },
};
