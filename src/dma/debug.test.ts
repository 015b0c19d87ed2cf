import { describe, expect, it } from "vitest";
import { DmaApiError } from "../core/index.js";
import { DmaDebug, type DmaDebugEntry } from "./debug.js";
import type { DmaDirection } from "./types.js";

const entry = (dmaAddr: number, size: number, dir: DmaDirection): DmaDebugEntry => ({
  device: "0000:01:00.0",
  type: "phys",
  dmaAddr,
  size,
  dir,
  phys: dmaAddr,
  ranges: Float64Array.of(dmaAddr, size),
});

describe("DmaDebug.checkAccess", () => {
  // Three mappings: [0x1000, 0x3000) bidirectional, [0x3000, 0x4000) to-device (device may only
  // read), and [0x8000, 0x9000) bidirectional after a hole.
  const debug = new DmaDebug(true);
  const a = entry(0x1000, 0x2000, "bidirectional");
  const b = entry(0x3000, 0x1000, "to-device");
  const c = entry(0x8000, 0x1000, "bidirectional");
  debug.add({}, a);
  debug.add({}, b);
  debug.add({}, c);
  const dev = "0000:01:00.0";

  it.each([
    // [dma, len, write, entry holding the first byte]
    [0x1000, 0x2000, true, a], // exactly one mapping
    [0x2800, 0x1000, false, a], // a read across two abutting mappings
    [0x8000, 0x1000, true, c],
  ])("allows %s+%s (write %s)", (dma, len, write, want) => {
    expect(debug.checkAccess(dev, dma, len, write)).toBe(want);
  });

  it.each([
    [0x2800, 0x1000, true], // the second half is to-device: the device may not write it
    [0x3800, 0x1000, false], // runs into the hole at 0x4000
    [0x0, 0x1000, false], // never mapped
    [0x1000, 0x1000, false, "0000:02:00.0"], // another device's mapping
  ])("refuses %s+%s (write %s) and logs it", (dma, len, write, device = dev) => {
    const before = debug.violations.length;
    expect(() => debug.checkAccess(device as string, dma, len, write)).toThrow(DmaApiError);
    expect(debug.violations.length).toBe(before + 1);
    expect(debug.violations.at(-1)?.code).toBe("DMA_ACCESS_UNMAPPED");
  });
});
