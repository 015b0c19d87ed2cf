/**
 * Turns runs of a virtual range into a PhyrList of its physical ranges, so every representation
 * can be costed on the memory a process really has.
 */
import { hex, PAGE_SIZE } from "../core/index.js";
import type { PageRuns } from "../machine/index.js";
import { PhyrBuilder, type PhyrList, type PhyrListOptions } from "../phyr/index.js";

/**
 * The physical ranges of the present pages, in virtual order, with physically contiguous
 * neighbours merged (runs split only by pagemap flags or folio boundaries join up). Entries carry
 * no flags: the pages are not pinned or referenced by reading them. O(runs).
 * @param runs runs with real frame numbers
 * @param opts list store and chunk capacity
 * @returns a list of `runs.presentPages * 4096` bytes
 * @throws RangeError when frames are hidden (pfn 0: no CAP_SYS_ADMIN)
 */
export function phyrFromRuns(runs: PageRuns, opts: PhyrListOptions = {}): PhyrList {
  const b = new PhyrBuilder({ ...opts, merge: true });
  for (let i = 0; i < runs.count; i++) {
    if (runs.pfn[i] === 0) {
      throw new RangeError(
        `run at ${hex(runs.va[i])} has frame 0: frames are hidden (run as root or with CAP_SYS_ADMIN)`,
      );
    }
    b.add(runs.pfn[i] * PAGE_SIZE, runs.npages[i] * PAGE_SIZE);
  }
  return b.finish();
}
