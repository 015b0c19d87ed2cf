import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadLabRecord } from "./record.js";
import { ioCommandLines } from "./run.js";
import { countTrace, deviceCommands, formatBytes, formatSizes } from "./summary.js";

const FIXTURES = resolve(import.meta.dirname, "fixtures");

describe("countTrace", () => {
  it("counts a committed 7.2 hugetlb record: 48 requests of 128 KiB, each one 128 KiB iommu_map", () => {
    // The record's ops: 2 MiB write + read and 1 MiB write + read = 6 MiB in 128 KiB requests (the
    // dma_opt_mapping_size cap behind VT-d): 48 requests, one 128 KiB iommu_map each.
    const c = countTrace(loadLabRecord(join(FIXTURES, "nvme-hugetlb.json")));
    expect(c.requests).toBe(48);
    expect([...c.iommuMapBySize]).toEqual([[128 * 1024, 48]]);
    expect(c.bounces).toBe(0);
    expect(c.markers).toBe(4);
  });
});

describe("QEMU's NVMe trace", () => {
  const raw = [
    "pci_nvme_io_cmd cid 1 nsid 0x0 sqid 0 opc 0x6 opname 'NVME_ADM_CMD_IDENTIFY'",
    "pci_nvme_map_prp trans_len 4096 len 4096 prp1 0x1000 prp2 0x0 num_prps 2",
    "pci_nvme_io_cmd cid 963 nsid 0x1 sqid 1 opc 0x1 opname 'NVME_NVM_CMD_WRITE'",
    "pci_nvme_map_sgl type 0x0 len 524288",
    "pci_nvme_io_cmd cid 967 nsid 0x1 sqid 1 opc 0x2 opname 'NVME_NVM_CMD_READ'",
    "pci_nvme_map_prp trans_len 4096 len 262144 prp1 0x175c5000 prp2 0x4604000 num_prps 65",
    "pci_nvme_io_cmd cid 968 nsid 0x1 sqid 1 opc 0x0 opname 'NVME_NVM_CMD_FLUSH'",
    "",
  ].join("\n");

  it("ioCommandLines keeps I/O queue commands and their data-pointer line, not admin ones", () => {
    expect(ioCommandLines(raw).split("\n").filter(Boolean)).toEqual(raw.split("\n").slice(2, 7));
  });

  it("deviceCommands reads each command's direction, PRP or SGL and length", () => {
    const r = { ...loadLabRecord(join(FIXTURES, "nvme-hugetlb.json")), deviceTrace: ioCommandLines(raw) };
    expect(deviceCommands(r)).toEqual([
      { dir: "write", pointer: "sgl", bytes: 524288 },
      { dir: "read", pointer: "prp", bytes: 262144 },
      { dir: "other", pointer: null, bytes: 0 },
    ]);
  });
});

describe("formatSizes", () => {
  it("prints counts by size, smallest first, and says none for an empty histogram", () => {
    expect(
      formatSizes(
        new Map([
          [131072, 16],
          [4096, 256],
        ]),
      ),
    ).toBe("256x4 KiB, 16x128 KiB");
    expect(formatSizes(new Map())).toBe("none");
    expect(formatBytes(135168)).toBe("132 KiB");
    expect(formatBytes(1000)).toBe("1000 B");
  });
});
