import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fcRuns } from "../../test/kit/index.js";
import { analyzeBuffer } from "./buffer.js";
import {
  base64Decode,
  base64Encode,
  decodeRunMap,
  encodeRunMap,
  portableBase64Decode,
  portableBase64Encode,
  RUN_KIND_MIXED,
  RUN_MAP_BYTES_PER_RUN,
} from "./run-map.js";
import type { RunsInput } from "./types.js";

const runsOf = (rows: [number, number, number, number][]): RunsInput => ({
  count: rows.length,
  va: rows.map((r) => r[0]),
  pfn: rows.map((r) => r[1]),
  npages: rows.map((r) => r[2]),
  kind: rows.map((r) => r[3]),
});

/** Random runs in VA order, tiny gaps and frame numbers so merges happen; kinds 1..4. */
const runsArb = fc
  .array(
    fc.tuple(
      fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 0, max: 64 }),
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 4 }),
    ),
    { maxLength: 40 },
  )
  .map((rows) => {
    let va = 0x7f0000000000;
    return runsOf(
      rows.map(([gap, pfn, n, kind]) => {
        va += gap * 4096;
        const r: [number, number, number, number] = [va, pfn, n, kind];
        va += n * 4096;
        return r;
      }),
    );
  });

/** Naive model: every page as (va, pfn, kind), merged page by page. */
function naiveRuns(r: RunsInput): { va: number; pfn: number; pages: number; kinds: Set<number> }[] {
  const out: { va: number; pfn: number; pages: number; kinds: Set<number> }[] = [];
  for (let i = 0; i < r.count; i++)
    for (let k = 0; k < r.npages[i]; k++) {
      const va = r.va[i] + k * 4096;
      const pfn = r.pfn[i] + k;
      const last = out[out.length - 1];
      if (last && va === last.va + last.pages * 4096 && pfn === last.pfn + last.pages) {
        last.pages++;
        last.kinds.add(r.kind?.[i] ?? 0);
      } else out.push({ va, pfn, pages: 1, kinds: new Set([r.kind?.[i] ?? 0]) });
    }
  return out;
}

describe("run map", () => {
  it("both encoders match the standard alphabet and padding (RFC 4648 test vectors)", () => {
    for (const encode of [base64Encode, portableBase64Encode]) {
      const enc = (s: string) => encode(new TextEncoder().encode(s));
      expect(["", "f", "fo", "foo", "foob", "fooba", "foobar"].map(enc)).toEqual([
        "",
        "Zg==",
        "Zm8=",
        "Zm9v",
        "Zm9vYg==",
        "Zm9vYmE=",
        "Zm9vYmFy",
      ]);
    }
    expect(new TextDecoder().decode(base64Decode("Zm9vYmE="))).toBe("fooba");
  });

  it("base64Encode encodes a view of a larger buffer (offset and length), not the whole buffer", () => {
    const whole = Uint8Array.from([0xff, 0x66, 0x6f, 0x6f, 0xff]);
    expect(base64Encode(whole.subarray(1, 4))).toBe("Zm9v");
    expect(portableBase64Encode(whole.subarray(1, 4))).toBe("Zm9v");
  });

  it("base64 round-trips any bytes, across the encoder's chunk boundary (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3 * 8192 + 7 }), (bytes) => {
        expect(base64Decode(portableBase64Encode(bytes))).toEqual(bytes);
        expect(base64Decode(base64Encode(bytes))).toEqual(bytes);
      }),
      fcRuns(40),
    );
  });

  it("portableBase64Encode gives Node's base64 for any bytes, 0 to 2 bytes past whole chunks (property, Buffer as the model)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 2 * 3 * 8192 + 2 }), (bytes) => {
        expect(portableBase64Encode(bytes)).toBe(Buffer.from(bytes).toString("base64"));
      }),
      fcRuns(40),
    );
    for (const n of [3 * 8192, 3 * 8192 + 1, 3 * 8192 + 2, 1, 2])
      expect(portableBase64Encode(new Uint8Array(n).fill(0xfb))).toBe(
        Buffer.alloc(n, 0xfb).toString("base64"),
      );
  });

  it("base64Decode gives Node's bytes for any base64 and fails as a per-character decoder does for one character replaced (property)", () => {
    /** Naive model: the per-character decoder base64Decode replaced. */
    const naive = (text: string): Uint8Array => {
      const A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      if (text.length % 4 !== 0)
        throw new SyntaxError(`base64 text of length ${text.length} is invalid: not a multiple of 4`);
      const pad = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
      const out: number[] = [];
      for (let i = 0; i < text.length; i += 4) {
        let v = 0;
        for (let k = 0; k < 4; k++) {
          const d = text[i + k] === "=" && i + k >= text.length - pad ? 0 : A.indexOf(text[i + k]);
          if (d < 0)
            throw new SyntaxError(
              `base64 text is invalid at offset ${i + k}: ${JSON.stringify(text[i + k])}`,
            );
          v = (v << 6) | d;
        }
        out.push(v >> 16, (v >> 8) & 255, v & 255);
      }
      return new Uint8Array(out.slice(0, out.length - pad));
    };
    const outcome = (f: () => Uint8Array) => {
      try {
        return f();
      } catch (e) {
        return (e as Error).message;
      }
    };
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3 * 1024 + 2 }),
        fc.nat(),
        fc.constantFrom("=", "<", "\u00e9", "-", "A"),
        (bytes, at, ch) => {
          const text = Buffer.from(bytes).toString("base64");
          for (const decode of [base64Decode, portableBase64Decode]) {
            expect(decode(text)).toEqual(new Uint8Array(bytes));
            if (text.length === 0) continue;
            const k = at % text.length;
            const broken = text.slice(0, k) + ch + text.slice(k + 1);
            expect(outcome(() => decode(broken))).toEqual(outcome(() => naive(broken)));
          }
        },
      ),
      fcRuns(80),
    );
  });

  it("base64Decode decodes megabytes of text (the check of the text does not recurse per group)", () => {
    const bytes = new Uint8Array(3 * 2 ** 20 + 1).map((_, i) => (i * 2654435761) >>> 24);
    const text = Buffer.from(bytes).toString("base64");
    expect(base64Decode(text)).toEqual(bytes);
    expect(() => base64Decode(`${text.slice(0, -4)}A=A=`)).toThrow(SyntaxError);
  });

  it("base64Decode refuses text that is not base64, naming the offset (whitespace too, which host decoders skip)", () => {
    expect(() => base64Decode("Zm9v Zm9v")).toThrow(/length 9 is invalid/);
    expect(() => base64Decode("Zm9v\nZm9")).toThrow(/invalid at offset 4: "\\n"/);
    expect(() => base64Decode("Zm9")).toThrow(/length 3 is invalid: not a multiple of 4/);
    expect(() => base64Decode("Zm<v")).toThrow(/invalid at offset 2: "<"/);
    expect(() => base64Decode("Z=9v")).toThrow(SyntaxError);
  });

  it("encodes the runs the analysis counts: merged where VA and PFN continue, kind kept or mixed (property vs page model)", () => {
    fc.assert(
      fc.property(runsArb, (r) => {
        const cols = decodeRunMap(encodeRunMap(r));
        const naive = naiveRuns(r);
        expect(cols.count).toBe(naive.length);
        for (let i = 0; i < naive.length; i++) {
          expect([cols.va[i], cols.pfn[i], cols.pages[i]]).toEqual([
            naive[i].va,
            naive[i].pfn,
            naive[i].pages,
          ]);
          const ks = [...naive[i].kinds];
          expect(cols.kind[i]).toBe(ks.length === 1 ? ks[0] : RUN_KIND_MIXED);
        }
      }),
      fcRuns(200),
    );
  });

  it("keeps 52-bit addresses exact: a frame near 2^40 and a VA near 2^47", () => {
    const r = runsOf([[0x7ffffffff000 - 4096 * 2, 2 ** 40 - 3, 2, 3]]);
    const cols = decodeRunMap(encodeRunMap(r));
    expect([cols.va[0], cols.pfn[0], cols.pages[0], cols.kind[0]]).toEqual([
      0x7ffffffff000 - 8192,
      2 ** 40 - 3,
      2,
      3,
    ]);
  });

  it("a buffer's runMap has as many runs as the analysis counts, at 25 bytes a run before base64", () => {
    const runs = runsOf([
      [0x10000, 100, 2, 1],
      [0x12000, 102, 1, 2],
      [0x20000, 500, 512, 2],
    ]);
    const a = analyzeBuffer({
      label: "t",
      pid: 1,
      comm: "t",
      vaStart: 0x10000,
      vaLength: 0x300000,
      runs,
      swapped: 0,
      unmapped: 0,
    });
    expect(a.runMap?.count).toBe(a.runs);
    expect(a.runs).toBe(2);
    const cols = decodeRunMap(a.runMap!);
    expect(Array.from(cols.kind)).toEqual([RUN_KIND_MIXED, 2]);
    expect(a.runMap!.pfn.length).toBe(Math.ceil((2 * 8) / 3) * 4);
    expect(RUN_MAP_BYTES_PER_RUN).toBe(8 + 8 + 8 + 1);
  });

  it("runs without kinds are unknown (0)", () => {
    const cols = decodeRunMap(encodeRunMap({ count: 1, va: [0x1000], pfn: [7], npages: [1] }));
    expect(cols.kind[0]).toBe(0);
  });

  it("decodeRunMap refuses another encoding or a column of the wrong length", () => {
    const m = encodeRunMap(runsOf([[0x1000, 1, 1, 1]]));
    expect(() => decodeRunMap({ ...m, encoding: "x" } as never)).toThrow(/encoding "x" is invalid/);
    expect(() => decodeRunMap({ ...m, count: 2 })).toThrow(/column kind is invalid: 1 bytes for 2 runs/);
  });
});
