/**
 * devmem TCP receive in data mode (net/core/devmem.c): a dma-buf bound to a NIC RX queue is mapped
 * for the NIC, split into net buffers, and the NIC writes each packet's payload by DMA at the
 * buffer address the placement chose. Returned pieces name the dma-buf offset of every byte.
 */
import { type DmaDevice, dmaWrite } from "../dma/index.js";
import {
  devmemPlace,
  type NetBuffers,
  netBuffersFromSegments,
  type Placement,
  type PlaceOptions,
} from "./devmem-place.js";
import type { DmaBuf, DmaBufAttachment } from "./dmabuf.js";
import { DevmemError } from "./errors.js";

/** A dma-buf bound to an RX queue. */
export class DevmemBinding {
  readonly attachment: DmaBufAttachment;
  readonly buffers: NetBuffers;
  private unbound = false;

  /**
   * net_devmem_bind_dmabuf: attach + map for the NIC, then carve net buffers. O(buffers).
   * @throws P2pNotSupported / DmaBufError from attach and map; RangeError for a bad buffer size
   *   (the attachment is detached again).
   */
  constructor(
    readonly buf: DmaBuf,
    readonly nic: DmaDevice,
    bufSize = 4096,
  ) {
    this.attachment = buf.attach(nic);
    try {
      this.buffers = netBuffersFromSegments(this.attachment.map("from-device"), bufSize);
    } catch (e) {
      this.attachment.detach();
      throw e;
    }
  }

  /**
   * Receives `payload` as a TCP stream: places it and has the NIC DMA every piece into its buffer.
   * O(bytes + pieces).
   * @returns the placement; piece i landed at dma-buf offset buffers.offset[buffer[i]] + offset[i].
   * @throws DevmemError "NO_BUFFERS" when the stream needs more buffers than the binding has (nothing
   *   written); IommuFault after a revoke.
   */
  receive(payload: Uint8Array, o: Omit<PlaceOptions, "bufSize">): Placement {
    if (this.unbound) throw new DevmemError("UNBOUND", "Cannot receive: the binding was released");
    const p = devmemPlace(payload.length, { ...o, bufSize: this.buffers.bufSize });
    if (p.buffersUsed > this.buffers.count) {
      throw new DevmemError(
        "NO_BUFFERS",
        `Cannot receive ${payload.length} bytes: needs ${p.buffersUsed} net buffers, the binding has ${this.buffers.count}`,
      );
    }
    const pc = p.pieces;
    let pos = 0;
    for (let i = 0; i < pc.count; i++) {
      const dma = this.buffers.addr[pc.buffer[i]] + pc.offset[i];
      dmaWrite(this.buf.sys, this.nic, dma, payload.subarray(pos, pos + pc.len[i]));
      pos += pc.len[i];
    }
    return p;
  }

  /** Unbinds: unmaps and detaches. O(ranges). */
  release(): void {
    if (this.unbound) return;
    this.unbound = true;
    this.attachment.detach();
  }
}
