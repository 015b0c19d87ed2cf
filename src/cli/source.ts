/**
 * Chooses the machine a command reads: the live Linux machine through /proc and /sys, a snapshot
 * file written by `phyr capture`, or phyr's embedded reference machine (src/machine/README.md).
 * Without a choice the live machine is read. Commands that report physical runs (analyze, report)
 * refuse a machine whose frame numbers are hidden, in one line saying why and what to do; only the
 * bare `phyr` command shows the reference machine then, and says so first.
 */

import { existsSync } from "node:fs";
import type { MachineOrigin } from "../analyze/index.js";
import { LimitExceeded, ParseError } from "../core/index.js";
import {
  type LoadOptions,
  liveSource,
  loadSnapshot,
  type MachineSource,
  ReferenceSource,
} from "../linux/index.js";
import { type ReferenceMachine, referenceMachine } from "../machine/index.js";
import { CliFailure, UsageError } from "./io.js";

/** Roots of the live readers (tests point them at fixture trees). */
export interface SourceRoots {
  procRoot?: string;
  sysRoot?: string;
}

function procReadable(procRoot: string): boolean {
  return existsSync(`${procRoot}/self/maps`) || existsSync(`${procRoot}/1`);
}

/** An opened source and how its data was obtained. */
export interface OpenedSource {
  src: MachineSource;
  origin: MachineOrigin;
  /** Why the reference machine is shown instead of the live one (undefined when it was not a fallback). */
  fallback?: string;
}

/** Which machine to read. At most one of `snapshot` and `reference` may be given. */
export interface SourceChoice {
  /** Snapshot path, resolved by the caller; "-" reads standard input. */
  snapshot?: string;
  /** Limits of the snapshot loader (`--limit`). */
  limits?: LoadOptions;
  /** The reference machine (`--reference`). */
  reference?: boolean;
  /**
   * The bare `phyr` command: show the reference machine (saying so) when this machine's frame
   * numbers cannot be read, instead of failing. No other command falls back.
   */
  fallback?: boolean;
}

/** What the command needs of the machine. */
export interface SourceNeeds {
  /**
   * Physical frame numbers (analyze, report): without them runs would be virtual runs, so a live
   * machine or snapshot without them is refused (exit 1) rather than shown as physical.
   */
  frames: boolean;
}

/** The one line that says what to do when frame numbers cannot be read. */
export const FRAMES_HINT =
  "run as root, or use --reference (phyr's simulated server) or --snapshot FILE (captured as root)";

/**
 * Checks that at most one of --snapshot and --reference is given.
 * @throws UsageError naming the conflicting flags.
 */
export function checkSourceChoice(c: SourceChoice): void {
  if (c.snapshot !== undefined && c.reference) {
    throw new UsageError("--snapshot and --reference conflict: give one of them");
  }
}

let built: ReferenceMachine | undefined;

/**
 * The reference machine as a source. Built once per process (about half a second) and shared:
 * sources only read it.
 */
export function openReferenceSource(): ReferenceSource {
  built ??= referenceMachine();
  return new ReferenceSource(built);
}

/**
 * The live machine's roots: PHYR_PROC_ROOT and PHYR_SYS_ROOT when set (a fixture tree), else
 * /proc and /sys. O(1).
 */
export function liveRoots(env: Readonly<Record<string, string | undefined>>): {
  procRoot: string;
  sysRoot: string;
} {
  return { procRoot: env.PHYR_PROC_ROOT || "/proc", sysRoot: env.PHYR_SYS_ROOT || "/sys" };
}

/**
 * Why the live machine cannot be analysed here, or undefined when it can: /proc missing, or
 * (when `frames` is needed) pagemap frame numbers hidden or unreadable (probed on this process).
 * @param env the environment (PHYR_PROC_ROOT / PHYR_SYS_ROOT).
 * @param needs whether frame numbers are needed.
 * @returns the reason as a plain phrase, and the live source when /proc was readable (to close or use).
 */
export function liveUnavailable(
  env: Readonly<Record<string, string | undefined>>,
  needs: SourceNeeds = { frames: true },
): {
  reason: string | undefined;
  src: MachineSource | undefined;
} {
  const roots = liveRoots(env);
  if (!procReadable(roots.procRoot))
    return { reason: `${roots.procRoot} is not readable here`, src: undefined };
  const src = liveSource(roots);
  // fs/proc/task_mmu.c pagemap_open(): show_pfn only with CAP_SYS_ADMIN; the PFN field reads 0.
  // Only "hidden" is refused: an unreadable pagemap (a /proc tree without `self`) fails or skips
  // per process, naming it.
  if (!needs.frames || src.access().pagemapFrames !== "hidden") return { reason: undefined, src };
  return {
    reason: `physical frame numbers are hidden without CAP_SYS_ADMIN (${roots.procRoot}/PID/pagemap reads 0), so physical runs cannot be measured here`,
    src,
  };
}

/**
 * Opens what `choice` names: a snapshot, the reference machine, or the live machine. The live
 * machine (or a snapshot) without frame numbers is refused when `needs.frames`, except for the
 * bare command (`choice.fallback`), which shows the reference machine with the reason in
 * `fallback`.
 * @param env the environment (see {@link openLiveSource}).
 * @param choice snapshot path or --reference (at most one), and whether to fall back.
 * @param needs what the command needs of the machine.
 * @returns the source, its origin and, for a fallback, why.
 * @throws UsageError for conflicting choices; CliFailure when the snapshot cannot be read or is
 *   corrupt (one line naming the file and the field), when /proc is missing, or when frame
 *   numbers are needed and cannot be read (one line saying why and what to do).
 */
export async function openSource(
  env: Readonly<Record<string, string | undefined>>,
  choice: SourceChoice = {},
  needs: SourceNeeds = { frames: true },
): Promise<OpenedSource> {
  checkSourceChoice(choice);
  if (choice.reference) return { src: openReferenceSource(), origin: "reference" };
  const snapshot = choice.snapshot;
  if (snapshot === undefined) {
    const { reason, src } = liveUnavailable(env, needs);
    if (reason === undefined && src) return { src, origin: "live" };
    src?.close();
    if (choice.fallback) return { src: openReferenceSource(), origin: "reference", fallback: reason };
    throw new CliFailure(
      src
        ? `${reason}: ${FRAMES_HINT}`
        : `cannot read a live Linux machine: ${reason} (phyr reads /proc and /sys): use --reference or --snapshot FILE`,
    );
  }
  let src: MachineSource;
  try {
    // Opened once and read once as a stream ("-" is standard input): pipes and FIFOs work, and
    // an unreadable file is reported before any reading.
    src = await loadSnapshot(snapshot, choice.limits);
  } catch (e) {
    const msg = (e as Error).message;
    if (e instanceof ParseError) throw new CliFailure(`snapshot is invalid: ${msg}`);
    if (e instanceof LimitExceeded) throw e;
    throw new CliFailure(`cannot read snapshot ${snapshot}: ${msg}`);
  }
  if (needs.frames && src.access().pagemapFrames === "hidden") {
    src.close();
    throw new CliFailure(
      `snapshot ${snapshot} has no physical frame numbers (captured without CAP_SYS_ADMIN), so physical runs cannot be measured: capture it again as root, or use --reference`,
    );
  }
  return { src, origin: "snapshot" };
}
