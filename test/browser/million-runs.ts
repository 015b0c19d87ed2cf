/**
 * A synthetic analysis whose buffers hold a given number of runs in all (for the map's scale
 * test): four buffers, runs of 1-4 pages at scattered frames of the System RAM above 4 GiB.
 */
import { encodeRunMap, type MachineAnalysis } from "../../src/analyze/index.js";
import { sampleAnalysis } from "./sample-analysis.js";

/**
 * Builds the analysis (deterministic: a fixed linear congruential sequence).
 * @param runs total runs (split over four buffers).
 * @returns the analysis.
 */
export function millionRunAnalysis(runs: number): MachineAnalysis {
  const s = sampleAnalysis();
  const per = Math.ceil(runs / 4);
  let seed = 14;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
  const buffers = [0, 1, 2, 3].map((k) => {
    const n = Math.min(per, runs - k * per);
    const va = new Float64Array(n);
    const pfn = new Float64Array(n);
    const npages = new Float64Array(n);
    const kind = new Uint8Array(n);
    let pages = 0;
    for (let i = 0; i < n; i++) {
      npages[i] = 1 + (next() % 4);
      // Frames interleave the four buffers: slot (i * 4 + k) of 16 frames each, above 4 GiB.
      pfn[i] = 0x100000 + (i * 4 + k) * 16 + (next() % 8);
      va[i] = 0x7f0000000000 + i * 8 * 4096;
      kind[i] = 1 + (i % 3);
      pages += npages[i];
    }
    return {
      ...s.buffers[1],
      label: `${100 + k} synth${k}`,
      pid: 100 + k,
      comm: `synth${k}`,
      pages,
      runs: n,
      runMap: encodeRunMap({ count: n, va, pfn, npages, kind }),
    };
  });
  return {
    ...s,
    host: { hostname: "million", kernel: "6.18.0-test", pageSize: 4096 },
    physmap: {
      regions: [
        { name: "System RAM", start: "0x100000", end: "0xbfffffff", bytes: 0xbff00000, depth: 0 },
        { name: "PCI Bus 0000:00", start: "0xc0000000", end: "0xfebfffff", bytes: 0x3ec00000, depth: 0 },
        {
          name: "System RAM",
          start: "0x100000000",
          end: "0x10fffffffff",
          bytes: 0x10000000000 - 0x100000000,
          depth: 0,
        },
      ],
      totals: [{ name: "System RAM", bytes: 0x5000000000 - 0x100000000 + 0xbff00000 }],
      systemRam: 0x5000000000 - 0x100000000 + 0xbff00000,
    },
    buffers,
  };
}
