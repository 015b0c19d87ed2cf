/**
 * NVMe data pointers built from a request's DMA segments (drivers/nvme/host/pci.c nvme_map_data,
 * nvme_setup_prp_simple, nvme_pci_setup_prps, nvme_pci_use_sgls, nvme_pci_setup_sgls).
 *
 * PRP: PRP1 is the first DMA address (it may carry an offset); the rest of the transfer is named in
 * NVME_CTRL_PAGE_SIZE pages. When it fits one more page PRP2 is that page; otherwise PRP2 points to
 * a PRP list of 8-byte entries, 512 per 4 KiB list page, and when a page fills its last entry is
 * moved to a new page and replaced by the pointer to it (the chain). Lists of at most 32 entries come
 * from the 256-byte small pool.
 * SGL: one data-block descriptor (16 B) per DMA segment; a single segment sits in the command, more
 * go to a list (16 per 256-byte small-pool block, 256 per 4 KiB page; a full page's last slot
 * chains to the next with a segment descriptor, as kernels before 6.3 did).
 * List pages live in the command object at pseudo DMA addresses `listBase + k * 4096` (the dma_pool
 * is not modelled in simulated memory); {@link nvmeWalk} follows them the way a controller would.
 */
import { alignDown, checkAddr, hex } from "../core/index.js";
import type { PhyrRead } from "../phyr/index.js";
import { physGapHits } from "./block-limits.js";
import { NvmeError } from "./errors.js";
import { DEFAULT_KERNEL_RELEASE, type KernelRelease } from "./kernel-release.js";

/** NVME_CTRL_PAGE_SIZE. */
export const NVME_CTRL_PAGE_SIZE = 4096;
/** PRP entries per list page (NVME_CTRL_PAGE_SIZE >> 3). */
export const PRPS_PER_PAGE = 512;
/** SGL descriptors per list page (NVME_CTRL_PAGE_SIZE / 16). */
export const SGES_PER_PAGE = 256;
/** sgl_threshold module parameter default: SGLs when the average segment is at least 32 KiB. */
export const SGL_THRESHOLD = 32768;
/** dma_pool "prp list 256": 32 PRPs or 16 SGL descriptors. */
export const SMALL_POOL_BYTES = 256;

/** A built data pointer plus its descriptor accounting. */
export interface NvmeDataPtr {
  mode: "prp" | "sgl";
  /** PRP1 (mode prp) or the inline descriptor's address (sgl). */
  ptr1: number;
  /** PRP2 / inline descriptor length or list address; 0 when unused. */
  ptr2: number;
  /** True when ptr2 points to list page 0. */
  ptr2IsList: boolean;
  /** The list pages: PRP entries (prp) or [addr, len] pairs (sgl) as written. */
  lists: Float64Array[];
  /** Pseudo DMA address of list page 0. */
  listBase: number;
  /** Data entries: PRP entries (PRP1, PRP2 or listed) or SGL data descriptors. */
  descriptors: number;
  /** Chain entries (PRP list pointers moved into full pages, or SGL segment descriptors). */
  chains: number;
  /** Bytes of descriptor memory allocated for lists (small-pool block or whole pages). */
  listBytes: number;
  /** Bytes of descriptors written: 8 per PRP entry / 16 per SGL descriptor, in the command and lists. */
  descriptorBytes: number;
}

/**
 * DMA segments as parallel arrays (blk_dma_iter's [dma_addr, len] pairs): what the block layer's
 * DMA iterator hands the driver when it did not go through a mapped list.
 */
export interface DmaSegments {
  addr: Float64Array;
  len: Float64Array;
}

/** What the builders accept: a mapped DmaList (any PhyrRead of DMA ranges) or segment arrays. */
export type NvmeDmaInput = PhyrRead | DmaSegments;

/** Reads every DMA segment into arrays (the sg walk of the driver). O(n). */
function segments(dma: NvmeDmaInput): DmaSegments {
  if ("addr" in dma && dma.addr instanceof Float64Array) {
    if (dma.addr.length === 0 || dma.addr.length !== dma.len.length) {
      throw new NvmeError("NVME_EMPTY", "Cannot build an NVMe command for an empty transfer");
    }
    return dma;
  }
  const list = dma as PhyrRead;
  const n = list.nents;
  if (n === 0) throw new NvmeError("NVME_EMPTY", "Cannot build an NVMe command for an empty transfer");
  const addr = new Float64Array(n);
  const len = new Float64Array(n);
  let i = 0;
  for (const c = list.cursor(); !c.done; c.nextEntry()) {
    addr[i] = c.entryAddr;
    len[i] = c.entryLen;
    i++;
  }
  return { addr, len };
}

function totalOf(s: DmaSegments): number {
  let t = 0;
  for (let i = 0; i < s.len.length; i++) t += s.len[i];
  return t;
}

/**
 * PRPs for a DMA list (nvme_pci_setup_prps). O(pages).
 * @param listBase pseudo DMA address of the first list page (4 KiB aligned); default 0.
 * @throws NvmeError "PRP_GAP" when a segment other than the first starts off a 4 KiB boundary or
 *   one other than the last ends off it (the kernel's bad_sgl; the virt boundary prevents it).
 */
export function nvmeSetupPrps(dma: NvmeDmaInput, listBase = 0): NvmeDataPtr {
  checkAddr("listBase", listBase);
  const { addr, len } = segments(dma);
  const n = addr.length;
  for (let i = 0; i < n; i++) {
    if (
      (i > 0 && addr[i] % NVME_CTRL_PAGE_SIZE !== 0) ||
      (i < n - 1 && (addr[i] + len[i]) % NVME_CTRL_PAGE_SIZE !== 0)
    ) {
      throw new NvmeError(
        "PRP_GAP",
        `Cannot describe DMA segment ${i} ${hex(addr[i])}+${hex(len[i])} with PRPs: interior segments must start and end on ${hex(NVME_CTRL_PAGE_SIZE)}`,
      );
    }
  }
  const res: NvmeDataPtr = {
    mode: "prp",
    ptr1: addr[0],
    ptr2: 0,
    ptr2IsList: false,
    lists: [],
    listBase,
    descriptors: 1,
    chains: 0,
    listBytes: 0,
    descriptorBytes: 8,
  };
  let length = totalOf({ addr, len }) - (NVME_CTRL_PAGE_SIZE - (addr[0] % NVME_CTRL_PAGE_SIZE));
  if (length <= 0) return res;
  // The pages after PRP1: page-aligned addresses of every later 4 KiB page.
  let seg = 0;
  let pos = alignDown(addr[0], NVME_CTRL_PAGE_SIZE) + NVME_CTRL_PAGE_SIZE;
  let segEnd = addr[0] + len[0];
  const nextPage = (): number => {
    if (pos >= segEnd) {
      seg++;
      pos = addr[seg];
      segEnd = addr[seg] + len[seg];
    }
    const p = pos;
    pos += NVME_CTRL_PAGE_SIZE;
    return p;
  };
  if (length <= NVME_CTRL_PAGE_SIZE) {
    res.ptr2 = nextPage();
    res.descriptors = 2;
    res.descriptorBytes = 16;
    return res;
  }
  const nprps = Math.ceil(length / NVME_CTRL_PAGE_SIZE);
  const pageBytes = nprps <= SMALL_POOL_BYTES / 8 ? SMALL_POOL_BYTES : NVME_CTRL_PAGE_SIZE;
  let list = new Float64Array(pageBytes / 8);
  res.lists.push(list);
  res.ptr2 = listBase;
  res.ptr2IsList = true;
  let i = 0;
  for (;;) {
    if (i === PRPS_PER_PAGE) {
      const old = list;
      list = new Float64Array(PRPS_PER_PAGE);
      list[0] = old[i - 1];
      old[i - 1] = listBase + res.lists.length * NVME_CTRL_PAGE_SIZE;
      res.lists.push(list);
      res.chains++;
      i = 1;
    }
    list[i++] = nextPage();
    length -= NVME_CTRL_PAGE_SIZE;
    if (length <= 0) break;
  }
  res.descriptors = 1 + nprps;
  res.listBytes = pageBytes * res.lists.length;
  res.descriptorBytes = 8 * (2 + nprps + res.chains);
  return res;
}

/**
 * SGL descriptors for a DMA list (nvme_pci_setup_sgls, nvme_setup_sgl_simple). O(segments).
 * @param listBase pseudo DMA address of the first list page; default 0.
 */
export function nvmeSetupSgls(dma: NvmeDmaInput, listBase = 0): NvmeDataPtr {
  checkAddr("listBase", listBase);
  const { addr, len } = segments(dma);
  const n = addr.length;
  const res: NvmeDataPtr = {
    mode: "sgl",
    ptr1: addr[0],
    ptr2: len[0],
    ptr2IsList: false,
    lists: [],
    listBase,
    descriptors: n,
    chains: 0,
    listBytes: 0,
    descriptorBytes: 16,
  };
  if (n === 1) return res;
  const pageBytes = n <= SMALL_POOL_BYTES / 16 ? SMALL_POOL_BYTES : NVME_CTRL_PAGE_SIZE;
  const slots = pageBytes / 16;
  res.ptr1 = listBase;
  res.ptr2 = 0;
  res.ptr2IsList = true;
  let list = new Float64Array(2 * slots);
  res.lists.push(list);
  let i = 0;
  for (let k = 0; k < n; k++) {
    if (i === slots - 1 && n - k > 1) {
      // Segment descriptor to the next page in the last slot.
      const nextAddr = listBase + res.lists.length * NVME_CTRL_PAGE_SIZE;
      list[2 * i] = nextAddr;
      list[2 * i + 1] = -1;
      res.chains++;
      list = new Float64Array(2 * slots);
      res.lists.push(list);
      i = 0;
    }
    list[2 * i] = addr[k];
    list[2 * i + 1] = len[k];
    i++;
  }
  res.listBytes = pageBytes * res.lists.length;
  res.descriptorBytes = 16 * (1 + n + res.chains);
  return res;
}

/** Controller and queue facts for {@link nvmeMapData}. */
export interface NvmeMapOptions {
  /** The controller supports SGLs (nvme_ctrl_sgl_supported). */
  sglSupported: boolean;
  /** An I/O queue (qid != 0); the admin queue never uses SGLs. Default true. */
  ioQueue?: boolean;
  /** sgl_threshold; 0 disables SGLs. Default 32 KiB. */
  sglThreshold?: number;
  /** The request has one physical segment (blk_rq_nr_phys_segments == 1) and no P2P page. */
  singlePhysSegment?: boolean;
  /** Pseudo DMA address for list pages. */
  listBase?: number;
  /** Release whose rules apply; default "7.2". */
  release?: KernelRelease;
  /** 7.2: the request's lowest seam gap (req_phys_gap_mask, see bvecSegGap); 0 = none. Default 0. */
  physGap?: number;
  /** 7.2: blk_rq_nr_phys_segments for the average (nvme_pci_avg_seg_size) when the input is not coalesced; default the segments handed in. */
  nrPhysSegments?: number;
}

/**
 * nvme_map_data's choice between PRPs and SGLs, then the build (drivers/nvme/host/pci.c).
 *
 * Linux 7.2 (nvme_pci_use_sgls, nvme_pci_setup_data_simple, nvme_pci_avg_seg_size): on an I/O
 * queue of an SGL-capable controller SGLs are forced when the request has a gap inside the
 * controller page (`req_phys_gap_mask & (NVME_CTRL_PAGE_SIZE - 1)`), else allowed. A single
 * physical segment uses one inline SGL descriptor when SGLs are forced or the segment spans more
 * than two controller pages (whatever sgl_threshold says), else the inline PRP pair; a PRP-only
 * controller's single segment beyond two pages gets a PRP list. Otherwise SGLs when forced, or
 * allowed with sgl_threshold non-zero and DIV_ROUND_UP(bytes, nseg) >= sgl_threshold, nseg being 1
 * for a request the DMA iterator linked into one IOVA (blk_rq_dma_map_coalesce) and
 * nr_phys_segments otherwise. One descriptor page holds the SGL list: no chaining (NVME_MAX_SEGS
 * 256 keeps a request within it).
 *
 * Linux 6.12: a single segment within two controller pages takes the inline PRP pair, else (SGLs
 * supported, I/O queue, sgl_threshold non-zero) one inline SGL descriptor; otherwise SGLs when
 * supported on an I/O queue and DIV_ROUND_UP(bytes, nseg) >= sgl_threshold, nseg the mapped sg
 * count (iod->sgt.nents). O(pages) for PRPs, O(segments) for SGLs.
 * @throws NvmeError as {@link nvmeSetupPrps}; "SGL_TOO_MANY" on 7.2 for more SGL segments than
 *   one descriptor page holds (256).
 */
export function nvmeMapData(input: NvmeDmaInput, opts: NvmeMapOptions): NvmeDataPtr {
  const io = opts.ioQueue ?? true;
  const threshold = opts.sglThreshold ?? SGL_THRESHOLD;
  const base = opts.listBase ?? 0;
  const release = opts.release ?? DEFAULT_KERNEL_RELEASE;
  const dma = segments(input);
  const n = dma.addr.length;
  const prpPossible = (dma.addr[0] % NVME_CTRL_PAGE_SIZE) + dma.len[0] <= 2 * NVME_CTRL_PAGE_SIZE;
  if (release === "6.12") {
    if (opts.singlePhysSegment && n === 1) {
      if (prpPossible) return nvmeSetupPrps(dma, base);
      if (io && threshold > 0 && opts.sglSupported) return nvmeSetupSgls(dma, base);
    }
    const avg = Math.ceil(totalOf(dma) / n);
    const useSgl = opts.sglSupported && io && threshold > 0 && avg >= threshold;
    return useSgl ? nvmeSetupSgls(dma, base) : nvmeSetupPrps(dma, base);
  }
  const sgl = opts.sglSupported && io;
  const forced = sgl && physGapHits(opts.physGap ?? 0, NVME_CTRL_PAGE_SIZE - 1);
  if (opts.singlePhysSegment && n === 1 && (sgl || prpPossible))
    return forced || !prpPossible ? nvmeSetupSgls(dma, base) : nvmeSetupPrps(dma, base);
  const nseg = n === 1 ? 1 : (opts.nrPhysSegments ?? n);
  const avg = Math.ceil(totalOf(dma) / nseg);
  if (forced || (sgl && threshold > 0 && avg >= threshold)) {
    if (n > SGES_PER_PAGE) {
      throw new NvmeError(
        "SGL_TOO_MANY",
        `Cannot describe ${n} DMA segments with one SGL descriptor page: at most ${SGES_PER_PAGE} (NVME_MAX_SEGS)`,
      );
    }
    return nvmeSetupSgls(dma, base);
  }
  return nvmeSetupPrps(dma, base);
}

/**
 * Follows a data pointer the way the controller does and returns the DMA ranges it names for a
 * transfer of `bytes`, in order. O(descriptors).
 * @param merge true (default): contiguous ranges are merged; false: one range per PRP entry or SGL
 *   data descriptor, as a controller issues its DMA (a merged burst may span two separately mapped
 *   buffers, e.g. adjacent swiotlb slots, which the DMA checker sees as two mappings).
 * @throws NvmeError "NVME_BAD_PTR" when a list pointer names no list page or the descriptors cover
 *   fewer than `bytes`.
 */
export function nvmeWalk(cmd: NvmeDataPtr, bytes: number, merge = true): { addr: number; len: number }[] {
  const out: { addr: number; len: number }[] = [];
  const push = (a: number, l: number): void => {
    const last = out[out.length - 1];
    if (merge && last && last.addr + last.len === a) last.len += l;
    else out.push({ addr: a, len: l });
  };
  const page = (ptr: number): Float64Array => {
    const k = (ptr - cmd.listBase) / NVME_CTRL_PAGE_SIZE;
    const p = cmd.lists[k];
    if (!Number.isInteger(k) || !p)
      throw new NvmeError("NVME_BAD_PTR", `list pointer ${hex(ptr)} names no list page`);
    return p;
  };
  let left = bytes;
  if (cmd.mode === "prp") {
    const first = Math.min(left, NVME_CTRL_PAGE_SIZE - (cmd.ptr1 % NVME_CTRL_PAGE_SIZE));
    push(cmd.ptr1, first);
    left -= first;
    if (left > 0 && !cmd.ptr2IsList) {
      push(cmd.ptr2, Math.min(left, NVME_CTRL_PAGE_SIZE));
      left -= Math.min(left, NVME_CTRL_PAGE_SIZE);
    } else if (left > 0) {
      let list = page(cmd.ptr2);
      let i = 0;
      while (left > 0) {
        const remainingPrps = Math.ceil(left / NVME_CTRL_PAGE_SIZE);
        if (i === PRPS_PER_PAGE - 1 && remainingPrps > 1) {
          list = page(list[i]);
          i = 0;
        }
        const l = Math.min(left, NVME_CTRL_PAGE_SIZE);
        push(list[i++], l);
        left -= l;
      }
    }
  } else if (!cmd.ptr2IsList) {
    const l = Math.min(left, cmd.ptr2);
    push(cmd.ptr1, l);
    left -= l;
  } else {
    let list = page(cmd.ptr1);
    let i = 0;
    for (let k = 0; k < cmd.descriptors && left > 0; k++) {
      if (list[2 * i + 1] === -1) {
        list = page(list[2 * i]);
        i = 0;
      }
      const l = Math.min(left, list[2 * i + 1]);
      push(list[2 * i], l);
      left -= l;
      i++;
    }
  }
  if (left > 0)
    throw new NvmeError("NVME_BAD_PTR", `data pointer covers ${hex(bytes - left)} of ${hex(bytes)} bytes`);
  return out;
}
