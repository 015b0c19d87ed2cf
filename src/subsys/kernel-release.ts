/**
 * Which Linux release the block/NVMe kernel-side model follows. Two lines are modelled:
 * - "7.2" (the default, Debian's 7.2.13 in the lab): the block layer's DMA iterator and the
 *   two-step IOVA API (block/blk-mq-dma.c, drivers/nvme/host/pci.c nvme_map_data), 4 MiB
 *   BLK_DEF_MAX_SECTORS_CAP, NVME_MAX_SEGS 256, no virt boundary for SGL-capable controllers;
 * - "6.12" (Debian stable): blk_rq_map_sg into a scatterlist and dma_map_sg with merged segments,
 *   BLK_DEF_MAX_SECTORS_CAP 2560 sectors, NVME_MAX_SEGS 128, a 4 KiB virt boundary always.
 * docs/kernel-fidelity.md ("Block layer and NVMe") lists every rule and its release.
 */
import { KERNEL_MODEL } from "../core/index.js";

/** A modelled kernel line. */
export type KernelRelease = "7.2" | "6.12";

/** The release the model follows unless told otherwise: core's {@link KERNEL_MODEL}. */
export const DEFAULT_KERNEL_RELEASE: KernelRelease = KERNEL_MODEL;

/** The modelled lines, newest first. */
export const KERNEL_RELEASES: readonly KernelRelease[] = ["7.2", "6.12"];

/**
 * The modelled line for a kernel release string (`uname -r`, e.g. "7.2.13+deb14-amd64"): any 7.x
 * follows "7.2" (the NVMe/block DMA path has not changed within 7.x as far as modelled), 6.12.y
 * follows "6.12". O(length).
 * @throws RangeError naming the release when it is neither (6.13-6.19 mixed the two lines: the
 *   model refuses rather than guess).
 */
export function kernelReleaseOf(release: string): KernelRelease {
  const m = /^(\d+)\.(\d+)(?:[.\-+~_].*)?$/.exec(String(release).trim());
  if (m) {
    const major = Number(m[1]);
    const minor = Number(m[2]);
    if (major === 7) return "7.2";
    if (major === 6 && minor === 12) return "6.12";
  }
  throw new RangeError(
    `kernel release ${JSON.stringify(String(release).slice(0, 64))} is not modelled: expected 7.x (modelled as 7.2) or 6.12.y`,
  );
}
