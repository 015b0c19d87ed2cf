/**
 * The result shape of a named scenario: plain JSON-able data, the range-list design and the
 * current-kernel baseline side by side, and their ratios.
 */

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
