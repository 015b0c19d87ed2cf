/**
 * `phyr capture --workers N` writes the file one thread writes, and a sparse VMA's pagemap is read
 * only as far as smaps says pages are resident. On a fixture proc tree (PHYR_PROC_ROOT), so two
 * captures read the same pages: a live machine changes between two captures (Pss moves whenever
 * any process maps or unmaps a shared file, page flags age). Each sparse VMA spans 4 pagemap
 * batches (1 GiB) and its process's pagemap file ends after the first batch: a read past the
 * resident pages fails ("file ends at byte"), so a VMA recorded without an error was read no
 * further than that batch (bytes of pagemap, not wall time). The CLI half goes through the built
 * binary (the worker module is compiled JS); as root, live processes that wait (pause()) are
 * captured too and compared but for Pss, which other processes change.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { captureWith, type ProcessRead } from "../linux/index.js";
import { KPF } from "../linux/kpageflags.js";
import { PAGEMAP_BATCH } from "../linux/pagemap.js";
import { CapturePool } from "./capture-workers.js";

const BIN = resolve(import.meta.dirname, "../../dist/src/cli/main.js");
const skip = !existsSync(BIN) && !process.env.CI;
const VM_ROOT = resolve(import.meta.dirname, "../linux/fixtures/vm-root");

const PAGE = 4096;
const PRESENT = 0x80000000;
/** Frames kpageflags describes (all anonymous LRU pages). */
const FRAMES = 0x20000;
/** The sparse VMA: 4 pagemap batches (1 GiB) from 256 MiB; the pagemap file ends after its first batch. */
const SPARSE = 0x1000_0000;
const SPARSE_PAGES = 4 * PAGEMAP_BATCH;
const FILE_END_VPN = SPARSE / PAGE + PAGEMAP_BATCH;

interface FxVma {
  start: number;
  pages: number;
  /** Present pages: index in the VMA -> frame. */
  present: [number, number][];
  path?: string;
  swapKb?: number;
  vmFlags?: string;
}

const dir = mkdtempSync(join(tmpdir(), "phyr-capture-workers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every other page of `n` from `from` on frames 0x100 + 2k (one run each). */
const scattered = (n: number, from = 0, pfn = 0x100): [number, number][] =>
  Array.from({ length: n }, (_, k) => [from + 2 * k, pfn + 2 * k] as [number, number]);

function writeProcess(proc: string, pid: number, comm: string, vmas: FxVma[], smaps = true): void {
  const d = join(proc, String(pid));
  mkdirSync(d);
  writeFileSync(join(d, "comm"), `${comm}\n`);
  writeFileSync(join(d, "cmdline"), `/usr/bin/${comm}\0--fixture\0${pid}\0`);
  writeFileSync(join(d, "stat"), `${pid} (${comm}) S 1 ${pid} ${pid} 0 -1 4194560 0 0\n`);
  if (!smaps) return; // exited between the process list and its smaps
  const kb = (n: number) => `${n} kB`;
  const text = vmas.flatMap((v) => [
    `${v.start.toString(16)}-${(v.start + v.pages * PAGE).toString(16)} ${v.path ? "r-xp" : "rw-p"} 00000000 ${v.path ? "08:01 4242" : "00:00 0"} ${v.path ?? ""}`,
    `Size:           ${kb(v.pages * 4)}`,
    `Rss:            ${kb(v.present.length * 4)}`,
    `Pss:            ${kb(v.present.length * 4)}`,
    `Anonymous:      ${kb(v.path ? 0 : v.present.length * 4)}`,
    `Swap:           ${kb(v.swapKb ?? 0)}`,
    "Private_Hugetlb: 0 kB",
    `VmFlags: ${v.vmFlags ?? "rd wr mr mw me ac"}`,
  ]);
  writeFileSync(join(d, "smaps"), `${text.join("\n")}\n`);
  const words = new Uint32Array(2 * FILE_END_VPN);
  for (const v of vmas) {
    for (const [i, pfn] of v.present) {
      const vpn = v.start / PAGE + i;
      words[2 * vpn] = pfn;
      words[2 * vpn + 1] = PRESENT;
    }
  }
  writeFileSync(join(d, "pagemap"), new Uint8Array(words.buffer));
}

/**
 * A proc tree (the machine files of the vm-root fixture, a kpageflags) with processes: a big one
 * (20,000 runs: two runs records), a few small ones with shared and own library paths, one that
 * exited (no smaps), one with a pid above the format's limit, and in each a sparse VMA; in the
 * last one that VMA is VM_PFNMAP (VmFlags pf: smaps may not count its pages, so it is read whole
 * and fails where the file ends).
 */
function fixtureTree(): string {
  const proc = join(dir, "proc");
  mkdirSync(join(proc, "sys", "kernel"), { recursive: true });
  for (const f of ["iomem", "version", "sys/kernel/osrelease", "sys/kernel/hostname"])
    writeFileSync(join(proc, f), readFileSync(join(VM_ROOT, "proc", f)));
  const kpf = new Uint32Array(2 * FRAMES);
  for (let p = 0; p < FRAMES; p++) kpf[2 * p] = (1 << KPF.LRU) | (1 << KPF.ANON);
  writeFileSync(join(proc, "kpageflags"), new Uint8Array(kpf.buffer));
  const vmasOf = (pid: number, anon: number, sparseFlags?: string): FxVma[] => [
    { start: 0x100_0000, pages: 2 * anon + 2, present: scattered(anon) },
    { start: 0xc00_0000, pages: 16, present: scattered(8, 0, 0x8000), path: "/usr/lib/libc.so.6" },
    { start: 0xc80_0000, pages: 4, present: [[1, 0x9000 + pid]], path: `/opt/fx/lib${pid}.so` },
    { start: 0xd00_0000, pages: 16, present: [], swapKb: 32 },
    { start: SPARSE, pages: SPARSE_PAGES, present: scattered(10 + pid, 7, 0x4000), vmFlags: sparseFlags },
  ];
  writeProcess(proc, 11, "big", vmasOf(11, 20_000));
  for (const pid of [12, 14, 15, 16, 17]) writeProcess(proc, pid, `small${pid % 2}`, vmasOf(pid, 50 * pid));
  writeProcess(proc, 13, "gone", [], false);
  writeProcess(proc, 1_073_741_824, "huge-pid", vmasOf(1, 3));
  writeProcess(proc, 18, "pfnmap", vmasOf(18, 5, "rd wr pf io"));
  return proc;
}
const PROC = fixtureTree();

type Rec = Record<string, unknown> & { type: string };
const records = (text: string): Rec[] =>
  text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Rec);

describe("capture reads a whole VMA only as far as smaps says pages are resident", () => {
  it("a 1 GiB VMA with 10+pid resident pages: found in the first pagemap batch, the rest counted unmapped", async () => {
    const out = join(dir, "here.snap");
    const r = await captureWith({ out, procRoot: PROC, sysRoot: join(VM_ROOT, "sys"), capturedAt: "t" });
    const recs = records(readFileSync(out, "utf8"));
    const sparse = recs.filter((x) => x.type === "vma" && x.start === `0x${SPARSE.toString(16)}`);
    expect(sparse.map((x) => x.pid)).toEqual([11, 12, 14, 15, 16, 17, 18]);
    for (const v of sparse.slice(0, -1)) {
      const n = 10 + (v.pid as number);
      expect(v.error).toBeUndefined();
      expect(v.pages).toEqual({ present: n, swapped: 0, unmapped: SPARSE_PAGES - n, hidden: 0 });
      expect(v.runs).toBe(n);
    }
    // VmFlags pf: no early stop, so the read runs into the end of the (short) pagemap file.
    const pf = sparse[sparse.length - 1];
    expect(pf.error).toMatch(/file ends at byte/);
    expect(pf.pages).toEqual({ present: 0, swapped: 0, unmapped: SPARSE_PAGES, hidden: 0 });
    expect(r.vmaErrors).toBe(1);
    // The swapped VMA (Rss 0) is not read: its 32 kB of swap are 8 swapped pages.
    const swapped = recs.find((x) => x.type === "vma" && x.pid === 12 && x.start === "0xd000000");
    expect(swapped?.pages).toEqual({ present: 0, swapped: 8, unmapped: 8, hidden: 0 });
    expect(r.skipped.map((s) => [s.pid, s.reason])).toEqual([
      [13, "exited while being read"],
      [1_073_741_824, "pid above the format's limit 1073741823"],
    ]);
    // The big process's 20,000 runs are two runs records (16,384 + 3,616).
    const big = recs.filter((x) => x.type === "runs" && x.pid === 11 && x.vma === "0x1000000");
    expect(big.map((x) => (x.va as string[]).length)).toEqual([16_384, 3_616]);
  });
});

function phyr(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, FORCE_COLOR: "", PHYR_PROC_ROOT: PROC, PHYR_SYS_ROOT: join(VM_ROOT, "sys") },
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Most threads `phyr args` had at once (sampled from /proc/PID/task every 10 ms), its output and exit code. */
function peakThreads(
  args: string[],
): Promise<{ threads: number; code: number | null; out: string; err: string }> {
  return new Promise((done) => {
    const c = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, FORCE_COLOR: "", PHYR_PROC_ROOT: PROC, PHYR_SYS_ROOT: join(VM_ROOT, "sys") },
    });
    let out = "";
    let err = "";
    let threads = 0;
    c.stdout.on("data", (d) => (out += d));
    c.stderr.on("data", (d) => (err += d));
    const timer = setInterval(() => {
      try {
        threads = Math.max(threads, readdirSync(`/proc/${c.pid}/task`).length);
      } catch {
        // exited between samples
      }
    }, 10);
    c.on("close", (code) => {
      clearInterval(timer);
      done({ threads, code, out, err });
    });
  });
}

/** The file without the header's capturedAt (the one field that differs between two captures). */
function withoutTime(file: string, gz = false): string {
  const raw = readFileSync(file);
  const text = (gz ? gunzipSync(raw) : raw).toString("utf8");
  return text.replace(/^(\{"type":"header",[^\n]*?)"capturedAt":"[^"]*",/, "$1");
}

describe.skipIf(skip || process.platform !== "linux")("phyr capture on 1 and N worker threads", () => {
  it("the files of --workers 1 and --workers 3 are the same bytes (plain, anonymized, gzip)", async () => {
    for (const extra of [[], ["--anonymize"], ["--gzip"]]) {
      const gz = extra[0] === "--gzip";
      const one = join(dir, `one${extra.join("")}.snap`);
      const three = join(dir, `three${extra.join("")}.snap`);
      const a = await peakThreads(["capture", "-o", one, "--workers", "1", "--json", ...extra]);
      expect([a.code, a.err]).toEqual([0, ""]);
      const b = await peakThreads(["capture", "-o", three, "--workers", "3", ...extra]);
      expect([b.code, b.err]).toEqual([0, ""]);
      // The 3 workers ran: at least 3 more threads than one thread needs.
      expect(b.threads).toBeGreaterThanOrEqual(a.threads + 3);
      const t1 = withoutTime(one, gz);
      expect(t1).not.toMatch(/capturedAt/);
      expect(withoutTime(three, gz)).toBe(t1);
      const doc = JSON.parse(a.out);
      expect([doc.processes, doc.skippedProcesses, doc.vmaErrors]).toEqual([7, 2, 1]);
      if (extra[0] === "--anonymize") expect(t1).toMatch(/"path":"file-1"/);
    }
  }, 240_000);

  it("workers read at most 2 processes each past the one taken: a writer that falls behind holds them back", async () => {
    const mod = (await import(resolve(import.meta.dirname, "../../dist/src/cli/capture-workers.js"))) as {
      readProcessesOnWorkers: typeof import("./capture-workers.js").readProcessesOnWorkers;
    };
    const pids = [12, 14, 15, 16, 17, 12, 14, 15, 16, 17, 12, 14, 15, 16, 17];
    const it = mod.readProcessesOnWorkers(
      { kind: "live", procRoot: PROC, sysRoot: join(VM_ROOT, "sys") },
      2,
    )(pids) as AsyncIterator<ProcessRead> & { held: number };
    try {
      const first = await it.next();
      expect(first.value?.pid).toBe(12);
      // The writer stalls: the workers read ahead until the window (2 workers x 2) is full, then wait.
      const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));
      for (const t0 = Date.now(); it.held < 4 && Date.now() - t0 < 30_000; ) await sleep(20);
      await sleep(500);
      expect(it.held).toBe(4);
      const rest: number[] = [];
      for (let r = await it.next(); !r.done; r = await it.next()) {
        rest.push(r.value.pid);
        expect(it.held).toBeLessThanOrEqual(4);
      }
      expect(rest).toEqual(pids.slice(1));
    } finally {
      await it.return?.();
    }
  }, 60_000);

  it("a bad --workers is exit 2 with one line, and no file", () => {
    const out = join(dir, "bad.snap");
    const r = phyr(["capture", "-o", out, "--workers", "two"]);
    expect([r.code, r.err]).toEqual([
      2,
      'phyr: error: --workers "two" is invalid: expected an integer from 1 to 256 (1 = in this thread)\n',
    ]);
    expect(existsSync(out)).toBe(false);
  });
});

const C_CHILD = `#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  unsigned long len = strtoul(argv[1], 0, 10) << 20;
  char *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 1;
  madvise(p, len, MADV_NOHUGEPAGE);
  for (unsigned long i = 0; i < len; i += 8192) p[i] = 1;
  printf("ready\\n");
  fflush(stdout);
  pause();
  return 0;
}
`;

describe.skipIf(
  skip ||
    process.platform !== "linux" ||
    process.getuid?.() !== 0 ||
    spawnSync("cc", ["--version"]).status !== 0,
)("phyr capture on 1 and N worker threads, live processes (root)", () => {
  const kids: ReturnType<typeof spawn>[] = [];
  afterAll(() => {
    for (const k of kids) k.kill("SIGKILL");
  });

  /** A child that writes every other page of `mib` MiB (one run each) and waits. */
  function child(bin: string, mib: number): Promise<number> {
    const c = spawn(bin, [String(mib)], { stdio: ["ignore", "pipe", "ignore"] });
    kids.push(c);
    return new Promise((ok, fail) => {
      c.stdout?.once("data", () => ok(c.pid as number));
      c.once("exit", () => fail(new Error("the child exited")));
    });
  }

  it("the files of --workers 1 and 3 are the same bytes but for capturedAt and Pss", async () => {
    writeFileSync(join(dir, "child.c"), C_CHILD);
    const bin = join(dir, "child");
    expect(spawnSync("cc", ["-O2", "-o", bin, join(dir, "child.c")]).status).toBe(0);
    const pids = await Promise.all([child(bin, 16), child(bin, 8), child(bin, 4), child(bin, 4)]);
    const args = (f: string, n: string) => [
      "capture",
      "-o",
      f,
      ...pids.flatMap((p) => ["--pid", String(p)]),
      "--workers",
      n,
    ];
    const live = (a: string[]) =>
      spawnSync(process.execPath, [BIN, ...a], {
        encoding: "utf8",
        env: { ...process.env, FORCE_COLOR: "" },
      });
    const one = join(dir, "live1.snap");
    const three = join(dir, "live3.snap");
    expect(live(args(one, "1")).status).toBe(0);
    expect(live(args(three, "3")).status).toBe(0);
    // Pss divides each shared page (libc) among the processes mapping it now: any process on the
    // machine starting or ending between the two captures changes it.
    const norm = (f: string) => withoutTime(f).replace(/"pss":\d+,/g, "");
    const a = norm(one);
    expect(norm(three)).toBe(a);
    const runs = records(a).filter((x) => x.type === "runs");
    expect(new Set(runs.map((x) => x.pid))).toEqual(new Set(pids));
    expect(runs.reduce((n, x) => n + (x.va as string[]).length, 0)).toBeGreaterThan(4096);
  }, 120_000);
});

describe("a worker that ends before its job is done fails the capture instead of hanging it", () => {
  it.each([0, 3])("exit code %i on its first job: next() rejects naming the code", async (code) => {
    const dir = mkdtempSync(join(tmpdir(), "phyr-exit-worker-"));
    const file = join(dir, "exits.mjs");
    // A real worker thread that quits the moment it is handed a job (as a stray process.exit would).
    writeFileSync(
      file,
      `import { parentPort } from "node:worker_threads";\nparentPort.on("message", () => process.exit(${code}));\n`,
    );
    const pool = new CapturePool(
      file,
      { kind: "live", procRoot: PROC, sysRoot: join(VM_ROOT, "sys") },
      [1, 2, 3],
      2,
    );
    try {
      await expect(pool.next()).rejects.toThrow(
        `a worker thread exited with code ${code} before its job was done`,
      );
    } finally {
      await pool.return();
    }
  });
});
