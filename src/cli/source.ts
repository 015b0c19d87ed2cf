/**
 * Chooses the machine a command reads: the live Linux machine through /proc and /sys, a snapshot
 * file written by `phyr capture`, or phyr's embedded reference machine (src/machine/README.md).
 * Without a choice the live machine is read when its frame numbers are readable; otherwise the
 * reference machine is shown, with one line saying why.
 */

import { closeSync, existsSync, openSync } from "node:fs";
import type { MachineOrigin } from "../analyze/index.js";
import { ParseError } from "../core/index.js";
import { liveSource, loadSnapshot, type MachineSource, ReferenceSource } from "../linux/index.js";
import { type ReferenceMachine, referenceMachine } from "../machine/index.js";
import { CliFailure, UsageError } from "./io.js";

/** Roots of the live readers (tests point them at fixture trees). */
export interface SourceRoots {
  procRoot?: string;
  sysRoot?: string;
}

/**
 * Opens the live machine.
 * @param env the environment: PHYR_PROC_ROOT / PHYR_SYS_ROOT override /proc and /sys.
 * @returns the source (the caller closes it).
 * @throws CliFailure when /proc is not readable here (not Linux).
 */
export function openLiveSource(env: Readonly<Record<string, string | undefined>>): MachineSource {
  const procRoot = env.PHYR_PROC_ROOT || "/proc";
  const sysRoot = env.PHYR_SYS_ROOT || "/sys";
  if (!procReadable(procRoot)) {
    throw new CliFailure(
      `cannot read a live Linux machine: ${procRoot} is missing (phyr reads /proc and /sys)`,
    );
  }
  return liveSource({ procRoot, sysRoot });
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

/** Which machine to read. At most one of the three may be given. */
export interface SourceChoice {
  /** Snapshot path, resolved by the caller. */
  snapshot?: string;
  /** The reference machine (`--reference`). */
  reference?: boolean;
  /** The live machine even when its frame numbers are hidden (`--live`). */
  live?: boolean;
}

/**
 * Checks that at most one of --snapshot, --reference, --live is given.
 * @throws UsageError naming the conflicting flags.
 */
export function checkSourceChoice(c: SourceChoice): void {
  const given = [
    c.snapshot !== undefined ? "--snapshot" : "",
    c.reference ? "--reference" : "",
    c.live ? "--live" : "",
  ].filter((x) => x !== "");
  if (given.length > 1) throw new UsageError(`${given.join(" and ")} conflict: give one of them`);
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
 * Why the live machine cannot be analysed here, or undefined when it can: /proc missing, or
 * pagemap frame numbers hidden or unreadable (probed on this process).
 * @param env the environment (PHYR_PROC_ROOT / PHYR_SYS_ROOT).
 * @returns the reason as a plain phrase, and the live source when /proc was readable (to close or use).
 */
export function liveUnavailable(env: Readonly<Record<string, string | undefined>>): {
  reason: string | undefined;
  src: MachineSource | undefined;
} {
  const procRoot = env.PHYR_PROC_ROOT || "/proc";
  if (!procReadable(procRoot)) return { reason: `${procRoot} is not readable here`, src: undefined };
  const src = liveSource({ procRoot, sysRoot: env.PHYR_SYS_ROOT || "/sys" });
  const frames = src.access().pagemapFrames;
  if (frames === "readable") return { reason: undefined, src };
  const reason =
    frames === "hidden"
      ? "frame numbers are hidden without CAP_SYS_ADMIN: run as root to analyze this machine"
      : frames === "unreadable"
        ? `${procRoot}/self/pagemap is unreadable: run as root to analyze this machine`
        : `no frame numbers could be read from ${procRoot}/self/pagemap`;
  return { reason, src };
}

/**
 * Opens what `choice` names: a snapshot, the reference machine, the live machine (`live`: even
 * with hidden frame numbers); with no choice, the live machine when its frame numbers are
 * readable, else the reference machine with the reason in `fallback`.
 * @param env the environment (see {@link openLiveSource}).
 * @param choice snapshot path or flags (at most one).
 * @returns the source, its origin and, for a fallback, why.
 * @throws UsageError for conflicting choices; CliFailure when the snapshot cannot be read or is
 *   corrupt (one line naming the file and the field), or `live` is asked and /proc is missing.
 */
export async function openSource(
  env: Readonly<Record<string, string | undefined>>,
  choice: SourceChoice = {},
): Promise<OpenedSource> {
  checkSourceChoice(choice);
  if (choice.reference) return { src: openReferenceSource(), origin: "reference" };
  if (choice.live) return { src: openLiveSource(env), origin: "live" };
  const snapshot = choice.snapshot;
  if (snapshot === undefined) {
    const { reason, src } = liveUnavailable(env);
    if (reason === undefined && src) return { src, origin: "live" };
    src?.close();
    return { src: openReferenceSource(), origin: "reference", fallback: reason };
  }
  try {
    // Open first: an unreadable file is reported here, before the streaming loader starts.
    closeSync(openSync(snapshot, "r"));
  } catch (e) {
    throw new CliFailure(`cannot read snapshot ${snapshot}: ${(e as Error).message}`);
  }
  try {
    return { src: await loadSnapshot(snapshot), origin: "snapshot" };
  } catch (e) {
    const msg = (e as Error).message;
    if (e instanceof ParseError) throw new CliFailure(`snapshot is invalid: ${msg}`);
    throw new CliFailure(`cannot read snapshot ${snapshot}: ${msg}`);
  }
}
