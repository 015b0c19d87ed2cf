/**
 * The Linux release whose rules the model follows. Every "kernel" figure phyr prints (the
 * baselines, the kernel rows of the IOMMU tables, the kernel side of each scenario) is what this
 * release does; docs/kernel-fidelity.md lists each rule, the file and function followed, and the
 * deliberate departures.
 */

/** Linux release the model follows (major.minor), e.g. `"7.2"`. */
export const KERNEL_MODEL = "7.2" as const;
