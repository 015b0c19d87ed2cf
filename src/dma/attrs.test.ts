/**
 * DMA attributes are refused outside the bits the model understands, including values above 32
 * bits, whose low 32 bits a bit test alone would read as 0 (2**32 used to be accepted).
 */
import { describe, expect, it } from "vitest";
import { MachineMemory } from "../mem/index.js";
import { PhyrList } from "../phyr/index.js";
import { dmaMap } from "./map.js";
import { DmaSystem } from "./system.js";
import { checkAttrs, DMA_ATTR_MASK, DmaAttr } from "./types.js";

describe("attrs checks", () => {
  it.each([2 ** 32, 2 ** 32 + DmaAttr.MMIO, 2 ** 40, 2 ** 53, -1, 0.5, Number.NaN, DMA_ATTR_MASK + 1])(
    "checkAttrs(%s) is a RangeError naming attrs",
    (attrs) => {
      expect(() => checkAttrs(attrs)).toThrow(RangeError);
      expect(() => checkAttrs(attrs)).toThrow(/^attrs .* is invalid: expected bits of DmaAttr/);
    },
  );

  it("accepts every combination of the known bits", () => {
    for (const a of [0, DmaAttr.SKIP_CPU_SYNC, DmaAttr.MMIO, DMA_ATTR_MASK])
      expect(() => checkAttrs(a)).not.toThrow();
  });

  it("dmaMap(..., attrs = 2**32) is refused and maps nothing", () => {
    const sys = new DmaSystem({ memory: new MachineMemory({ nodes: [{ start: 0, size: 2 ** 30 }] }) });
    const dev = sys.addDevice({ name: "0000:01:00.0" });
    const list = PhyrList.fromRanges([{ addr: 0x10000, len: 0x3000 }], { store: "wide" });
    expect(() => dmaMap(sys, dev, list, "to-device", 2 ** 32)).toThrow(/^attrs 4294967296 is invalid/);
    expect(dev.liveMappings).toBe(0);
    sys.debug.checkNoLeaks();
  });
});
