/**
 * devmem TCP receive in data mode (net/core/devmem.c): a dma-buf bound to a NIC RX queue is mapped
 * for the NIC, split into net buffers, and the NIC writes each packet's payload by DMA at the
 * buffer address the placement chose. Returned pieces name the dma-buf offset of every byte.
 */
import { checkCount, PAGE_SIZE } from "../core/index.js";
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

/**
 * What a binding asks of the queues (check a queue can take it, install or clear it): set by
 * NetRxQueues' static block, so those stay private to this module.
 */
let queueDoor: {
  check(qs: NetRxQueues, q: number, buf: DmaBuf): void;
  set(qs: NetRxQueues, q: number, b: DevmemBinding | null): void;
};

/**
 * A NIC's RX queues (struct netdev_rx_queue) and the devmem binding each holds: a queue takes at
 * most one memory provider, and only with TCP header split enabled (net/core/netdev_rx_queue.c
 * __net_mp_open_rxq).
 */
export class NetRxQueues {
  private readonly bound: (DevmemBinding | null)[];

  /**
   * @param nic the NIC; @param count real_num_rx_queues (1..65535); @param headerSplit
   *   ethtool tcp-data-split enabled (devmem needs payloads split from headers). Default true.
   * @throws RangeError for a bad count.
   */
  constructor(
    readonly nic: DmaDevice,
    readonly count: number,
    readonly headerSplit = true,
  ) {
    checkCount("rx queue count", count, 65535);
    if (count === 0) throw new RangeError("rx queue count 0 is invalid: expected 1..65535");
    this.bound = new Array<DevmemBinding | null>(count).fill(null);
  }

  /** The binding on queue `q`, or null. O(1). */
  binding(q: number): DevmemBinding | null {
    return this.bound[q] ?? null;
  }

  /**
   * Checks that `q` can take a binding (before anything is attached). O(1).
   * @throws DevmemError EINVAL / EEXIST
   */
  private check(q: number, buf: DmaBuf): void {
    const why = (code: string, reason: string): never => {
      throw new DevmemError(
        code,
        `Cannot bind dma-buf ${buf.name} to ${this.nic.name} rx queue ${q}: ${reason}`,
      );
    };
    if (!Number.isInteger(q) || q < 0 || q >= this.count)
      why("EINVAL", `expected a queue index below real_num_rx_queues ${this.count}`);
    if (!this.headerSplit) why("EINVAL", "tcp-data-split (header split) is disabled");
    if (this.bound[q]) why("EEXIST", "the queue already has a memory provider bound");
  }

  /** Installs (or with null clears) the binding of queue `q`. O(1). */
  private set(q: number, b: DevmemBinding | null): void {
    this.bound[q] = b;
  }

  static {
    queueDoor = {
      check: (qs, q, buf) => qs.check(q, buf),
      set: (qs, q, b) => qs.set(q, b),
    };
  }
}

/** A dma-buf bound to an RX queue. */
export class DevmemBinding {
  readonly attachment: DmaBufAttachment;
  readonly buffers: NetBuffers;
  private unbound = false;

  /**
   * net_devmem_bind_dmabuf + net_devmem_bind_dmabuf_to_queue: checks the queue, attaches + maps
   * the dma-buf for the NIC, carves net buffers, and installs the binding on the queue. O(buffers).
   * @param rx the NIC's queues and the queue index; omitted: bound to the NIC without queue
   *   bookkeeping.
   * @throws DevmemError "EINVAL" (no such queue, header split off) / "EEXIST" (queue already bound)
   *   before anything is attached; P2pNotSupported / DmaBufError from attach and map; RangeError for
   *   a bad buffer size (the attachment is detached again). On any error nothing stays attached,
   *   mapped or bound.
   */
  constructor(
    readonly buf: DmaBuf,
    readonly nic: DmaDevice,
    bufSize = PAGE_SIZE,
    readonly rx?: { queues: NetRxQueues; queue: number },
  ) {
    if (rx) {
      if (rx.queues.nic !== nic)
        throw new TypeError(`rx queues belong to ${rx.queues.nic.name}, not ${nic.name}`);
      queueDoor.check(rx.queues, rx.queue, buf);
    }
    this.attachment = buf.attach(nic);
    try {
      this.buffers = netBuffersFromSegments(this.attachment.map("from-device"), bufSize);
    } catch (e) {
      this.attachment.detach();
      throw e;
    }
    if (rx) queueDoor.set(rx.queues, rx.queue, this);
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

  /** Unbinds: frees the queue, unmaps and detaches. O(ranges). */
  release(): void {
    if (this.unbound) return;
    this.unbound = true;
    if (this.rx && this.rx.queues.binding(this.rx.queue) === this)
      queueDoor.set(this.rx.queues, this.rx.queue, null);
    this.attachment.detach();
  }
}
