/**
 * The result shape of a named scenario: plain JSON-able data, the range-list design and the
 * current-kernel baseline side by side, and their ratios.
 */

import { hex } from "../core/index.js";

/** A scenario size it cannot run at: bad input from the caller (the CLI's --size), not a failure. */
export class ScenarioSizeError extends RangeError {
  override name = "ScenarioSizeError";
}

/**
 * A scenario's size in bytes, checked: a positive multiple of `unit`.
 * @throws ScenarioSizeError naming the size and the unit (and `what` the unit is for)
 */
export function scenarioSize(size: number, unit: number, what = ""): number {
  if (!Number.isInteger(size) || size <= 0 || size % unit !== 0) {
    throw new ScenarioSizeError(
      `size ${hex(size)} is invalid: expected a positive multiple of ${hex(unit)}${what ? ` for ${what}` : ""}`,
    );
  }
  return size;
}

/** Metric name -> value (counts and bytes). */
export type Metrics = Record<string, number>;

/** What {@link runScenario} returns. */
export interface ScenarioResult {
  name: string;
  description: string;
  seed: number;
  /** The scenario's size parameter in bytes. */
  size: number;
  design: Metrics;
  baseline: Metrics;
  /** baseline / design for every cost metric both have with a non-zero design value (above 1: the design needs less). */
  ratios: Metrics;
  /** How the numbers were obtained when not plainly (e.g. an extrapolated baseline). */
  notes: string[];
}

/** Options of a scenario run. */
export interface ScenarioOptions {
  /** Seed of the simulated machine. Default 1. */
  seed?: number;
  /** Buffer / guest-memory size in bytes; each scenario has a small default. */
  size?: number;
  /**
   * Largest size the page-at-a-time baseline really runs at; above it the baseline runs on a slice
   * of this size and its counts are derived exactly (VFIO scenarios). Default 64 GiB.
   */
  baselineLimit?: number;
}

/** Metrics that describe a choice rather than a cost: shown side by side, never divided. */
export const NON_RATIO_METRICS: readonly string[] = [
  "pageSize",
  "mtu1500BytesPerBuffer",
  "mtu9000BytesPerBuffer",
];

/** ratios = baseline / design over the shared cost keys with a non-zero design value. O(keys). */
export function ratiosOf(design: Metrics, baseline: Metrics): Metrics {
  const out: Metrics = {};
  for (const k of Object.keys(design)) {
    if (k in baseline && design[k] !== 0 && !NON_RATIO_METRICS.includes(k)) out[k] = baseline[k] / design[k];
  }
  return out;
}
