/**
 * What `phyr capture` checks before it writes anything: that every named process exists (a
 * missing one is a failure, exit 1, as in `phyr analyze`), names resolved to pids like `pgrep -x`,
 * and whether this machine's frame numbers can be read (a warning when not: such a snapshot has
 * no physical runs, and analyze refuses it).
 */

import { liveSource } from "../linux/index.js";
import { CliFailure } from "./io.js";
import { FRAMES_HINT, liveRoots } from "./source.js";

/** The pids to capture (empty: every process) and the warnings to print. */
export interface CapturePlan {
  pids: number[];
  warnings: string[];
}

/**
 * Resolves and checks the processes to capture. O(processes) (one read of /proc).
 * @param env the environment (PHYR_PROC_ROOT / PHYR_SYS_ROOT).
 * @param wanted pids and exact process names given with --pid (empty: every process).
 * @returns the pids and warnings.
 * @throws CliFailure naming a pid that does not exist or a name no process has.
 */
export function planCapture(
  env: Readonly<Record<string, string | undefined>>,
  wanted: readonly (number | string)[],
): CapturePlan {
  const src = liveSource(liveRoots(env));
  try {
    const warnings: string[] = [];
    const frames = src.access().pagemapFrames;
    if (frames === "hidden") {
      // fs/proc/task_mmu.c pagemap_open(): show_pfn only with CAP_SYS_ADMIN.
      warnings.push(
        `physical frame numbers are hidden without CAP_SYS_ADMIN: this snapshot will hold no physical runs, and phyr analyze/report will refuse it; ${FRAMES_HINT.replace(/, or use --reference.*$/, "")} to capture them`,
      );
    }
    if (wanted.length === 0) return { pids: [], warnings };
    const procs = src.processes();
    const byPid = new Set(procs.map((p) => p.pid));
    const pids: number[] = [];
    for (const w of wanted) {
      if (typeof w === "number") {
        if (!byPid.has(w)) throw new CliFailure(`pid ${w} is invalid: no such process`);
        pids.push(w);
        continue;
      }
      const found = procs.filter((p) => p.comm === w && p.pid !== process.pid).map((p) => p.pid);
      if (found.length === 0) {
        throw new CliFailure(
          `--pid ${JSON.stringify(w)} is invalid: no process is named exactly that (names are compared with the 15-character comm, as pgrep -x does)`,
        );
      }
      pids.push(...found);
    }
    return { pids: [...new Set(pids)], warnings };
  } finally {
    src.close();
  }
}
