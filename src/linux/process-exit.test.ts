/**
 * A process killed while it is read is reported as exited, not as a process without memory: a
 * zombie's smaps is empty and its pagemap reads 0 bytes (fs/proc/task_mmu.c pagemap_read returns
 * 0 once the mm is gone), exactly what a kernel thread's smaps looks like, so the reader tells
 * them apart by /proc/PID/stat: the state (fs/proc/array.c task_state_array: Z zombie, X dead) and
 * the flags (include/linux/sched.h PF_EXITING, set as do_exit() starts, before the mm goes).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { liveSource, processAlive } from "./source.js";

const root = mkdtempSync(join(tmpdir(), "phyr-exit-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A procfs pid directory with the given stat state, an empty smaps and an empty pagemap. */
function pidDir(pid: number, state: string | undefined, comm = "victim", flags = 0x400100): void {
  const d = join(root, String(pid));
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, "comm"), `${comm}\n`);
  writeFileSync(join(d, "smaps"), "");
  writeFileSync(join(d, "pagemap"), "");
  if (state !== undefined)
    writeFileSync(join(d, "stat"), `${pid} (a) b) ${state} 1 ${pid} ${pid} 0 -1 ${flags} 0 0\n`);
}

describe("a process that exits while it is read", () => {
  pidDir(100, "Z");
  pidDir(101, "X");
  pidDir(102, "I", "kworker/0:1", 0x04208060);
  pidDir(103, "S");
  pidDir(104, "R", "victim", 0x00400104); // PF_EXITING: killed, mm gone, not yet a zombie
  const src = liveSource({ procRoot: root, sysRoot: root });

  it.each([
    [100, false],
    [101, false],
    [102, true],
    [103, true],
    [104, false],
    [999, false],
  ])(
    "processAlive(%i) is %s (state and PF_EXITING after the last ')' of stat; no directory: gone)",
    (pid, alive) => {
      expect(processAlive(pid, { procRoot: root })).toBe(alive);
    },
  );

  it("a zombie's empty smaps is an ESRCH error naming the pid; a kernel thread's is no VMAs", () => {
    expect(() => src.vmas(100)).toThrow(
      expect.objectContaining({ code: "ESRCH", message: "process 100 exited while being read" }),
    );
    expect(src.vmas(102)).toEqual([]);
  });

  it("a pagemap that reads 0 bytes because the process exited is ESRCH, not a short file", () => {
    expect(() => src.runs(100, 0x1000, 0x2000)).toThrow(expect.objectContaining({ code: "ESRCH" }));
    // A live process with a short pagemap keeps the reader's own error.
    expect(() => src.runs(103, 0x1000, 0x2000)).toThrow(/file ends at byte/);
  });
});
