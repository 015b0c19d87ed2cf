/**
 * `analyze --pid P --range` on a live process is clipped to P's VMAs, so a range reaching the top
 * of the user address space (where pagemap ends: fs/proc/task_mmu.c pagemap_read stops at
 * mm->task_size) or covering the whole 52-bit space reads only what is mapped; and `kill -9` of
 * P while it is read is an error or a whole result, never "0 pages" with exit 0. Root on Linux
 * only (frame numbers are hidden otherwise).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firstLine } from "../../test/child-line.js";
import { runMain } from "../../test/cli-io.js";
import type { MachineAnalysis } from "../analyze/index.js";
import { readSmaps } from "../linux/index.js";

const live = process.platform === "linux" && process.getuid?.() === 0;

/** A child with 32 MiB of touched anonymous memory that waits on stdin. */
const CHILD = `
import mmap, sys
m = mmap.mmap(-1, 32 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
for off in range(0, 32 << 20, 4096): m[off] = 1
print("ready", flush=True)
sys.stdin.read()
`;

async function startChild(): Promise<ChildProcess> {
  const c = spawn("python3", ["-c", CHILD], { stdio: ["pipe", "pipe", "inherit"] });
  await firstLine(c, "the python3 child exited before it was ready");
  return c;
}

describe.skipIf(!live)("analyze --range on a live process", () => {
  let child: ChildProcess;
  beforeAll(async () => {
    child = await startChild();
  });
  afterAll(() => child.kill("SIGKILL"));

  it("a range reaching past the top of the user address space is clipped to the VMAs: exit 0, noted", async () => {
    const pid = child.pid as number;
    const r = await runMain(["analyze", "--pid", String(pid), "--range", "0x7f0000000000:1T", "--json"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const a = JSON.parse(r.out) as MachineAnalysis;
    const vmas = readSmaps(pid).filter((v) => v.end > 0x7f0000000000 && v.start < 0x800000000000);
    const b = a.buffers[0];
    expect(Number.parseInt(b.vaStart, 16)).toBe(Math.max(0x7f0000000000, vmas[0].start));
    expect(Number.parseInt(b.vaStart, 16) + b.vaLength).toBe(vmas[vmas.length - 1].end);
    expect(a.completeness.notes.join("\n")).toMatch(/--range 0x7f0000000000-0x800000000000 was clipped/);
  });

  it("the whole 52-bit space reads only the mapped part: pages present + swapped + unmapped = the clipped span", async () => {
    const pid = child.pid as number;
    const t0 = process.hrtime.bigint();
    const r = await runMain(["analyze", "--pid", String(pid), "--range", "0x0:0xfffffffffffff", "--json"]);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    expect(r.code).toBe(0);
    const b = (JSON.parse(r.out) as MachineAnalysis).buffers[0];
    const vmas = readSmaps(pid);
    expect(b.pages + b.swapped + b.unmapped).toBe(b.vaLength / 4096);
    expect(Number.parseInt(b.vaStart, 16)).toBe(vmas[0].start);
    expect(b.pages).toBeGreaterThanOrEqual((32 << 20) / 4096);
    // Bound measured: before clipping this read 2^40 pagemap words (about an hour).
    expect(seconds).toBeLessThan(60);
  }, 90_000);
});

describe.skipIf(!live)("kill -9 of the named process while analyze reads it", () => {
  it("5 kills at different moments: each run is a whole result or a one-line failure, never 0 pages with exit 0", async () => {
    for (const delayMs of [0, 2, 5, 10, 30]) {
      const child = await startChild();
      const pid = child.pid as number;
      // The killer is another process: analyze's reading is synchronous in this one.
      spawn("sh", ["-c", `sleep ${delayMs / 1000}; kill -9 ${pid}`], { stdio: "ignore" });
      const r = await runMain(["analyze", "--pid", String(pid), "--json"]);
      if (r.code === 0) {
        const a = JSON.parse(r.out) as MachineAnalysis;
        expect(a.total.pages).toBeGreaterThan(0);
      } else {
        expect(r.code).toBe(1);
        expect(r.err.trim().split("\n")).toHaveLength(1);
        expect(r.err).toMatch(/exited while being read|no such process|could not be read/);
      }
      child.kill("SIGKILL");
    }
  }, 60_000);
});
