/**
 * Chooses the machine a command reads: the live Linux machine through /proc and /sys.
 */

import { existsSync } from "node:fs";
import { liveSource, type MachineSource } from "../linux/index.js";
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
