/**
 * Fuzzing every parser: random bytes, truncations, huge numbers, zero addresses, odd-length
 * pagemaps. Each input must give a result or a ParseError/RangeError, never another exception.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { ParseError } from "../core/index.js";
import { parseIomem } from "./iomem.js";
import { parseKpageflagsExtract } from "./kpageflags.js";
import { parseMaps, parseSmaps } from "./maps.js";
import { pagemapRunsFromBytes } from "./pagemap.js";
import { parsePciResource } from "./pci.js";
import { loadSnapshot } from "./snapshot-read.js";
import { capture } from "./snapshot-write.js";

const fx = (p: string) => fileURLToPath(new URL(`./fixtures/${p}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "phyr-fuzz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function allowed(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof ParseError) && !(e instanceof RangeError)) throw e;
  }
}

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
        (t) => allowed(() => parse(t)),
      ),
      { seed: 42, numRuns: 300 },
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
        allowed(() => parse(t));
      }),
      { seed: 42, numRuns: 300 },
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
      { seed: 42, numRuns: 400 },
    );
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
          }
        },
      ),
      { seed: 42, numRuns: 120 },
    );
  });
});
