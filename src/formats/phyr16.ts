/**
 * `phyr16`: struct phys_vec { phys_addr_t paddr; size_t len; } (include/linux/types.h), the 16-byte
 * phyr of Matthew Wilcox's "Phyr Starter" (docs/design.md): one per entry, byte-exact, no flags or
 * providers, no header. Layout: n x (u64 paddr, u64 len), little-endian.
 */
import { ADDR_LIMIT } from "../core/index.js";
import { PhyrList, type PhyrRead } from "../phyr/index.js";
import { appendDecoded, type Format } from "./format.js";
import { ByteReader, ByteWriter } from "./wire.js";

/** sizeof(struct phys_vec). */
export const PHYS_VEC_BYTES = 16;

/** The phys_vec array. bytesFor O(1); encode/decode O(n). */
export const phyr16Format: Format = {
  name: "phyr16",
  kernelSource: "include/linux/types.h (struct phys_vec)",
  holds: { flags: false, provider: false, byteGranular: true },
  bytesFor(list: PhyrRead): number {
    return PHYS_VEC_BYTES * list.nents;
  },
  encode(list: PhyrRead): Uint8Array {
    const w = new ByteWriter(this.bytesFor(list), this.name);
    list.forEachEntry((addr, len) => {
      w.u64(addr);
      w.u64(len);
    });
    return w.finish(this.name);
  },
  decode(bytes: Uint8Array): PhyrList {
    const r = new ByteReader(this.name, bytes);
    if (bytes.length % PHYS_VEC_BYTES !== 0) {
      throw r.error(`length ${bytes.length} is not a multiple of ${PHYS_VEC_BYTES}`, bytes.length);
    }
    const list = new PhyrList({ store: "wide" });
    while (r.remaining > 0) {
      const at = r.pos;
      const addr = r.u64("paddr");
      const len = r.u64("len", ADDR_LIMIT + 1);
      appendDecoded(list, r, at, addr, len);
    }
    return list;
  },
};
