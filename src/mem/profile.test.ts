import { describe, expect, it } from "vitest";
import { GiB } from "../../test/kit/index.js";
import { MemError } from "../core/index.js";
import { hotAddMemory } from "./hotplug.js";
import { MachineMemory } from "./memory.js";

describe("architecture profile without ZONE_DEVICE (zoneDevice: false, as s390)", () => {
  it("refuses pgmaps and memory hot-add with typed errors, state unchanged", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }], zoneDevice: false });
    const digest = mem.digest();
    const err = (() => {
      try {
        mem.addPgmap({ type: "PCI_P2PDMA", start: 8 * GiB, size: 2 ** 21, provider: 1 });
      } catch (e) {
        return e as MemError;
      }
    })();
    expect(err).toBeInstanceOf(MemError);
    expect(err!.code).toBe("NO_ZONE_DEVICE");
    expect(err!.message).toMatch(
      /PCI_P2PDMA pgmap 0x200000000\+0x200000: this architecture has no ZONE_DEVICE/,
    );
    expect(() => hotAddMemory(mem, 4 * GiB, 2 ** 27)).toThrow(
      /0x100000000\+0x8000000: this architecture has no memory hotplug/,
    );
    expect(mem.pgmaps).toHaveLength(0);
    expect(mem.digest()).toBe(digest);
    mem.checkValid();
  });

  it("a spec with pmem is invalid without ZONE_DEVICE; the default profile accepts both", () => {
    const pmem = [{ start: 8 * GiB, size: 2 ** 27 }];
    expect(() => new MachineMemory({ nodes: [{ start: 0, size: GiB }], zoneDevice: false, pmem })).toThrow(
      /pmem is invalid: zoneDevice is false/,
    );
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }], pmem });
    expect(mem.pgmaps).toHaveLength(1);
    hotAddMemory(mem, 4 * GiB, 2 ** 27);
    mem.checkValid();
  });
});
