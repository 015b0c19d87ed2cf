/**
 * Seeded input generators for the phyr bench: a realistic page frame number array (what GUP
 * returns for a large mixed-page-size buffer) and a randomly fragmented one.
 */
import { Rng } from "../src/core/index.js";

/** Run sizes in pages of the standard mix: 4 KiB, 256 KiB, 2 MiB, 1 GiB. */
export const STANDARD_RUN_PAGES = [1, 64, 512, 262144] as const;
/** Share of the pages that sit in each run size (sums to 1). */
export const STANDARD_PAGE_SHARE = [0.2, 0.15, 0.4, 0.25] as const;
/** Physical address space the runs are placed in: 2^28 pages = 1 TiB. */
export const STANDARD_SPACE_PAGES = 2 ** 28;

/**
 * `npages` PFNs in runs of 4 KiB, 256 KiB, 2 MiB and 1 GiB (page shares 20/15/40/25 %), each run
 * naturally aligned to its size and placed uniformly in 1 TiB. Deterministic for a seed. O(npages).
 */
export function standardPfns(npages: number, seed = 1): Uint32Array {
  const rng = new Rng(seed);
  const weights = STANDARD_RUN_PAGES.map((size, k) => STANDARD_PAGE_SHARE[k] / size);
  const out = new Uint32Array(npages);
  let i = 0;
  while (i < npages) {
    const size = STANDARD_RUN_PAGES[rng.weighted(weights)];
    const start = rng.int(STANDARD_SPACE_PAGES / size) * size;
    const n = Math.min(size, npages - i);
    for (let j = 0; j < n; j++) out[i++] = start + j;
  }
  return out;
}

/**
 * `npages` PFNs of a randomly fragmented allocation: runs of 1..64 pages (geometric, mean about
 * 3) at uniformly random frames in 256 GiB. Deterministic for a seed. O(npages).
 */
export function fragmentedPfns(npages: number, seed = 2): Uint32Array {
  const rng = new Rng(seed);
  const out = new Uint32Array(npages);
  let i = 0;
  while (i < npages) {
    let len = 1;
    while (len < 64 && rng.chance(0.65)) len++;
    const start = rng.int(2 ** 26 - 64);
    const n = Math.min(len, npages - i);
    for (let j = 0; j < n; j++) out[i++] = start + j;
  }
  return out;
}
