/**
 * Chooses the machine a command reads: the live Linux machine through /proc and /sys, or a
 * snapshot file written by `phyr capture`.
 */

import { closeSync, existsSync, openSync } from "node:fs";
import type { MachineInput } from "../analyze/index.js";
import { ParseError } from "../core/index.js";
import { liveSource, loadSnapshot, type MachineSource } from "../linux/index.js";
import { CliFailure } from "./io.js";

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
  if (!existsSync(`${procRoot}/self/maps`) && !existsSync(`${procRoot}/1`)) {
    throw new CliFailure(
      `cannot read a live Linux machine: ${procRoot} is missing (phyr reads /proc and /sys)`,
    );
  }
  return liveSource({ procRoot, sysRoot });
}

/** An opened source and how its data was obtained. */
export interface OpenedSource {
  src: MachineSource;
  origin: MachineInput["origin"];
}

/**
 * Opens a snapshot when `snapshot` is given, else the live machine.
 * @param env the environment (see {@link openLiveSource}).
 * @param snapshot snapshot path, resolved by the caller.
 * @returns the source and its origin.
 * @throws CliFailure when the snapshot cannot be read or is corrupt (one line naming the file
 *   and the field), or the live machine is not readable.
 */
export async function openSource(
  env: Readonly<Record<string, string | undefined>>,
  snapshot?: string,
): Promise<OpenedSource> {
  if (snapshot === undefined) return { src: openLiveSource(env), origin: "live" };
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
