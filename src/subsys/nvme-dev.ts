/**
 * A simulated NVMe controller in data mode: namespace media held as sparse 4 KiB blocks, commands
 * whose data pointers it walks like hardware (PRP lists, SGL descriptors) and whose bytes it moves
 * with device DMA through the machine's translation (IOMMU walk, bus offset, bounce buffer).
 */
import { checkCount, hex } from "../core/index.js";
import { type DmaDevice, type DmaSystem, dmaRead, dmaWrite } from "../dma/index.js";
import type { IommuDomain } from "../iommu/index.js";
import { NvmeError } from "./errors.js";
import { type NvmeDataPtr, nvmeWalk } from "./nvme-cmd.js";

const BLOCK = 4096;

/** Counters of a controller. */
export interface NvmeStats {
  commands: number;
  /** DMA transfers issued (one per PRP entry or SGL data descriptor). */
  transfers: number;
  bytesRead: number;
  bytesWritten: number;
}

/** A namespace with 512-byte LBAs. */
export class NvmeController {
  /** The controller supports SGLs. */
  readonly sglSupported: boolean;
  /** Namespace size in bytes. */
  readonly capacity: number;
  /** The device's IOMMU domain, when it has one (for counting map calls). */
  readonly domain: IommuDomain | undefined;
  readonly stats: NvmeStats = { commands: 0, transfers: 0, bytesRead: 0, bytesWritten: 0 };
  private readonly media = new Map<number, Uint8Array>();

  /**
   * @param sys the DMA context; @param dev the controller's DMA identity.
   * @throws RangeError for a capacity that is not a positive multiple of 4 KiB.
   */
  constructor(
    readonly sys: DmaSystem,
    readonly dev: DmaDevice,
    opts: { capacity: number; sglSupported?: boolean; domain?: IommuDomain },
  ) {
    checkCount("capacity", opts.capacity);
    if (opts.capacity === 0 || opts.capacity % BLOCK !== 0)
      throw new RangeError(
        `capacity ${hex(opts.capacity)} is invalid: expected a positive multiple of 4 KiB`,
      );
    this.capacity = opts.capacity;
    this.sglSupported = opts.sglSupported ?? true;
    this.domain = opts.domain;
  }

  /**
   * Executes a read or write of `bytes` at LBA `slba` (512-byte sectors), moving data through
   * device DMA at the addresses the data pointer names. A write reads host memory into the media; a
   * read writes the media into host memory. O(bytes + descriptors).
   * @throws NvmeError "NVME_LBA_RANGE" beyond the namespace; IommuFault / DmaApiError from the
   *   translation (nothing is written to the media when the host read faults).
   */
  execute(op: "read" | "write", slba: number, bytes: number, cmd: NvmeDataPtr): void {
    checkCount("slba", slba);
    checkCount("bytes", bytes);
    const start = slba * 512;
    if (bytes === 0 || bytes % 512 !== 0 || start + bytes > this.capacity) {
      throw new NvmeError(
        "NVME_LBA_RANGE",
        `${this.dev.name}: ${op} of ${hex(bytes)} bytes at LBA ${slba} is outside the ${hex(this.capacity)}-byte namespace or not whole sectors`,
      );
    }
    const ranges = nvmeWalk(cmd, bytes, false);
    this.stats.commands++;
    let pos = start;
    if (op === "write") {
      const chunks: Uint8Array[] = [];
      for (const r of ranges) chunks.push(dmaRead(this.sys, this.dev, r.addr, r.len));
      for (const c of chunks) {
        this.writeMedia(pos, c);
        pos += c.length;
      }
      this.stats.bytesWritten += bytes;
    } else {
      for (const r of ranges) {
        dmaWrite(this.sys, this.dev, r.addr, this.readMedia(pos, r.len));
        pos += r.len;
      }
      this.stats.bytesRead += bytes;
    }
    this.stats.transfers += ranges.length;
  }

  /** Bytes of the media at byte offset `off` (zero where never written). O(len). */
  readMedia(off: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let done = 0; done < len; ) {
      const a = off + done;
      const b = Math.floor(a / BLOCK);
      const o = a % BLOCK;
      const n = Math.min(len - done, BLOCK - o);
      const blk = this.media.get(b);
      if (blk) out.set(blk.subarray(o, o + n), done);
      done += n;
    }
    return out;
  }

  private writeMedia(off: number, bytes: Uint8Array): void {
    for (let done = 0; done < bytes.length; ) {
      const a = off + done;
      const b = Math.floor(a / BLOCK);
      const o = a % BLOCK;
      const n = Math.min(bytes.length - done, BLOCK - o);
      let blk = this.media.get(b);
      if (!blk) {
        blk = new Uint8Array(BLOCK);
        this.media.set(b, blk);
      }
      blk.set(bytes.subarray(done, done + n), o);
      done += n;
    }
  }
}
