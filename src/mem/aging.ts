/**
 * Aging: seeded allocation churn that fragments free memory the way a long-running machine's is
 * fragmented. Kernel-style unmovable allocations of mixed orders (mostly order 0, like slab and
 * page-table pages) are made and freed at random; a fraction stays allocated, pinning down the
 * buddy pairs around it, so later allocations come back as scattered 4 KiB runs.
 */
import { checkCount, MemError, ORDER_2M } from "../core/index.js";
import type { MachineMemory } from "./memory.js";
import { FolioFlag, Zone } from "./types.js";

/** Options of {@link ageMemory}. */
export interface AgingOptions {
  /** Allocation/free steps. */
  steps: number;
  /** Fraction of the surviving allocations kept at the end (0..1). Default 0.3. */
  keep?: number;
  /** Zones to churn. Default NORMAL then DMA32. */
  zones?: readonly (0 | 1 | 2)[];
}

/** Order mix of the churn: weights for orders 0, 1, 2, 3, 4 and 9 (index 5). */
const ORDER_WEIGHTS = [70, 10, 8, 6, 4, 2];
const ORDERS = [0, 1, 2, 3, 4, ORDER_2M];

/**
 * Runs the churn with the machine's seeded generator. O(steps * MAX_ORDER).
 * @returns ids of the kernel folios left allocated (flag KERNEL, unmovable).
 * @throws RangeError for bad options.
 */
export function ageMemory(mem: MachineMemory, opts: AgingOptions): number[] {
  checkCount("aging steps", opts.steps, 1e8);
  const keep = opts.keep ?? 0.3;
  if (!(keep >= 0 && keep <= 1))
    throw new RangeError(`aging keep ${keep} is invalid: expected a fraction in 0..1`);
  const rng = mem.rng;
  const held: number[] = [];
  const zones = opts.zones ?? [Zone.NORMAL, Zone.DMA32];
  const drop = (i: number) => {
    const id = held[i];
    held[i] = held[held.length - 1];
    held.pop();
    mem.putFolio(id);
  };
  for (let s = 0; s < opts.steps; s++) {
    if (held.length > 0 && rng.chance(0.4)) {
      drop(rng.int(held.length));
      continue;
    }
    const order = ORDERS[rng.weighted(ORDER_WEIGHTS)];
    try {
      held.push(
        mem.allocFolio(order, {
          movable: false,
          zones,
          flags: FolioFlag.KERNEL,
          node: rng.int(mem.nodeCount),
        }),
      );
    } catch (e) {
      if (!(e instanceof MemError)) throw e;
      if (held.length === 0) break;
      drop(rng.int(held.length));
    }
  }
  const target = Math.round(held.length * keep);
  while (held.length > target) drop(rng.int(held.length));
  return held;
}
