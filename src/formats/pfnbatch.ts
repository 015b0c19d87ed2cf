/**
 * `pfnbatch`: iommufd's struct pfn_batch (drivers/iommu/iommufd/pages.c): two parallel arrays,
 * `unsigned long *pfns` and `u32 *npfns`, 12 B per run. batch_add_pfn() extends the last run while
 * the next pfn continues it and its count is below U32_MAX, so runs merge across list entries and a
 * run of more than 2^32 - 1 pages takes several. Page-granular: no offsets, flags or providers.
 *
 * Layout: u64 pfns[n] then u32 npfns[n], little-endian; n = length / 12.
 */
import { PAGE_SIZE } from "../core/index.js";
import { PFN_LIMIT, PhyrList, type PhyrRead } from "../phyr/index.js";
import { appendDecoded, type Format, pagesTouched } from "./format.js";
import { ByteReader, ByteWriter } from "./wire.js";

/** Bytes per run: u64 pfn + u32 npfns. */
export const PFN_BATCH_RUN_BYTES = 12;
/** type_max(u32): the largest count of one run. */
export const PFN_BATCH_MAX_NPFNS = 0xffffffff;

/**
 * Calls `emit(pfn, npfns)` for each run batch_add_pfn() would store for the pages `list` touches,
 * in order. O(n + runs).
 */
export function forEachPfnRun(list: PhyrRead, emit: (pfn: number, npfns: number) => void): void {
  let runPfn = -1;
  let runN = 0;
  list.forEachEntry((addr, len) => {
    let pfn = Math.floor(addr / PAGE_SIZE);
    let n = pagesTouched(addr, len);
    if (runN > 0 && pfn === runPfn + runN) {
      const take = Math.min(n, PFN_BATCH_MAX_NPFNS - runN);
      runN += take;
      pfn += take;
      n -= take;
    }
    while (n > 0) {
      if (runN > 0) emit(runPfn, runN);
      runPfn = pfn;
      runN = Math.min(n, PFN_BATCH_MAX_NPFNS);
      pfn += runN;
      n -= runN;
    }
  });
  if (runN > 0) emit(runPfn, runN);
}

/** The pfn_batch representation. bytesFor/encode/decode O(n). */
export const pfnbatchFormat: Format = {
  name: "pfnbatch",
  kernelSource: "drivers/iommu/iommufd/pages.c (struct pfn_batch, batch_add_pfn)",
  holds: { flags: false, provider: false, byteGranular: false },
  bytesFor(list: PhyrRead): number {
    let runs = 0;
    forEachPfnRun(list, () => {
      runs++;
    });
    return PFN_BATCH_RUN_BYTES * runs;
  },
  encode(list: PhyrRead): Uint8Array {
    const runs = this.bytesFor(list) / PFN_BATCH_RUN_BYTES;
    const w = new ByteWriter(runs * PFN_BATCH_RUN_BYTES, this.name);
    const counts = new ByteWriter(runs * 4, this.name);
    forEachPfnRun(list, (pfn, n) => {
      w.u64(pfn);
      counts.u32(n);
    });
    w.bytes.set(counts.finish(this.name), runs * 8);
    w.pos += runs * 4;
    return w.finish(this.name);
  },
  decode(bytes: Uint8Array): PhyrList {
    const r = new ByteReader(this.name, bytes);
    if (bytes.length % PFN_BATCH_RUN_BYTES !== 0) {
      throw r.error(`length ${bytes.length} is not a multiple of ${PFN_BATCH_RUN_BYTES}`, bytes.length);
    }
    const runs = bytes.length / PFN_BATCH_RUN_BYTES;
    const counts = new ByteReader(this.name, bytes);
    counts.pos = runs * 8;
    const list = new PhyrList();
    for (let i = 0; i < runs; i++) {
      const at = r.pos;
      const pfn = r.u64("pfns[i]", PFN_LIMIT);
      const n = counts.u32("npfns[i]");
      if (n === 0) throw r.error(`npfns[${i}] is 0`, counts.pos - 4);
      appendDecoded(list, r, at, pfn * PAGE_SIZE, n * PAGE_SIZE);
    }
    return list;
  },
};
