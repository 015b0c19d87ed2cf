/**
 * {@link SnapshotFit}: makes what `capture()` read fit the limits the loader enforces
 * ({@link SNAPSHOT_LIMITS}), so a capture can always be loaded: a string that is too long is cut
 * and ends in {@link TRUNCATION_MARKER}; entries past a list's limit are left out; each is counted.
 */

import { SNAPSHOT_LIMITS, TRUNCATION_MARKER } from "./snapshot-schema.js";

/** Counts what it shortened or left out; every method is O(length of its input). */
export class SnapshotFit {
  /** Strings shortened plus list entries left out. */
  truncated = 0;

  /**
   * `s` if it has at most `max` UTF-16 code units; otherwise its first units (never half of a
   * surrogate pair) followed by {@link TRUNCATION_MARKER}, `max` units in all, counted.
   * @param s untrusted text.
   * @param max longest allowed length (at least the marker's length).
   * @returns the text that fits.
   */
  str(s: string, max: number): string {
    if (s.length <= max) return s;
    this.truncated++;
    return cutString(s, max);
  }

  /**
   * The first `max` entries of `list` (the list itself when it fits); entries left out are counted.
   * @param list entries.
   * @param max most entries allowed.
   * @returns the entries that fit.
   */
  list<T>(list: readonly T[], max: number): T[] {
    if (list.length <= max) return [...list];
    this.truncated += list.length - max;
    return list.slice(0, max);
  }

  /** A VMA's VmFlags mnemonics within the per-flag and per-VMA limits. */
  vmFlags(flags: readonly string[]): string[] {
    return this.list(flags, SNAPSHOT_LIMITS.vmFlags).map((f) => this.str(f, SNAPSHOT_LIMITS.vmFlag));
  }
}

/**
 * `s` cut to `max` UTF-16 units including {@link TRUNCATION_MARKER} (only the marker's start when
 * `max` is shorter than the marker). A surrogate pair is never split. O(max).
 */
export function cutString(s: string, max: number): string {
  if (s.length <= max) return s;
  const room = max - TRUNCATION_MARKER.length;
  if (room <= 0) return TRUNCATION_MARKER.slice(0, max);
  let keep = room;
  const last = s.charCodeAt(keep - 1);
  if (last >= 0xd800 && last <= 0xdbff) keep--; // high surrogate: its low half would be cut off
  return `${s.slice(0, keep)}${TRUNCATION_MARKER}`;
}
