/**
 * devmem TCP packet placement arithmetic (net/core/devmem.c net_devmem_bind_dmabuf,
 * net/core/page_pool.c page_pool_alloc_frag): a dma-buf split into net buffers (net_iov) and TCP
 * payloads placed into them by the NIC's header split.
 *
 * Net buffers: each dma-buf segment of the binding becomes a pool chunk of floor(len / bufSize)
 * buffers (the kernel uses PAGE_SIZE; the tail below one buffer is unusable). Payload per packet =
 * MTU - 20 (IPv4) - 20 (TCP) - 12 (timestamp option). Two placement policies:
 * - "buffer-per-packet": every packet starts a fresh buffer and spans ceil(payload / bufSize) of them
 *   (multi-buffer receive for jumbo frames);
 * - "packed": page_pool fragments: each packet takes a fragment of roundUp(payload, fragAlign) bytes
 *   at the next free offset of the current buffer, or starts a new buffer when it does not fit
 *   (payloads larger than a buffer span buffers as above).
 */
import { alignUp, checkCount, checkLen, hex, isPow2, PAGE_SIZE } from "../core/index.js";
import type { PhyrRead } from "../phyr/index.js";

/** IPv4 (20) + TCP (20) + timestamps option (12) bytes of header per packet. */
export const TCP_IPV4_HEADER_BYTES = 52;

/** The net buffers carved out of a dma-buf: one row per buffer. */
export interface NetBuffers {
  /** Buffer size in bytes. */
  bufSize: number;
  /** Number of buffers. */
  count: number;
  /** DMA (or physical) address of each buffer. */
  addr: Float64Array;
  /** Byte offset of each buffer inside the dma-buf. */
  offset: Float64Array;
  /** Bytes of the dma-buf left unusable (segment tails below one buffer). */
  unusableBytes: number;
}

/**
 * Splits a dma-buf's segments into net buffers (net_devmem_bind_dmabuf: one gen_pool chunk per
 * segment, floor(len / bufSize) net_iovs each). O(buffers).
 * @param segs the mapped segments of the dma-buf, in dma-buf byte order.
 * @param bufSize net buffer size, a power of two >= 4096 (PAGE_SIZE; 64 KiB for exporters that
 *   manage 64 KiB pages).
 * @throws RangeError for a bad size or segments not aligned to it.
 */
export function netBuffersFromSegments(segs: PhyrRead, bufSize = PAGE_SIZE): NetBuffers {
  if (!isPow2(bufSize) || bufSize < PAGE_SIZE)
    throw new RangeError(`net buffer size ${String(bufSize)} is invalid: expected a power of two >= 4096`);
  let count = 0;
  for (const c = segs.cursor(); !c.done; c.nextEntry()) {
    if (c.entryAddr % bufSize !== 0) {
      throw new RangeError(
        `dma-buf segment ${hex(c.entryAddr)}+${hex(c.entryLen)} is invalid: not aligned to the ${hex(bufSize)} net buffer size`,
      );
    }
    count += Math.floor(c.entryLen / bufSize);
  }
  const addr = new Float64Array(count);
  const offset = new Float64Array(count);
  let i = 0;
  let pos = 0;
  let unusable = 0;
  for (const c = segs.cursor(); !c.done; c.nextEntry()) {
    const n = Math.floor(c.entryLen / bufSize);
    for (let k = 0; k < n; k++, i++) {
      addr[i] = c.entryAddr + k * bufSize;
      offset[i] = pos + k * bufSize;
    }
    unusable += c.entryLen - n * bufSize;
    pos += c.entryLen;
  }
  return { bufSize, count, addr, offset, unusableBytes: unusable };
}

/** Options of {@link devmemPlace}. */
export interface PlaceOptions {
  /** Link MTU (576..65535). */
  mtu: number;
  /** Net buffer size (power of two >= 4096). */
  bufSize: number;
  /** Placement policy; default "buffer-per-packet". */
  policy?: "buffer-per-packet" | "packed";
  /** Fragment alignment for "packed" (a power of two); default 64 (a cache line). */
  fragAlign?: number;
}

/** Where every packet's payload landed and the buffer accounting. */
export interface Placement {
  /** TCP payload bytes per full packet. */
  payloadPerPacket: number;
  packets: number;
  /** Buffers touched. */
  buffersUsed: number;
  /** Payload bytes (the stream length). */
  payloadBytes: number;
  /** buffersUsed * bufSize. */
  bufferBytes: number;
  /** bufferBytes - payloadBytes. */
  wasteBytes: number;
  /** Per piece (a packet spanning buffers has several): packet index, buffer index, offset in buffer, length. */
  pieces: { packet: Uint32Array; buffer: Uint32Array; offset: Uint32Array; len: Uint32Array; count: number };
}

/**
 * Places a TCP stream of `streamBytes` into net buffers by the policy. O(pieces).
 * @throws RangeError for a bad MTU, size, alignment or stream length.
 */
export function devmemPlace(streamBytes: number, o: PlaceOptions): Placement {
  checkLen("stream length", streamBytes);
  checkCount("mtu", o.mtu, 65535);
  if (o.mtu < 576) throw new RangeError(`mtu ${o.mtu} is invalid: expected 576..65535`);
  if (!isPow2(o.bufSize) || o.bufSize < PAGE_SIZE || o.bufSize > 2 ** 30)
    throw new RangeError(
      `net buffer size ${String(o.bufSize)} is invalid: expected a power of two in 4096..2^30`,
    );
  const align = o.fragAlign ?? 64;
  if (!isPow2(align) || align > o.bufSize)
    throw new RangeError(`fragAlign ${String(align)} is invalid: expected a power of two <= the buffer size`);
  const policy = o.policy ?? "buffer-per-packet";
  if (policy !== "buffer-per-packet" && policy !== "packed")
    throw new TypeError(`policy ${JSON.stringify(policy)} is invalid`);
  const ppp = o.mtu - TCP_IPV4_HEADER_BYTES;
  const packets = Math.ceil(streamBytes / ppp);
  const maxPieces = packets * Math.ceil(ppp / o.bufSize) + 1;
  const pieces = {
    packet: new Uint32Array(maxPieces),
    buffer: new Uint32Array(maxPieces),
    offset: new Uint32Array(maxPieces),
    len: new Uint32Array(maxPieces),
    count: 0,
  };
  let buf = -1; // current buffer
  let used = o.bufSize; // bytes taken in the current buffer (full: forces a new one)
  let left = streamBytes;
  for (let p = 0; p < packets; p++) {
    const len = Math.min(ppp, left);
    left -= len;
    const frag = alignUp(len, align);
    if (policy === "packed" && frag <= o.bufSize && used + frag <= o.bufSize) {
      add(pieces, p, buf, used, len);
      used += frag;
      continue;
    }
    // Fresh buffer(s).
    let rest = len;
    while (rest > 0) {
      buf++;
      const l = Math.min(rest, o.bufSize);
      add(pieces, p, buf, 0, l);
      rest -= l;
      used = policy === "packed" ? alignUp(l, align) : o.bufSize;
    }
  }
  const buffersUsed = buf + 1;
  return {
    payloadPerPacket: ppp,
    packets,
    buffersUsed,
    payloadBytes: streamBytes,
    bufferBytes: buffersUsed * o.bufSize,
    wasteBytes: buffersUsed * o.bufSize - streamBytes,
    pieces,
  };
}

function add(pc: Placement["pieces"], packet: number, buffer: number, offset: number, len: number): void {
  const i = pc.count++;
  pc.packet[i] = packet;
  pc.buffer[i] = buffer;
  pc.offset[i] = offset;
  pc.len[i] = len;
}
