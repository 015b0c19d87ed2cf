/**
 * The whole machine analysis: machine facts plus per-buffer analyses and scenario results, in
 * the stable `phyr-analysis/1` shape.
 */

import { KERNEL_MODEL } from "../core/index.js";
import { sumBuffers } from "./buffer.js";
import {
  ANALYSIS_SCHEMA,
  type BufferAnalysis,
  type Completeness,
  type MachineAnalysis,
  type ScenarioSummary,
} from "./output.js";
import { p2pMatrix } from "./p2p.js";
import { iommuPresence, pciSummary, physMapSummary } from "./platform-summary.js";
import type { MachineInput } from "./types.js";
import { verdict } from "./verdict.js";
import { whatIf } from "./what-if.js";

/** Optional parts of {@link analyzeMachine}. */
export interface MachineAnalysisOptions {
  /** Scenario results to include (model numbers). */
  scenarios?: readonly ScenarioSummary[];
  /** One line per thing asked for and left out or changed (makes the result `partial`). */
  partial?: readonly string[];
  /** Most P2P matrix cells computed (default MAX_P2P_CELLS); past it the matrix is summarised. */
  maxP2pCells?: number;
}

/**
 * Builds the machine analysis document, computing the P2P matrix ({@link p2pMatrix}), the
 * what-if rows ({@link whatIf}), the verdict ({@link verdict}) and whether the result is whole.
 * O(buffers + runs + devices^2 + iomem nodes).
 * @param m machine facts.
 * @param buffers per-buffer analyses (see analyzeBuffer).
 * @param opts scenario results and partial-result notes.
 * @returns the document (plain JSON-able data).
 */
export function analyzeMachine(
  m: MachineInput,
  buffers: readonly BufferAnalysis[],
  opts: MachineAnalysisOptions = {},
): MachineAnalysis {
  const total = sumBuffers(buffers);
  return {
    schema: ANALYSIS_SCHEMA,
    kernelModel: KERNEL_MODEL,
    origin: m.origin,
    host: { hostname: m.hostname, kernel: m.kernel, pageSize: m.pageSize },
    access: { pfns: m.access.pfns, iomem: m.access.iomem, messages: [...m.access.messages] },
    physmap: physMapSummary(m.iomem, m.access.iomem),
    pci: pciSummary(m.pci),
    iommu: iommuPresence(m),
    p2p: p2pMatrix(m, opts.maxP2pCells),
    buffers: [...buffers],
    total,
    scenarios: [...(opts.scenarios ?? [])],
    whatIf: whatIf(buffers),
    verdict: verdict({ total, buffers }),
    completeness: completeness(total, opts.partial ?? []),
  };
}

function completeness(total: BufferAnalysis, partial: readonly string[]): Completeness {
  const notes = [...partial];
  if (total.pages === 0) {
    notes.push(
      total.unmapped + total.swapped > 0
        ? `empty result: no present pages (${total.unmapped.toLocaleString("en-US")} unmapped, ${total.swapped.toLocaleString("en-US")} swapped out)`
        : "empty result: no present pages were read",
    );
    return { status: "empty", notes };
  }
  return { status: notes.length > 0 ? "partial" : "complete", notes };
}
