/**
 * `--workers N`: report and analyze read processes on N worker threads with output identical to
 * one thread (terminal and JSON), on the reference machine and on the live machine. The live half
 * freezes its own processes (SIGSTOP) and points PHYR_PROC_ROOT at a tree holding /proc's machine
 * files and only those processes, so two runs read the same pages. Through the built binary (the
 * worker module is compiled JS); the live half needs root (frame numbers and kpageflags).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseWorkers } from "./workers.js";

const BIN = resolve(import.meta.dirname, "../../dist/src/cli/main.js");
const skip = !existsSync(BIN) && !process.env.CI;
const root = process.getuid?.() === 0;

function phyr(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, FORCE_COLOR: "", COLUMNS: "", ...env },
    timeout: 120_000,
    maxBuffer: 256 * 2 ** 20,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Most threads `phyr args` had at once (sampled from /proc/PID/task every 20 ms), and its stdout. */
function peakThreads(args: string[]): Promise<{ threads: number; out: string; code: number | null }> {
  return new Promise((done) => {
    const c = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, FORCE_COLOR: "" } });
    let out = "";
    let threads = 0;
    c.stdout.on("data", (d) => (out += d));
    c.stderr.resume();
    const timer = setInterval(() => {
      try {
        threads = Math.max(threads, readdirSync(`/proc/${c.pid}/task`).length);
      } catch {
        // exited between samples
      }
    }, 20);
    c.on("close", (code) => {
      clearInterval(timer);
      done({ threads, out, code });
    });
  });
}

describe("--workers values", () => {
  it.each(["1", "8", "256"])("--workers %s is accepted", (t) => expect(parseWorkers(t)).toBe(Number(t)));
  it.each(["0", "257", "-1", "two", "1.5", ""])("--workers %j is a usage error naming the value", (t) => {
    expect(() => parseWorkers(t)).toThrow(
      `--workers ${JSON.stringify(t)} is invalid: expected an integer from 1 to 256`,
    );
  });
});

describe.skipIf(skip)("phyr report on 1 and N worker threads", () => {
  it("the reference machine: JSON and the terminal summary are identical with 1 and 3 workers", async () => {
    const one = await peakThreads(["report", "--reference", "--json", "--no-html", "--workers", "1"]);
    expect(one.code).toBe(0);
    const three = await peakThreads(["report", "--reference", "--json", "--no-html", "--workers", "3"]);
    expect(three.code).toBe(0);
    expect(three.out).toBe(one.out);
    expect(JSON.parse(one.out).buffers.length).toBeGreaterThan(1);
    // The 3 workers ran: the process had at least 3 more threads than one thread needs.
    expect(three.threads).toBeGreaterThanOrEqual(one.threads + 3);
    const t1 = phyr(["report", "--reference", "--no-html", "--workers", "1"]);
    const t3 = phyr(["report", "--reference", "--no-html", "--workers", "3"]);
    expect([t1.code, t3.code]).toEqual([0, 0]);
    expect(t3.out).toBe(t1.out);
  }, 240_000);

  it("a bad --workers is exit 2 with one line", () => {
    const r = phyr(["analyze", "--all", "--reference", "--workers", "0"]);
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      'phyr: error: --workers "0" is invalid: expected an integer from 1 to 256 (1 = in this thread)\n',
    );
  });
});

describe.skipIf(skip || (!root && !process.env.CI) || process.platform !== "linux")(
  "phyr report on 1 and N worker threads, live machine (root)",
  () => {
    const dir = mkdtempSync(join(tmpdir(), "phyr-workers-"));
    const proc = join(dir, "proc");
    const kids: ChildProcess[] = [];
    afterAll(() => {
      for (const k of kids) k.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    });

    /** A child that fills `mib` MiB in 4 KiB pieces interleaved with garbage, then stops itself. */
    function frozenChild(mib: number): Promise<number> {
      const code = `const keep=[];const junk=[];for(let i=0;i<${mib * 256};i++){keep.push(Buffer.alloc(4096,i&255));junk.push(Buffer.alloc(4096))}junk.length=0;process.kill(process.pid,"SIGSTOP");setInterval(()=>keep.length,1e9)`;
      const c = spawn(process.execPath, ["-e", code], { stdio: "ignore" });
      kids.push(c);
      return new Promise((ok, fail) => {
        const t0 = Date.now();
        const poll = setInterval(() => {
          const stat = readFileSync(`/proc/${c.pid}/stat`, "utf8");
          if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("T")) {
            clearInterval(poll);
            ok(c.pid as number);
          } else if (Date.now() - t0 > 30_000) {
            clearInterval(poll);
            fail(new Error("child did not stop"));
          }
        }, 20);
      });
    }

    it("JSON and the terminal summary of stopped processes are identical with 1 and 3 workers", async () => {
      const pids = await Promise.all([frozenChild(16), frozenChild(8), frozenChild(4)]);
      mkdirSync(proc);
      // The machine's files from /proc, and of the processes only the stopped children.
      for (const name of readdirSync("/proc"))
        if (!/^\d+$/.test(name)) symlinkSync(join("/proc", name), join(proc, name));
      for (const pid of pids) symlinkSync(`/proc/${pid}`, join(proc, String(pid)));
      const env = { PHYR_PROC_ROOT: proc };
      const one = phyr(["report", "--json", "--no-html", "--workers", "1"], env);
      expect(one.err).toBe("");
      expect(one.code).toBe(0);
      const three = phyr(["report", "--json", "--no-html", "--workers", "3"], env);
      expect(three.code).toBe(0);
      expect(three.out).toBe(one.out);
      const a = JSON.parse(one.out) as { origin: string; buffers: { pid: number; pages: number }[] };
      expect(a.origin).toBe("live");
      expect(a.buffers.map((b) => b.pid).sort()).toEqual([...pids].sort());
      expect(Math.min(...a.buffers.map((b) => b.pages))).toBeGreaterThan(1024);
      const t1 = phyr(["report", "--no-html", "--workers", "1"], env);
      const t3 = phyr(["report", "--no-html", "--workers", "3"], env);
      expect([t1.code, t3.code]).toEqual([0, 0]);
      expect(t3.out).toBe(t1.out);
    }, 240_000);
  },
);
