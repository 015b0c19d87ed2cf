/**
 * The provider registry: finds the provider of a physical address in O(log n) with no allocation
 * per lookup. Apertures are kept sorted by start in typed arrays (starts, ends, indexes); lookup is
 * a binary search for the last start <= addr. Providers get indexes 1..MAX_PROVIDER (0 means
 * ordinary memory, as in a PhyrList entry's provider field); freed indexes are reused lowest first.
 *
 * Costs: lookup O(log n); add / remove O(n) (array shift); get O(1); checkValid O(n).
 */
import { hex } from "../core/index.js";
import { MAX_PROVIDER } from "../phyr/types.js";
import { Provider, type RevokeReason } from "./provider.js";

/** Sorted interval registry of providers. */
export class ProviderRegistry {
  private starts = new Float64Array(8);
  private ends = new Float64Array(8);
  private ids = new Uint32Array(8);
  private n = 0;
  private readonly table: (Provider | undefined)[] = [undefined];

  /** Registered providers. O(1). */
  get size(): number {
    return this.n;
  }

  /**
   * Registers a provider and gives it the lowest free index.
   * @returns The index (1..MAX_PROVIDER).
   * @throws RangeError when already registered, overlapping another aperture, or the registry is full.
   * Cost: O(n).
   */
  add(p: Provider): number {
    if (!(p instanceof Provider)) throw new TypeError("provider is invalid: expected a Provider");
    if (p.index !== 0)
      throw new RangeError(`provider ${p.describe()} is invalid: already registered as ${p.index}`);
    const at = this.upperBound(p.start);
    if (at > 0 && this.ends[at - 1] > p.start) {
      throw new RangeError(`provider ${p.describe()} is invalid: overlaps provider ${this.ids[at - 1]}`);
    }
    if (at < this.n && this.starts[at] < p.end) {
      throw new RangeError(`provider ${p.describe()} is invalid: overlaps provider ${this.ids[at]}`);
    }
    let index = this.table.indexOf(undefined, 1);
    if (index < 0) index = this.table.length;
    if (index > MAX_PROVIDER)
      throw new RangeError(`provider ${p.describe()} is invalid: registry full (${MAX_PROVIDER})`);
    if (this.n === this.starts.length) this.grow();
    this.starts.copyWithin(at + 1, at, this.n);
    this.ends.copyWithin(at + 1, at, this.n);
    this.ids.copyWithin(at + 1, at, this.n);
    this.starts[at] = p.start;
    this.ends[at] = p.end;
    this.ids[at] = index;
    this.n++;
    this.table[index] = p;
    p.index = index;
    return index;
  }

  /**
   * Unregisters provider `index` (its index becomes free; the provider's index resets to 0).
   * @returns The provider.
   * @throws RangeError for an unknown index.
   * Cost: O(n).
   */
  remove(index: number): Provider {
    const p = this.get(index);
    const at = this.upperBound(p.start) - 1;
    this.starts.copyWithin(at, at + 1, this.n);
    this.ends.copyWithin(at, at + 1, this.n);
    this.ids.copyWithin(at, at + 1, this.n);
    this.n--;
    this.table[index] = undefined;
    while (this.table.length > 1 && this.table[this.table.length - 1] === undefined) this.table.pop();
    p.index = 0;
    return p;
  }

  /**
   * Revokes and unregisters provider `index` (device unplug). Revoke listeners run first.
   * @returns The provider.
   * @throws RangeError for an unknown index; rethrows a listener's error after unregistering.
   */
  unplug(index: number): Provider {
    const p = this.get(index);
    try {
      p.revoke("unplug");
    } finally {
      this.remove(index);
    }
    return p;
  }

  /**
   * Revokes provider `index` (device reset); it stays registered, so lookups still find it and
   * callers see it is revoked.
   * @returns Listeners run.
   * @throws RangeError for an unknown index.
   */
  revoke(index: number, reason: RevokeReason = "reset"): number {
    return this.get(index).revoke(reason);
  }

  /**
   * Index of the provider whose aperture holds `addr`, or -1 when none does.
   * Cost: O(log n), no allocation.
   */
  lookup(addr: number): number {
    const starts = this.starts;
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid] <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && addr < this.ends[lo - 1] ? this.ids[lo - 1] : -1;
  }

  /**
   * Provider `index`.
   * @throws RangeError when no provider has that index.
   */
  get(index: number): Provider {
    const p = Number.isInteger(index) && index > 0 ? this.table[index] : undefined;
    if (p === undefined) throw new RangeError(`provider index ${String(index)} is invalid: not registered`);
    return p;
  }

  /** Provider `index`, or undefined. O(1). */
  tryGet(index: number): Provider | undefined {
    return index > 0 ? this.table[index] : undefined;
  }

  /** Registered providers in address order. O(n). */
  *[Symbol.iterator](): Iterator<Provider> {
    for (let i = 0; i < this.n; i++) yield this.table[this.ids[i]]!;
  }

  /**
   * Verifies sorting, disjointness, and that indexes and the table agree.
   * @throws Error naming the first broken invariant. O(n).
   */
  checkValid(): void {
    let live = 0;
    for (let i = 1; i < this.table.length; i++) if (this.table[i] !== undefined) live++;
    if (live !== this.n) throw new Error(`registry holds ${this.n} apertures but ${live} providers`);
    for (let i = 0; i < this.n; i++) {
      const p = this.table[this.ids[i]];
      if (p === undefined || p.index !== this.ids[i])
        throw new Error(`aperture ${i} names provider ${this.ids[i]}, not registered`);
      if (p.start !== this.starts[i] || p.end !== this.ends[i])
        throw new Error(`aperture ${i} differs from provider ${p.index}`);
      if (i > 0 && this.starts[i] < this.ends[i - 1])
        throw new Error(`apertures at ${hex(this.starts[i])} overlap or are unsorted`);
    }
  }

  private upperBound(addr: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid] <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private grow(): void {
    const cap = this.starts.length * 2;
    const s = new Float64Array(cap);
    s.set(this.starts);
    const e = new Float64Array(cap);
    e.set(this.ends);
    const d = new Uint32Array(cap);
    d.set(this.ids);
    this.starts = s;
    this.ends = e;
    this.ids = d;
  }
}
