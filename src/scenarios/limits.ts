/**
 * What each named scenario can take before anything is built: its default size, the unit its size
 * must be a multiple of, the largest size the model can represent (and why), and estimates of the
 * peak resident memory and the time of a run, so `phyr simulate` can refuse a size at once instead
 * of being killed by the memory limit.
 *
 * The estimates are linear in the size: `base + perByte * size`. They were fitted to the peak RSS
 * (`/usr/bin/time -f %M`) and wall time of whole `runScenario` processes on Node 20 at two sizes
 * each (for example block-odirect at 64 and 256 MiB, vfio-1g at 64 and 256 GiB), then raised by a
 * fifth for the memory, plus what the worker thread that `phyr simulate` runs it in adds, so that
 * a run stays below its estimate (src/cli/simulate-spawn.test.ts measures it). Times are for an idle 2-core machine; they set the progress bar's scale, nothing else.
 */

import { alignDown, formatBytes, hex } from "../core/index.js";
import { ScenarioSizeError, scenarioSize } from "./types.js";

const KiB = 2 ** 10;
const MiB = 2 ** 20;
const GiB = 2 ** 30;
const TiB = 2 ** 40;

/** Largest typed array on Node 20 (buffer.constants.MAX_LENGTH): 2^32 elements. */
const TYPED_ARRAY_MAX = 2 ** 32;
/**
 * Model physical addresses are below 2^52 (core's checked integers) and a scenario's machine holds
 * up to twice the size plus 1 GiB of RAM: sizes up to 2^50 keep every address representable.
 */
const MODEL_SIZE_MAX = 2 ** 50;
/** Headroom the memory estimate adds to the fitted line. */
const RSS_MARGIN = 1.2;
/**
 * What running the scenario in a worker thread adds (its own V8 isolate and modules), measured
 * as 25 to 30 MiB over the same run in the main thread.
 */
const SCENARIO_WORKER_BYTES = 32 * MiB;

/** A scenario's size rules and cost estimates. */
export interface ScenarioLimits {
  name: string;
  /** Size a run uses when none is given (bytes). */
  defaultSize: number;
  /** The size must be a positive multiple of this (bytes). */
  unit: number;
  /** Largest size the model can represent (bytes). */
  maxSize: number;
  /** Why `maxSize` is the limit. */
  maxReason: string;
  /** Peak resident memory of the process: base bytes + bytes per byte of size (fitted, before the margin). */
  rss: { base: number; perByte: number };
  /** Wall time: base seconds + seconds per byte of size (fitted). */
  seconds: { base: number; perByte: number };
}

const MODEL_RAM = "the simulated machine (up to twice the size plus 1 GiB of RAM) must stay below 2^52 bytes";

/** The limit of the scenarios only the model's address space bounds. */
const MODEL_BOUND = { maxSize: MODEL_SIZE_MAX, maxReason: MODEL_RAM };

const LIMITS: readonly ScenarioLimits[] = [
  {
    name: "block-odirect",
    defaultSize: 8 * MiB,
    unit: 4096,
    ...MODEL_BOUND,
    rss: { base: 126 * MiB, perByte: 1.05 },
    seconds: { base: 0.5, perByte: 1.3e-8 },
  },
  {
    name: "nvme-prp-vs-sgl",
    defaultSize: 8 * MiB,
    unit: 4096,
    ...MODEL_BOUND,
    rss: { base: 94 * MiB, perByte: 2.16 },
    seconds: { base: 0.5, perByte: 1.6e-8 },
  },
  {
    name: "rdma-mr",
    defaultSize: 16 * MiB,
    unit: 2 * MiB,
    ...MODEL_BOUND,
    rss: { base: 58 * MiB, perByte: 0.0037 },
    seconds: { base: 0.1, perByte: 9e-11 },
  },
  {
    name: "vfio-1g",
    defaultSize: 2 * GiB,
    unit: GiB,
    // src/mem/spec.ts checkCount("hugetlb pages1G", ..., 1 << 16).
    maxSize: 64 * TiB,
    maxReason: "the memory model holds at most 65,536 hugetlb 1 GiB pages",
    rss: { base: 103 * MiB, perByte: 0.00103 },
    seconds: { base: 0.4, perByte: 9e-12 },
  },
  {
    name: "vfio-thp",
    defaultSize: 64 * MiB,
    unit: 2 * MiB,
    ...MODEL_BOUND,
    rss: { base: 59 * MiB, perByte: 0.006 },
    seconds: { base: 0.2, perByte: 1.8e-10 },
  },
  {
    name: "vfio-fragmented",
    defaultSize: 8 * MiB,
    unit: 4096,
    ...MODEL_BOUND,
    rss: { base: 65 * MiB, perByte: 0.132 },
    seconds: { base: 0.8, perByte: 4e-9 },
  },
  {
    name: "iommufd-thp",
    defaultSize: 64 * MiB,
    unit: 2 * MiB,
    ...MODEL_BOUND,
    rss: { base: 61 * MiB, perByte: 0.0041 },
    seconds: { base: 0.1, perByte: 9e-11 },
  },
  {
    name: "dmabuf-p2p",
    defaultSize: 64 * MiB,
    unit: 2 * MiB,
    // The GPU BAR is the power of two at or above twice the size; with the NIC's and the NVMe's
    // BARs it must fit the host bridge's 1 TiB 64-bit window (a 512 GiB BAR does, a 1 TiB one not).
    maxSize: 256 * GiB,
    maxReason:
      "the exported GPU BAR (the power of two at or above twice the size) and its peers' BARs must fit the host bridge's 1 TiB window",
    rss: { base: 56 * MiB, perByte: 0.00054 },
    seconds: { base: 0.05, perByte: 1.1e-11 },
  },
  {
    name: "devmem-rx",
    defaultSize: 4 * MiB,
    unit: 64 * KiB,
    // The received stream is one Uint8Array of size * 1448 / 8192 bytes.
    maxSize: alignDown((TYPED_ARRAY_MAX * 8192) / 1448, 64 * KiB),
    maxReason: "the received stream (size x 1448 / 8192 bytes) is one typed array of at most 2^32 bytes",
    rss: { base: 59 * MiB, perByte: 0.78 },
    seconds: { base: 0.15, perByte: 3.9e-9 },
  },
];

/**
 * The limits of the named scenario. O(scenarios).
 * @param name a scenario name.
 * @returns its limits, or undefined for an unknown name.
 */
export function scenarioLimits(name: string): ScenarioLimits | undefined {
  return LIMITS.find((l) => l.name === name);
}

/** A checked size and what a run at that size is expected to cost. */
export interface ScenarioPlan {
  /** The size the run will use (bytes). */
  size: number;
  /** Expected peak resident memory of the process running it in a worker (bytes), with the margin. */
  memoryBytes: number;
  /** Expected wall time on an idle machine (seconds). */
  seconds: number;
}

/**
 * Checks a size against the scenario's rules and estimates the run, before anything is built.
 * O(scenarios).
 * @param name a scenario name.
 * @param size the requested size, or undefined for the default.
 * @returns the size and the estimates.
 * @throws RangeError for an unknown name; ScenarioSizeError for a size that is not a positive
 *   multiple of the unit or is above the scenario's largest size (naming it and why).
 */
export function planScenario(name: string, size?: number): ScenarioPlan {
  const l = scenarioLimits(name);
  if (!l) throw new RangeError(`scenario ${JSON.stringify(name)} is invalid: it has no size limits`);
  const s = scenarioSize(size ?? l.defaultSize, l.unit);
  if (s > l.maxSize) {
    throw new ScenarioSizeError(
      `size ${formatBytes(s)} (${hex(s)}) is invalid: at most ${formatBytes(l.maxSize)}, because ${l.maxReason}`,
    );
  }
  return {
    size: s,
    memoryBytes: Math.ceil((l.rss.base + l.rss.perByte * s) * RSS_MARGIN) + SCENARIO_WORKER_BYTES,
    seconds: l.seconds.base + l.seconds.perByte * s,
  };
}
