/**
 * A live process with a 64 GiB MAP_NORESERVE reservation and 1 MiB written at its start: capture
 * reads that VMA's pagemap only up to the batch holding the last resident page (smaps Rss), not
 * 16 M entries (128 MiB of pagemap). Measured in bytes this process read (/proc/self/io rchar),
 * not in time. Needs root (frame numbers, kpageflags) and a C compiler.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { captureWith } from "./snapshot-write.js";

const cc = spawnSync("cc", ["--version"]).status === 0;
const root = process.getuid?.() === 0;
const RESERVED = 64 * 2 ** 30;
const WRITTEN = 2 ** 20;

const C = `#include <sys/mman.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
  char *p = mmap(0, ${RESERVED}UL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return 1;
  for (unsigned long i = 0; i < ${WRITTEN}UL; i += 4096) p[i] = 1 + (i >> 12);
  printf("%lx\\n", (unsigned long)p);
  fflush(stdout);
  pause();
  return 0;
}
`;

/** Bytes this process has read through read(2) so far (procfs files included). */
const rchar = (): number => Number(/^rchar: (\d+)$/m.exec(readFileSync("/proc/self/io", "utf8"))?.[1]);

describe.skipIf(!cc || !root || process.platform !== "linux")("capture of a sparse live VMA", () => {
  const dir = mkdtempSync(join(tmpdir(), "phyr-sparse-"));
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads 1 pagemap batch of a 64 GiB reservation with 1 MiB written; 256 present, the rest unmapped", async () => {
    writeFileSync(join(dir, "sparse.c"), C);
    expect(spawnSync("cc", ["-O2", "-o", join(dir, "sparse"), join(dir, "sparse.c")]).status).toBe(0);
    const c = spawn(join(dir, "sparse"), [], { stdio: ["ignore", "pipe", "ignore"] });
    child = c;
    const base = await new Promise<number>((ok, fail) => {
      c.stdout?.once("data", (d) => ok(Number.parseInt(String(d).trim(), 16)));
      c.once("exit", () => fail(new Error("the sparse child exited")));
    });
    const out = join(dir, "sparse.snap");
    const before = rchar();
    const r = await captureWith({ out, pids: [c.pid as number], capturedAt: "t" });
    const read = rchar() - before;
    expect([r.processes, r.vmaErrors]).toEqual([1, 0]);
    const vma = readFileSync(out, "utf8")
      .split("\n")
      .filter((l) => l.startsWith('{"type":"vma"'))
      .map((l) => JSON.parse(l))
      .find((v) => v.start === `0x${base.toString(16)}`);
    const pages = RESERVED / 4096;
    expect(vma.pages).toEqual({
      present: WRITTEN / 4096,
      swapped: 0,
      unmapped: pages - WRITTEN / 4096,
      hidden: 0,
    });
    // One batch of this VMA (PAGEMAP_BATCH words, 512 KiB) plus the other VMAs, smaps, kpageflags,
    // iomem and sysfs: far below the 128 MiB a whole read of the reservation takes.
    expect(read).toBeLessThan(16 * 2 ** 20);
  }, 60_000);
});
