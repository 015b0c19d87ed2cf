/**
 * The verdict at the end of a summary, computed from the analysis: how much of the memory read
 * sits in physically contiguous runs of at least 2 MiB and 1 GiB (the x86-64 huge page and
 * IOMMU leaf sizes), what THP and hugetlb hold (from /proc/kpageflags, where it was read), and
 * which representation and which IOMMU placement would save most against today's kernel.
 */

import { formatBytes, ORDER_1G, ORDER_2M, PAGE_SIZE } from "../core/index.js";
import type { BufferAnalysis } from "./output.js";

/** The verdict's numbers and its sentences. */
export interface Verdict {
  /** Bytes of present memory read. */
  bytes: number;
  /** Share (0..1) of those bytes in physical runs of at least 2 MiB. */
  shareRuns2M: number;
  /** Share (0..1) in physical runs of at least 1 GiB. */
  shareRuns1G: number;
  /** Share of bytes on THP / hugetlb pages; null where kpageflags was not read (no page flags). */
  shareThp: number | null;
  shareHugetlb: number | null;
  /** The representation with the fewest bytes, and how many times smaller than the page array. */
  bestFormat: { name: string; bytes: number; timesSmaller: number } | null;
  /** The IOMMU bitmap and placement with the fewest IOTLB entries, against the kernel placement of the same bitmap. */
  bestIommu: {
    bitmap: string;
    placement: "kernel" | "congruent";
    iotlbEntries: number;
    kernelIotlbEntries: number;
  } | null;
  /** The verdict as short sentences (empty analysis: one sentence saying so). */
  lines: string[];
}

/**
 * Computes the verdict. O(buckets + formats + IOMMU rows + runs of all buffers).
 * @param a the analysis (the buffers' backing pages give the THP/hugetlb shares).
 * @returns the verdict.
 */
export function verdict(a: { total: BufferAnalysis; buffers: readonly BufferAnalysis[] }): Verdict {
  const t = a.total;
  const bytes = t.pages * PAGE_SIZE;
  const h = t.histogram.bytes;
  const sumFrom = (k: number) => h.slice(k).reduce((s, x) => s + x, 0);
  const share = (x: number) => (bytes > 0 ? x / bytes : 0);
  // Histogram bucket k holds runs of 2^k pages: from ORDER_2M on, runs of 2 MiB and more.
  const shareRuns2M = share(sumFrom(ORDER_2M));
  const shareRuns1G = share(sumFrom(ORDER_1G));
  // Pages whose backing was read (page flags), and of them THP and hugetlb pages.
  let known = 0;
  let thp = 0;
  let huge = 0;
  for (const b of a.buffers) {
    const k = b.backing;
    known += k.base + k.thp + k.hugetlb + k.zero + k.mixed;
    thp += k.thp;
    huge += k.hugetlb;
  }
  const flagsRead = known > 0;
  const pagesBytes = t.formats.find((f) => f.name === "pages")?.bytes ?? 0;
  const best = [...t.formats].filter((f) => f.bytes > 0).sort((x, y) => x.bytes - y.bytes)[0];
  const bestFormat =
    best && pagesBytes > 0
      ? { name: best.name, bytes: best.bytes, timesSmaller: pagesBytes / best.bytes }
      : null;
  let bestIommu: Verdict["bestIommu"] = null;
  for (const c of t.iommu) {
    const k = t.iommu.find((x) => x.bitmap === c.bitmap && x.placement === "kernel");
    if (!k) continue;
    if (!bestIommu || c.iotlbEntries < bestIommu.iotlbEntries) {
      bestIommu = {
        bitmap: c.bitmap,
        placement: c.placement,
        iotlbEntries: c.iotlbEntries,
        kernelIotlbEntries: k.iotlbEntries,
      };
    }
  }
  const v: Verdict = {
    bytes,
    shareRuns2M,
    shareRuns1G,
    shareThp: flagsRead ? thp / known : null,
    shareHugetlb: flagsRead ? huge / known : null,
    bestFormat,
    bestIommu,
    lines: [],
  };
  v.lines = verdictLines(v);
  return v;
}

const pct = (x: number): string => `${(x * 100).toFixed(x > 0 && x < 0.001 ? 2 : 1)}%`;

function verdictLines(v: Verdict): string[] {
  if (v.bytes === 0) return ["No present pages were read, so there is nothing to conclude."];
  const out = [
    `${pct(v.shareRuns2M)} of the ${formatBytes(v.bytes)} read is in physically contiguous runs of 2 MiB or more, ${pct(v.shareRuns1G)} in runs of 1 GiB or more.`,
  ];
  out.push(
    v.shareThp === null || v.shareHugetlb === null
      ? "THP and hugetlb shares are unknown: no page flags were read (/proc/kpageflags needs root)."
      : `THP pages hold ${pct(v.shareThp)} and hugetlb pages ${pct(v.shareHugetlb)} of it (page flags).`,
  );
  if (v.bestFormat) {
    const x = v.bestFormat.timesSmaller;
    out.push(
      x > 1.005
        ? `Smallest representation: ${v.bestFormat.name}, ${x >= 100 ? x.toFixed(0) : x.toFixed(2)}x smaller than the kernel's page array.`
        : "No representation is smaller than the kernel's page array here: the memory is in 4 KiB pieces.",
    );
  }
  if (v.bestIommu) {
    const b = v.bestIommu;
    out.push(
      b.placement === "congruent" && b.iotlbEntries < b.kernelIotlbEntries
        ? `IOMMU: ${b.bitmap} with congruent IOVAs (phyr design) needs ${b.iotlbEntries.toLocaleString("en-US")} IOTLB entries against ${b.kernelIotlbEntries.toLocaleString("en-US")} with the kernel's IOVAs.`
        : `IOMMU: ${b.bitmap} with the kernel's IOVAs needs the fewest IOTLB entries (${b.iotlbEntries.toLocaleString("en-US")}); congruent IOVAs save nothing here.`,
    );
  }
  return out;
}
