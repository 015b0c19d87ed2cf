import { describe, expect, it } from "vitest";
import { GiB, MiB } from "../../test/kit/index.js";
import { PinFailed } from "../core/index.js";
import { MachineMemory, Zone } from "../mem/index.js";
import { MappedFile } from "./file.js";
import { memfdPinFolios, pinFileRange } from "./memfd.js";
import { AddressSpace } from "./mm.js";
import { unpinPhyrs, unpinUserPageRange } from "./unpin.js";

describe("memfd_pin_folios (mm/gup.c): one FOLL_PIN per folio, long-term migration first", () => {
  it("a hugetlb memfd: one pin per 2 MiB folio, offset inside the first folio", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }], hugetlb: { pages2M: 3 } });
    const file = new MappedFile(mem, "guest", { hugetlb: "2M" });
    // Bytes 1 MiB .. 5 MiB - 1 touch folios 0, 1 and 2 of the file; offset 1 MiB into the first.
    const got = memfdPinFolios(file, MiB, 5 * MiB - 1);
    expect(got.folios.length).toBe(3);
    expect(got.offset).toBe(MiB);
    const f = mem.folios;
    for (const id of got.folios) expect([f.order[id], f.ref[id], f.pincount[id]]).toEqual([9, 2, 1]);
    mem.checkValid();
    for (const id of got.folios) unpinUserPageRange(new AddressSpace(mem), f.head[id], 1);
    mem.checkValid();
    expect(() => memfdPinFolios(file, 5 * MiB, MiB)).toThrow(RangeError);
    expect(() => memfdPinFolios(file, -1, 10)).toThrow(/-EINVAL/);
  });

  it("a shmem-like memfd of 4 KiB folios in ZONE_MOVABLE is migrated before the pin", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: 2 * GiB }], movable: 512 * MiB });
    const file = new MappedFile(mem, "shm");
    file.getPage(0, { zones: [Zone.MOVABLE] });
    const got = memfdPinFolios(file, 0, 4095);
    expect(mem.folios.zone[got.folios[0]]).not.toBe(Zone.MOVABLE);
    expect(file.cache.get(0)).toBe(got.folios[0]);
    mem.checkValid();
  });

  it("a 1 GiB hugetlb memfd in CMA with no pinnable pool page cannot be pinned; nothing changes", () => {
    const mem = new MachineMemory({
      nodes: [{ start: 0, size: 4 * GiB }],
      cma: 2 * GiB,
      hugetlb: { pages1G: 1, placement: "cma" },
    });
    const file = new MappedFile(mem, "vm", { hugetlb: "1G" });
    file.getPage(0);
    const d = mem.digest();
    expect(() => memfdPinFolios(file, 0, GiB - 1)).toThrow(PinFailed);
    expect(() => pinFileRange(file, 0, GiB)).toThrow(/1 GiB/);
    expect(mem.digest()).toBe(d);
  });

  it("the design's file range pin: one entry per contiguous run, one grab per folio", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }], hugetlb: { pages1G: 0, pages2M: 2 } });
    const file = new MappedFile(mem, "guest", { hugetlb: "2M" });
    const list = pinFileRange(file, 0, 4 * MiB);
    const f = mem.folios;
    const heads = [file.cache.get(0)!, file.cache.get(512)!].map((id) => f.head[id]);
    const adjacent = heads[1] === heads[0] + 512;
    expect(list.nents).toBe(adjacent ? 1 : 2);
    expect(list.totalBytes).toBe(4 * MiB);
    for (const id of file.cache.values()) expect(f.pincount[id]).toBe(512);
    unpinPhyrs(new AddressSpace(mem), list);
    for (const id of file.cache.values()) expect(f.ref[id]).toBe(1);
    mem.checkValid();
    expect(() => pinFileRange(file, 100, 4096)).toThrow(/whole pages/);
  });

  it("mmap of a hugetlb memfd maps 4 KiB leaves at the right frames of the large folio", () => {
    const mem = new MachineMemory({ nodes: [{ start: 0, size: GiB }], hugetlb: { pages2M: 1 } });
    const file = new MappedFile(mem, "guest", { hugetlb: "2M" });
    const mm = new AddressSpace(mem);
    const v = mm.mmap({ kind: "file", file, len: 2 * MiB });
    mm.populate(v.start, 2 * MiB, true);
    const id = file.cache.get(0)!;
    mm.pt.lookup(v.start + 5 * 4096);
    expect(Math.floor(mm.pt.lookup(v.start + 5 * 4096) / 64)).toBe(mem.folios.head[id] + 5);
    expect(mem.folios.mapcount[id]).toBe(512);
    mem.checkValid();
    mm.checkValid();
  });
});
