/**
 * The per-run data of a buffer in a compact, JSON-able form: what the HTML report's physical
 * memory map paints, carried in the same analysis document the `--json` output prints. Runs are
 * the buffer's maximal runs (virtual and physical pages both continue: the runs the analysis
 * counts, see mergeContiguousRuns), each with its backing (/proc/kpageflags kind of the pages it
 * merged, or `mixed`). Columns are little-endian typed arrays, base64-encoded: 25 bytes a run
 * (33.3 characters of base64), instead of roughly 60 characters as JSON numbers.
 */

import { type MergedRuns, mergeContiguousRuns, RUN_KIND_MIXED } from "./runs.js";
import type { RunsInput } from "./types.js";

export { RUN_KIND_MIXED };

/** Encoding id of {@link RunMap}; bumped when the columns change. */
export const RUN_MAP_ENCODING = "runs-f64le-u8-base64/1";

/**
 * Backing names by kind value: 0..4 are machine/page-runs.ts RunKind (unknown, base, thp, hugetlb,
 * zero), 5 is a run whose merged parts had different kinds.
 */
export const RUN_MAP_KINDS = ["unknown", "base", "thp", "hugetlb", "zero", "mixed"] as const;

/** Bytes per run in the decoded columns (pfn, va, pages as float64; kind as u8). */
export const RUN_MAP_BYTES_PER_RUN = 25;

/** A buffer's runs as base64 columns (see {@link RUN_MAP_ENCODING}). */
export interface RunMap {
  encoding: typeof RUN_MAP_ENCODING;
  /** Number of runs (equals the buffer's `runs`). */
  count: number;
  /** First page frame number of each run: Float64Array, little-endian, base64. */
  pfn: string;
  /** Virtual address of each run's first page: Float64Array, little-endian, base64. */
  va: string;
  /** Pages in each run: Float64Array, little-endian, base64. */
  pages: string;
  /** Backing of each run, an index into {@link RUN_MAP_KINDS}: Uint8Array, base64. */
  kind: string;
}

/** Decoded columns of a {@link RunMap}. */
export interface RunColumns {
  count: number;
  pfn: Float64Array;
  va: Float64Array;
  pages: Float64Array;
  kind: Uint8Array;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** The host's own base64 encoder, when it has one: the standard Uint8Array.prototype.toBase64, or Node's Buffer. */
const HOST_BASE64: ((bytes: Uint8Array) => string) | undefined = (() => {
  const proto = Uint8Array.prototype as { toBase64?: () => string };
  if (typeof proto.toBase64 === "function") return (b: Uint8Array) => (b as typeof proto).toBase64!();
  const B = (
    globalThis as {
      Buffer?: { from(a: ArrayBuffer, off: number, len: number): { toString(enc: "base64"): string } };
    }
  ).Buffer;
  if (B === undefined || typeof B.from !== "function") return undefined;
  return (b: Uint8Array) => B.from(b.buffer as ArrayBuffer, b.byteOffset, b.length).toString("base64");
})();

/**
 * Standard base64 (RFC 4648, with padding) of bytes: the host's native encoder where there is one
 * (Uint8Array.prototype.toBase64 in current browsers, Buffer in Node: about a hundred times faster
 * than a JavaScript loop on the megabytes of a large buffer's run map), else
 * {@link portableBase64Encode}. Both give the same text. O(n).
 * @param bytes the bytes.
 * @returns the base64 text.
 */
export function base64Encode(bytes: Uint8Array): string {
  return HOST_BASE64 === undefined ? portableBase64Encode(bytes) : HOST_BASE64(bytes);
}

/**
 * Standard base64 (RFC 4648, with padding) of bytes in plain JavaScript, for hosts without a
 * native encoder. O(n): the character codes are written into
 * one Uint8Array (one table look-up per character) and turned into a string with one
 * TextDecoder call (the WHATWG Encoding API, in browsers and Node alike). Engine note: the
 * decoder copies the bytes straight into a one-byte string; building it with
 * String.fromCharCode.apply over chunks cost about three quarters of the encode (V8 spreads
 * each chunk as arguments), and a concatenation per character built a rope of small strings.
 * The text is ASCII, so the windows-1252 decoding "latin1" names in every engine is exact.
 * @param bytes the bytes.
 * @returns the base64 text.
 */
export function portableBase64Encode(bytes: Uint8Array): string {
  const n = bytes.length;
  const codes = new Uint8Array(Math.ceil(n / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    codes[o] = B64_CODES[v >> 18];
    codes[o + 1] = B64_CODES[(v >> 12) & 63];
    codes[o + 2] = B64_CODES[(v >> 6) & 63];
    codes[o + 3] = B64_CODES[v & 63];
    o += 4;
  }
  if (n - i > 0) {
    const v = (bytes[i] << 16) | (n - i === 2 ? bytes[i + 1] << 8 : 0);
    codes[o] = B64_CODES[v >> 18];
    codes[o + 1] = B64_CODES[(v >> 12) & 63];
    codes[o + 2] = n - i === 2 ? B64_CODES[(v >> 6) & 63] : 61;
    codes[o + 3] = 61; // '='
  }
  return ASCII.decode(codes);
}

/** Bytes to a one-byte string (see {@link portableBase64Encode}). */
const ASCII = new TextDecoder("latin1");

const B64_CODES = Uint8Array.from(B64, (c) => c.charCodeAt(0));

/** The host's own base64 decoder, when it has one: the standard Uint8Array.fromBase64, or Node's Buffer. */
const HOST_BASE64_DECODE: ((text: string) => Uint8Array) | undefined = (() => {
  const U8 = Uint8Array as { fromBase64?: (t: string) => Uint8Array };
  if (typeof U8.fromBase64 === "function") return (t: string) => U8.fromBase64!(t);
  const B = (
    globalThis as {
      Buffer?: {
        from(t: string, enc: "base64"): { buffer: ArrayBuffer; byteOffset: number; length: number };
      };
    }
  ).Buffer;
  if (B === undefined || typeof B.from !== "function") return undefined;
  return (t: string) => {
    const b = B.from(t, "base64");
    return new Uint8Array(b.buffer, b.byteOffset, b.length);
  };
})();

/** A character that is neither in the base64 alphabet nor padding. */
const NOT_BASE64 = /[^A-Za-z0-9+/=]/;

/**
 * Whether `t` is whole standard base64: a multiple of 4 characters from the alphabet, with `=`
 * only as the last one or two. O(n), one linear scan (a regular expression over the whole
 * grammar backtracks per group and overflows the stack on megabytes of text).
 */
function isWholeBase64(t: string): boolean {
  if (t.length % 4 !== 0 || NOT_BASE64.test(t)) return false;
  const eq = t.indexOf("=");
  return eq < 0 || eq === t.length - 1 || (eq === t.length - 2 && t.charCodeAt(t.length - 1) === 61);
}

/**
 * Decodes standard base64 (padding required when the length is not a multiple of 4). Text that
 * is whole base64 goes to the host's native decoder where there is one (the host decoders skip
 * characters or whitespace a strict reader refuses, so the text is checked first); anything else,
 * or a host without one, goes to {@link portableBase64Decode}, which names what is wrong. O(n).
 * @param text base64 text.
 * @returns the bytes.
 * @throws SyntaxError naming the offset of the first character that is not base64, or a bad length.
 */
export function base64Decode(text: string): Uint8Array {
  if (HOST_BASE64_DECODE !== undefined && isWholeBase64(text)) return HOST_BASE64_DECODE(text);
  return portableBase64Decode(text);
}

/**
 * {@link base64Decode} in plain JavaScript (four table look-ups per group). O(n).
 * @throws SyntaxError naming the offset of the first character that is not base64, or a bad length.
 */
export function portableBase64Decode(text: string): Uint8Array {
  if (text.length % 4 !== 0)
    throw new SyntaxError(`base64 text of length ${text.length} is invalid: not a multiple of 4`);
  const pad = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  // Whole groups without padding: four table look-ups each, no branch per character except the
  // check that all four were base64 (a -1 anywhere makes the OR negative).
  const whole = text.length - (pad > 0 ? 4 : 0);
  let o = 0;
  for (let i = 0; i < whole; i += 4) {
    const a = digit(text.charCodeAt(i));
    const b = digit(text.charCodeAt(i + 1));
    const c = digit(text.charCodeAt(i + 2));
    const d = digit(text.charCodeAt(i + 3));
    if ((a | b | c | d) < 0) badDigit(text, i);
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o] = v >> 16;
    out[o + 1] = (v >> 8) & 255;
    out[o + 2] = v & 255;
    o += 3;
  }
  if (pad > 0) {
    const i = whole;
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const ch = text.charCodeAt(i + k);
      const d = ch === 61 && i + k >= text.length - pad ? 0 : digit(ch);
      if (d < 0)
        throw new SyntaxError(`base64 text is invalid at offset ${i + k}: ${JSON.stringify(text[i + k])}`);
      v = (v << 6) | d;
    }
    if (o < out.length) out[o++] = v >> 16;
    if (o < out.length) out[o++] = (v >> 8) & 255;
  }
  return out;
}

/** The 6-bit value of a base64 character code, or -1. O(1). */
function digit(ch: number): number {
  return ch < 128 ? B64_INDEX[ch] : -1;
}

/** Throws for the first character at or after `i` that is not base64 (a '=' before the end is not). */
function badDigit(text: string, i: number): never {
  let k = i;
  while (k < text.length && digit(text.charCodeAt(k)) >= 0) k++;
  throw new SyntaxError(`base64 text is invalid at offset ${k}: ${JSON.stringify(text[k])}`);
}

const B64_INDEX: Int8Array = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[B64.charCodeAt(i)] = i;
  return t;
})();

/** Whether this host stores a float64 little-endian (then a column's bytes are its own memory). */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

/** The first `n` values as little-endian float64 bytes, base64. O(n); no copy on a little-endian host. */
function f64Column(values: Float64Array, n: number): string {
  if (HOST_LITTLE_ENDIAN) return base64Encode(new Uint8Array(values.buffer, values.byteOffset, n * 8));
  const bytes = new Uint8Array(n * 8);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < n; i++) dv.setFloat64(i * 8, values[i], true);
  return base64Encode(bytes);
}

/**
 * Encodes a buffer's runs, merging runs whose virtual and physical pages both continue
 * ({@link mergeContiguousRuns}, so `count` equals the analysis's run count); a merged run keeps its
 * parts' kind when they agree and is {@link RUN_KIND_MIXED} otherwise. Runs without `kind` are
 * `unknown`. O(runs).
 * @param runs validated runs (see checkRuns), in VA order.
 * @returns the encoded map.
 */
export function encodeRunMap(runs: RunsInput): RunMap {
  return encodeMergedRuns(mergeContiguousRuns(runs));
}

/**
 * Encodes runs that are already maximal (what {@link mergeContiguousRuns} returned): the columns'
 * bytes are encoded as they are, with no merge pass and no copy on a little-endian host. O(runs).
 * @param runs merged runs.
 * @returns the encoded map.
 */
export function encodeMergedRuns(runs: MergedRuns): RunMap {
  const m = runs.count;
  return {
    encoding: RUN_MAP_ENCODING,
    count: m,
    pfn: f64Column(runs.pfn, m),
    va: f64Column(runs.va, m),
    pages: f64Column(runs.npages, m),
    kind: base64Encode(runs.kind.subarray(0, m)),
  };
}

/**
 * Decodes a run map into typed columns. O(runs).
 * @param map an encoded map.
 * @returns the columns (new arrays).
 * @throws TypeError for another encoding or columns whose length does not match `count`;
 *   SyntaxError for text that is not base64.
 */
export function decodeRunMap(map: RunMap): RunColumns {
  if (map.encoding !== RUN_MAP_ENCODING)
    throw new TypeError(
      `run map encoding ${JSON.stringify(map.encoding)} is invalid: expected ${RUN_MAP_ENCODING}`,
    );
  const n = map.count;
  const f64 = (name: "pfn" | "va" | "pages"): Float64Array => {
    const bytes = base64Decode(map[name]);
    if (bytes.length !== n * 8)
      throw new TypeError(`run map column ${name} is invalid: ${bytes.length} bytes for ${n} runs`);
    // On a little-endian host the bytes are the column: one copy into an aligned array.
    if (HOST_LITTLE_ENDIAN) return new Float64Array(bytes.slice().buffer, 0, n);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
    return out;
  };
  const kind = base64Decode(map.kind);
  if (kind.length !== n)
    throw new TypeError(`run map column kind is invalid: ${kind.length} bytes for ${n} runs`);
  return { count: n, pfn: f64("pfn"), va: f64("va"), pages: f64("pages"), kind };
}
