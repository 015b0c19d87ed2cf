/**
 * Per-folio scratch columns indexed by folio id, owned by a MachineMemory (its
 * `folioScratch` field) so a pass over a list can count per folio without a Map and
 * without a module-global buffer. Users keep it all-zero between calls: whatever they mark they
 * record in `touched` and clear again, on every path (a `finally`), so clearing costs O(folios
 * touched), not O(capacity). Synchronous users only (no await between marking and clearing).
 */
export class FolioScratch {
  /** A count per folio id (mm/unpin.ts: pages to release). */
  count = new Float64Array(0);
  /** Bits per folio id (mm/unpin.ts: kind and dirty). */
  mark = new Uint8Array(0);
  /** Folio ids marked so far, for clearing; grown by {@link growTouched}. */
  touched = new Int32Array(0);

  /**
   * Grows `count` and `mark` (zeroed) to at least `capacity` folio ids (at least doubling).
   * O(1), or O(capacity) when it grows; `touched` keeps its contents.
   */
  reserve(capacity: number): this {
    if (this.count.length < capacity) {
      const cap = Math.max(capacity, this.count.length * 2, 64);
      this.count = new Float64Array(cap);
      this.mark = new Uint8Array(cap);
    }
    return this;
  }

  /** Doubles `touched` (at least 1024 ids), keeping its contents. O(touched). */
  growTouched(): Int32Array {
    const t = new Int32Array(Math.max(1024, this.touched.length * 2));
    t.set(this.touched);
    this.touched = t;
    return t;
  }
}
