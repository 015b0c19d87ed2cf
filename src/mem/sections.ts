/**
 * The SPARSEMEM section map (include/linux/mmzone.h struct mem_section): which 128 MiB sections
 * are present and, within each, which 2 MiB subsections hold RAM or ZONE_DEVICE memory.
 * `pfnValid` follows the kernel's pfn_valid(): a frame is valid when its section is present and
 * either the section is an early (boot) section, whose memmap covers all of it, or the frame's
 * subsection is present (hot-added memory and pgmaps are tracked per subsection).
 *
 * Costs: every operation is O(subsections touched); lookups are O(1).
 */
import { PAGES_PER_SECTION, PAGES_PER_SUBSECTION, SUBSECTIONS_PER_SECTION } from "./types.js";

/** What a subsection holds. */
export const SubKind = { NONE: 0, RAM: 1, DEVICE: 2 } as const;

/** One present section. */
export interface SectionState {
  /** Present at boot (the memmap covers the whole section). */
  early: boolean;
  /** NUMA node. */
  node: number;
  /** Per subsection: SubKind. */
  subs: Uint8Array;
}

/** The section map. */
export class SectionMap {
  /** Section number -> state. */
  readonly sections = new Map<number, SectionState>();

  /** Marks the subsections covering frames `[pfn, pfn+n)` (subsection aligned) as `kind`. */
  mark(pfn: number, n: number, kind: number, node: number, early: boolean): void {
    for (let p = pfn; p < pfn + n; p += PAGES_PER_SUBSECTION) {
      const nr = Math.floor(p / PAGES_PER_SECTION);
      let s = this.sections.get(nr);
      if (!s) {
        if (kind === SubKind.NONE) continue;
        s = { early, node, subs: new Uint8Array(SUBSECTIONS_PER_SECTION) };
        this.sections.set(nr, s);
      }
      s.subs[Math.floor((p % PAGES_PER_SECTION) / PAGES_PER_SUBSECTION)] = kind;
      if (kind === SubKind.NONE && s.subs.every((k) => k === SubKind.NONE)) this.sections.delete(nr);
    }
  }

  /** The kind of the subsection holding `pfn`. O(1). */
  kindOf(pfn: number): number {
    const s = this.sections.get(Math.floor(pfn / PAGES_PER_SECTION));
    return s ? s.subs[Math.floor((pfn % PAGES_PER_SECTION) / PAGES_PER_SUBSECTION)] : SubKind.NONE;
  }

  /** pfn_valid(): true when `pfn` has a struct page. O(1). */
  pfnValid(pfn: number): boolean {
    const s = this.sections.get(Math.floor(pfn / PAGES_PER_SECTION));
    if (!s) return false;
    return s.early || s.subs[Math.floor((pfn % PAGES_PER_SECTION) / PAGES_PER_SUBSECTION)] !== SubKind.NONE;
  }

  /** True when any frame of `[pfn, pfn+n)` lies in a present subsection. O(subsections). */
  anyPresent(pfn: number, n: number): boolean {
    for (let p = pfn - (pfn % PAGES_PER_SUBSECTION); p < pfn + n; p += PAGES_PER_SUBSECTION) {
      if (this.kindOf(p) !== SubKind.NONE) return true;
    }
    return false;
  }

  /** True when every subsection of `[pfn, pfn+n)` holds `kind`. O(subsections). */
  allOf(pfn: number, n: number, kind: number): boolean {
    for (let p = pfn - (pfn % PAGES_PER_SUBSECTION); p < pfn + n; p += PAGES_PER_SUBSECTION) {
      if (this.kindOf(p) !== kind) return false;
    }
    return true;
  }
}
