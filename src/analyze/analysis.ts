/**
 * The whole machine analysis: machine facts plus per-buffer analyses and scenario results, in
 * the stable `phyr-analysis/1` shape.
 */

import { KERNEL_MODEL } from "../core/index.js";
import { sumBuffers } from "./buffer.js";
import { iommuPresence, pciSummary, physMapSummary } from "./machine.js";
import {
  ANALYSIS_SCHEMA,
  type BufferAnalysis,
  type MachineAnalysis,
  type ScenarioSummary,
} from "./output.js";
import { p2pMatrix } from "./p2p.js";
import type { MachineInput } from "./types.js";

/** Optional parts of {@link analyzeMachine}. */
export interface MachineAnalysisOptions {
  /** Scenario results to include. */
  scenarios?: readonly ScenarioSummary[];
}

/**
 * Builds the machine analysis document, computing the P2P matrix ({@link p2pMatrix}).
 * O(buffers + devices^2 + iomem nodes).
 * @param m machine facts.
 * @param buffers per-buffer analyses (see analyzeBuffer).
 * @param opts scenario results.
 * @returns the document (plain JSON-able data).
 */
export function analyzeMachine(
  m: MachineInput,
  buffers: readonly BufferAnalysis[],
  opts: MachineAnalysisOptions = {},
): MachineAnalysis {
  return {
    schema: ANALYSIS_SCHEMA,
    kernelModel: KERNEL_MODEL,
    origin: m.origin,
    host: { hostname: m.hostname, kernel: m.kernel, pageSize: m.pageSize },
    access: { pfns: m.access.pfns, iomem: m.access.iomem, messages: [...m.access.messages] },
    physmap: physMapSummary(m.iomem),
    pci: pciSummary(m.pci),
    iommu: iommuPresence(m),
    p2p: p2pMatrix(m),
    buffers: [...buffers],
    total: sumBuffers(buffers),
    scenarios: [...(opts.scenarios ?? [])],
  };
}
