/**
 * Fuzzing every parser (iomem, maps, smaps, pagemap bytes and files, kpageflags extract and file,
 * PCI sysfs attributes and resource files, iommu_group links, status, snapshots): random bytes,
 * truncations, huge numbers, zero addresses, odd-length pagemaps. Each input must give a result or
 * a RangeError / ParseError naming the file and a line within the input, never another exception.
 * Every property is seeded. Memory stays bounded by the readers' size limits ("huge numbers and size limits").
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { ParseError } from "../core/index.js";
import { PageRuns, RunFlag } from "../machine/index.js";
import { readText } from "./io.js";
import { parseIomem } from "./iomem.js";
import { classifyRuns, openKpageflags, parseKpageflagsExtract, readKpageflags } from "./kpageflags.js";
import { parseMaps, parseSmaps } from "./maps.js";
import { pagemapRunsFromBytes, readPagemapRuns } from "./pagemap.js";
import { parsePciResource, readPciDevices } from "./pci.js";
import { readCapSysAdmin } from "./processes.js";
import { loadSnapshot } from "./snapshot-read.js";
import { capture } from "./snapshot-write.js";

const fx = (p: string) => fileURLToPath(new URL(`./fixtures/${p}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "phyr-fuzz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs `fn`; any exception must be a RangeError or a ParseError that names a path (containing
 * `pathPart` when given) and a line within the input (`maxLine`, when given; 0 = not line-based).
 */
function allowed(fn: () => unknown, maxLine?: number, pathPart?: string): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof RangeError) return;
    if (!(e instanceof ParseError)) throw e;
    expect(e.path.length).toBeGreaterThan(0);
    if (pathPart !== undefined) expect(e.path).toContain(pathPart);
    expect(Number.isInteger(e.line) && e.line >= 0).toBe(true);
    if (maxLine !== undefined) expect(e.line).toBeLessThanOrEqual(maxLine);
  }
}

/** Lines a text parser may name: one per newline plus a final unterminated line. */
const lineCount = (t: string) => t.split("\n").length;

const hexNum = fc.oneof(
  fc.constant("0"),
  fc.constant("ffffffffffffffff"),
  fc.constant("10000000000000"),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((b) => b.toString(16)),
);
const samples = {
  iomem: readFileSync(fx("vm-root/proc/iomem"), "utf8"),
  maps: readFileSync(fx("vm-root/proc/9803/maps"), "utf8"),
  smaps: readFileSync(fx("vm-root/proc/9803/smaps"), "utf8").slice(0, 6000),
  resource: readFileSync(fx("vm-root/sys/devices/pci0000:00/0000:00:01.0/resource"), "utf8"),
  extract: readFileSync(fx("vm-root/kpageflags.extract"), "utf8"),
};
const parsers: [string, (t: string) => unknown, string][] = [
  ["parseIomem", (t) => parseIomem(t, "iomem"), samples.iomem],
  ["parseMaps", (t) => parseMaps(t, "maps"), samples.maps],
  ["parseSmaps", (t) => parseSmaps(t, "smaps"), samples.smaps],
  ["parsePciResource", (t) => parsePciResource(t, "resource"), samples.resource],
  [
    "parseKpageflagsExtract",
    (t) => parseKpageflagsExtract(t, "x").read(0x3b34, 1, new Uint32Array(2)),
    samples.extract,
  ],
];

describe.each(parsers)("%s under fuzzing", (_name, parse, sample) => {
  it("random text and bytes give a result or a ParseError/RangeError", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString("latin1")),
        ),
        (t) => allowed(() => parse(t), lineCount(t)),
      ),
      fcRuns(300),
    );
  });

  it("truncations and line edits of the real file (huge and zero numbers spliced in)", () => {
    fc.assert(
      fc.property(fc.nat(sample.length), fc.nat(200), hexNum, fc.boolean(), (cut, lineIdx, num, splice) => {
        let t = sample.slice(0, cut);
        if (splice) {
          const lines = sample.split("\n");
          const i = lineIdx % lines.length;
          lines[i] = lines[i].replace(/[0-9a-f]{4,}/, num);
          t = lines.join("\n");
        }
        allowed(() => parse(t), lineCount(t));
      }),
      fcRuns(300),
    );
  });

  it("rejects bad lines with the path and a line number", () => {
    const e = (() => {
      try {
        parse(`${sample.split("\n")[0]}\n%%garbage%%\n`);
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(ParseError);
    expect((e as ParseError).line).toBe(2);
  });
});

describe("pagemap bytes under fuzzing", () => {
  it("odd lengths and random words give runs or a ParseError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(1000), (b, page) => {
        allowed(() => pagemapRunsFromBytes(b, page * 4096).checkValid());
      }),
      fcRuns(400),
    );
  });
});

describe("pagemap and kpageflags files under fuzzing", () => {
  it("readPagemapRuns() on files of any length and content: runs, or a ParseError naming the file", () => {
    const pm = join(dir, "42", "pagemap");
    mkdirSync(join(dir, "42"), { recursive: true });
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.nat(80),
        fc.integer({ min: 1, max: 80 }),
        fc.integer({ min: 1, max: 9 }),
        (b, first, pages, batch) => {
          writeFileSync(pm, b);
          allowed(
            () =>
              readPagemapRuns(42, first * 4096, (first + pages) * 4096, {
                procRoot: dir,
                batchEntries: batch,
              }).checkValid(),
            0,
            "42/pagemap",
          );
        },
      ),
      fcRuns(150),
    );
  });

  it("readKpageflags() and classifyRuns() on kpageflags files of any length and content", () => {
    const kpf = join(dir, "kpf");
    mkdirSync(kpf, { recursive: true });
    const runArb = fc.array(
      fc.record({ pfn: fc.integer({ min: 1, max: 90 }), n: fc.integer({ min: 1, max: 20 }) }),
      {
        maxLength: 6,
      },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 800 }), runArb, (b, rs) => {
        writeFileSync(join(kpf, "kpageflags"), b);
        const runs = new PageRuns(0, 256 * 4096);
        let va = 0;
        for (const r of rs) {
          runs.push(va, r.pfn, r.n, RunFlag.PRESENT);
          runs.presentPages += r.n;
          va += (r.n + 1) * 4096;
        }
        runs.unmappedPages = 256 - runs.presentPages;
        const src = openKpageflags({ procRoot: kpf });
        try {
          allowed(
            () => {
              const out = classifyRuns(runs, src);
              out.checkValid();
              expect(out.presentPages).toBe(runs.presentPages);
              readKpageflags(
                rs.map((r) => r.pfn),
                src,
              );
            },
            0,
            "kpf/kpageflags",
          );
        } finally {
          src.close();
        }
      }),
      fcRuns(150),
    );
  });
});

describe("PCI sysfs files and process status under fuzzing", () => {
  const sys = join(dir, "sys");
  const real = join(sys, "devices/pci0000:00/0000:00:02.0");
  mkdirSync(real, { recursive: true });
  mkdirSync(join(sys, "bus/pci/devices"), { recursive: true });
  symlinkSync("../../../devices/pci0000:00/0000:00:02.0", join(sys, "bus/pci/devices/0000:00:02.0"));
  const good = {
    vendor: "0x1af4\n",
    device: "0x1041\n",
    class: "0x020000\n",
    resource: samples.resource,
  };
  const attr = fc.oneof(
    fc.string({ maxLength: 40 }),
    hexNum.map((h) => `0x${h}\n`),
    fc.constantFrom("", "0x", "0x0\n", "0xffffffff\n", "0x1af4"),
  );

  it("vendor, device, class, resource and iommu_group: devices, or a ParseError naming the file", () => {
    for (const [k, v] of Object.entries(good)) writeFileSync(join(real, k), v);
    fc.assert(
      fc.property(
        fc.constantFrom("vendor", "device", "class", "resource", "iommu_group"),
        attr,
        fc.nat(samples.resource.length),
        (file, text, cut) => {
          // Corrupt one file (or the group link), read, put it back.
          if (file === "iommu_group")
            symlinkSync(`../../../kernel/iommu_groups/${text.replace(/[/\0]/g, "")}`, join(real, file));
          else
            writeFileSync(
              join(real, file),
              file === "resource" && cut % 2 === 0 ? samples.resource.slice(0, cut) : text,
            );
          try {
            allowed(() => readPciDevices({ sysRoot: sys }), 64, file);
          } finally {
            if (file === "iommu_group") rmSync(join(real, file));
            else writeFileSync(join(real, file), good[file]);
          }
        },
      ),
      fcRuns(100),
    );
    expect(readPciDevices({ sysRoot: sys })[0]).toMatchObject({
      vendor: 0x1af4,
      class: 0x020000,
      iommuGroup: -1,
    });
  });

  it("status (CapEff): true, false, undefined or a ParseError naming the line", () => {
    const status = readFileSync(fx("vm-root/proc/9803/status"), "utf8");
    mkdirSync(join(dir, "proc", "7"), { recursive: true });
    fc.assert(
      fc.property(fc.nat(status.length), fc.string({ maxLength: 30 }), (cut, junk) => {
        const t = status.slice(0, cut) + junk;
        writeFileSync(join(dir, "proc", "7", "status"), t);
        allowed(() => readCapSysAdmin(7, { procRoot: join(dir, "proc") }), lineCount(t), "7/status");
      }),
      fcRuns(120),
    );
  });
});

describe("huge numbers and size limits", () => {
  it("smaps counters at or above 2^52 bytes are rejected with the line", () => {
    const head = "00100000-00140000 rw-p 00000000 00:00 0 \n";
    expect(parseSmaps(`${head}Rss:   4398046511103 kB\n`)[0].rss).toBe(4398046511103 * 1024);
    for (const n of ["4398046511104", "99999999999999999999999"]) {
      expect(() => parseSmaps(`${head}Size:  256 kB\nRss:   ${n} kB\n`, "s")).toThrow(
        /^s:3: Rss .* kB is at or above 2\^52 bytes$/,
      );
    }
  });

  it("a text file past the size limit is refused while reading (procfs reports size 0)", () => {
    const p = join(dir, "big");
    writeFileSync(p, "x".repeat(70_000));
    expect(() => readText(p, 65_536)).toThrow(/big: file is larger than the limit of 65536 bytes/);
    expect(readText(p, 70_000).length).toBe(70_000);
  });
});

describe("loadSnapshot() under fuzzing", () => {
  it("random bytes, truncations and byte flips give a source or a ParseError", async () => {
    const good = join(dir, "good.jsonl");
    await capture({ procRoot: fx("vm-root/proc"), sysRoot: fx("vm-root/sys"), out: good, capturedAt: "x" });
    const text = readFileSync(good);
    let i = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.nat(text.length),
        fc.nat(text.length),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.nat(3),
        async (cut, pos, byte, junk, mode) => {
          let data: Uint8Array;
          if (mode === 0) data = text.subarray(0, cut);
          else if (mode === 1) {
            data = Buffer.from(text);
            data[pos % data.length] = byte;
          } else if (mode === 2) data = junk;
          else data = Buffer.concat([text.subarray(0, cut), junk]);
          const p = join(dir, `f${i++}.jsonl`);
          writeFileSync(p, data);
          try {
            const s = await loadSnapshot(p, { maxLineBytes: 1 << 20 });
            expect(s.processes().length).toBeLessThanOrEqual(1);
          } catch (e) {
            if (!(e instanceof ParseError)) throw e;
            // The error names the file and the record (and the field, when one is at fault).
            expect(e.path).toMatch(new RegExp(`^f${i - 1}\\.jsonl(:\\d+)?`));
          }
        },
      ),
      fcRuns(120),
    );
  });
});
