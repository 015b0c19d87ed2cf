import { describe, expect, it } from "vitest";
import { initUptime, parseKeyValues, parsePci, parseWorkload, splitSections, tail } from "./guest-output.js";

describe("splitSections", () => {
  it("returns each begin/end section and the done flag", () => {
    const out = splitSections(
      [
        "noise before",
        "=====phyr-lab begin release",
        "7.2.13+deb14-amd64",
        "=====phyr-lab end release",
        "=====phyr-lab begin empty",
        "=====phyr-lab end empty",
        "=====phyr-lab done",
      ].join("\r\n"),
    );
    expect([...out.sections]).toEqual([
      ["release", "7.2.13+deb14-amd64\n"],
      ["empty", ""],
    ]);
    expect(out.done).toBe(true);
    expect(out.failed).toBeNull();
  });

  it("reports the guest's own failure line and leaves an unclosed section out", () => {
    const out = splitSections("=====phyr-lab begin trace\npartial\n=====phyr-lab failed insmod nvme.ko\n");
    expect(out.done).toBe(false);
    expect(out.failed).toBe("insmod nvme.ko");
    expect(out.sections.has("trace")).toBe(false);
  });
});

describe("parseWorkload", () => {
  it("reads BUF, RUN and OP lines (hex numbers) into buffers with runs and ops", () => {
    const text = [
      "BUF\t1\thugetlb\t7f1dc2000000\t200000",
      "RUN\t1\t7f1dc2000000\t15e00\t200\thugetlb",
      "OP\t0\t1\t200\t1000\twrite\t400000\tphyr-lab op 0\t4096",
      "OP\t1\t1\t0\t1000\tread\t0\tphyr-lab op 1\t-5",
      "",
    ].join("\n");
    expect(parseWorkload(text)).toEqual({
      buffers: [
        {
          id: 1,
          backing: "hugetlb",
          va: "0x7f1dc2000000",
          length: 0x200000,
          runs: [{ va: "0x7f1dc2000000", pfn: "0x15e00", pages: 0x200, kind: "hugetlb" }],
        },
      ],
      ops: [
        {
          index: 0,
          buffer: 1,
          offset: 0x200,
          length: 0x1000,
          dir: "write",
          devOffset: 0x400000,
          marker: "phyr-lab op 0",
          result: 4096,
        },
        {
          index: 1,
          buffer: 1,
          offset: 0,
          length: 0x1000,
          dir: "read",
          devOffset: 0,
          marker: "phyr-lab op 1",
          result: -5,
        },
      ],
    });
  });

  it("throws a SyntaxError for a run of an unknown buffer or a stray line", () => {
    expect(() => parseWorkload("RUN\t3\t1000\t10\t1\tbase\n")).toThrow(/RUN for unknown buffer 3/);
    expect(() => parseWorkload("workload: mmap hugetlb: Cannot allocate memory\n")).toThrow(SyntaxError);
  });
});

describe("parseKeyValues", () => {
  it("turns decimal integers into numbers only when asked, keeps other text", () => {
    const text =
      "max_segments=33\nmax_segment_size=4294967295\nscheduler=none [mq-deadline]\nio_poll_delay=-1\n";
    expect(parseKeyValues(text, true)).toEqual({
      max_segments: 33,
      max_segment_size: 4294967295,
      scheduler: "none [mq-deadline]",
      io_poll_delay: -1,
    });
    expect(parseKeyValues(text).max_segments).toBe("33");
  });

  it("a __proto__ key is an own property, not the prototype", () => {
    const kv = parseKeyValues("__proto__=x\n");
    expect(Object.getPrototypeOf(kv)).toBe(Object.prototype);
    expect(Object.hasOwn(kv, "__proto__")).toBe(true);
  });
});

describe("parsePci", () => {
  it("reads fn= lines and their resource lines as hex strings", () => {
    const text = [
      "fn=0000:00:01.0 vendor=0x1b36 device=0x0010 class=0x010802 iommu_group=1 driver=nvme path=/sys/devices/pci0000:00/0000:00:01.0",
      "res=0x00000000febf8000 0x00000000febfbfff 0x0000000000140204",
      "res=0x0000000000000000 0x0000000000000000 0x0000000000000000",
      "fn=0000:00:00.0 vendor=0x8086 device=0x29c0 class=0x060000 iommu_group= driver= path=/sys/devices/pci0000:00/0000:00:00.0",
    ].join("\n");
    const pci = parsePci(text);
    expect(pci[0]).toEqual({
      bdf: "0000:00:01.0",
      vendor: "0x1b36",
      device: "0x10",
      class: "0x10802",
      iommuGroup: 1,
      driver: "nvme",
      path: "/sys/devices/pci0000:00/0000:00:01.0",
      resources: [
        { start: "0xfebf8000", end: "0xfebfbfff", flags: "0x140204" },
        { start: "0x0", end: "0x0", flags: "0x0" },
      ],
    });
    expect(pci[1].iommuGroup).toBe(-1);
  });
});

describe("initUptime and tail", () => {
  it("reads /proc/uptime's first field, null when empty", () => {
    expect(initUptime("4.97\n")).toBe(4.97);
    expect(initUptime("")).toBeNull();
    expect(initUptime("x")).toBeNull();
  });

  it("tail keeps the last lines without carriage returns", () => {
    expect(tail("a\r\nb\r\nc", 2)).toBe("b\nc");
  });
});
