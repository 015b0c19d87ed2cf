/**
 * mm/: address spaces (VMAs, 4-level page tables, demand faults, migration to device memory)
 * and GUP — range pinning to PhyrLists next to page-at-a-time pinning, memfd folio pinning — plus
 * the checker.
 */
export * from "./check.js";
export * from "./file.js";
export * from "./gup.js";
export * from "./memfd.js";
export * from "./mm.js";
export * from "./pagetable.js";
export * from "./unpin.js";
export * from "./vma.js";
