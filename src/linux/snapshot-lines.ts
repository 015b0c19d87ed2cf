/**
 * Reading a snapshot's records: the loader's limits, splitting a byte stream into lines no longer
 * than `maxLineBytes` (the whole no larger than `maxTotalBytes`), sniffing gzip without consuming
 * the stream, and parsing one line into a validated record. Errors name `<file>:<record>.<field>`
 * with the record number once.
 */
import type { Readable } from "node:stream";
import { LimitExceeded, ParseError } from "../core/index.js";
import { RECORD_SCHEMAS, SNAPSHOT_VERSION } from "./snapshot-schema.js";

/**
 * Limits of {@link loadSnapshot}; each is a positive integer. Memory and time of loading are
 * linear in the input, and these bound the input: a snapshot past one is refused when the limit
 * is reached, before the work it would cause, with a {@link LimitExceeded} naming the option.
 */
export interface LoadOptions {
  /** Longest line accepted, in bytes (default 16 MiB). */
  maxLineBytes?: number;
  /** Largest uncompressed input accepted, in bytes (default 8 GiB). */
  maxTotalBytes?: number;
  /** Most processes (default 4,194,304: PID_MAX_LIMIT of include/linux/threads.h). */
  maxProcesses?: number;
  /** Most VMAs over all processes (default 4,000,000: the smaps parser's limit). */
  maxVmas?: number;
  /** Most runs over all VMAs (default 2^25 = 33,554,432: about 900 MB of typed arrays). */
  maxRuns?: number;
}

/** Defaults of {@link LoadOptions}. */
export const LOAD_LIMITS: Readonly<Required<LoadOptions>> = {
  maxLineBytes: 16 * 1024 * 1024,
  maxTotalBytes: 8 * 1024 * 1024 * 1024,
  maxProcesses: 4 * 1024 * 1024,
  maxVmas: 4_000_000,
  maxRuns: 2 ** 25,
};

/** The limits with defaults filled in. @throws RangeError naming a limit that is not a positive integer */
export function loadLimits(opts: LoadOptions): Required<LoadOptions> {
  const out = { ...LOAD_LIMITS };
  for (const k of Object.keys(LOAD_LIMITS) as (keyof LoadOptions)[]) {
    const v = opts[k];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1)
      throw new RangeError(`${k} ${String(v)} is invalid: expected a positive integer`);
    out[k] = v;
  }
  return out;
}

/** A snapshot error: the path names file, record and field (`f.jsonl:9.pages`) and the number appears once. */
export class SnapshotError extends ParseError {
  constructor(path: string, rec: number, reason: string) {
    super(path, rec, reason);
    this.message = `${path}: ${reason}`;
  }
}

export function limitError(file: string, rec: number, what: string, limit: keyof LoadOptions, max: number) {
  return new LimitExceeded(
    `${file}:${rec}: more than ${max.toLocaleString("en-US")} ${what}: above the limit ${limit} (raise it with the ${limit} option)`,
    limit,
    max,
  );
}

/** A byte limit passed at line `rec`: `what` is "input is larger" or "record is longer". O(1). */
function bytesOver(
  path: string,
  rec: number,
  what: string,
  limit: "maxTotalBytes" | "maxLineBytes",
  max: number,
): LimitExceeded {
  return new LimitExceeded(
    `${path}:${rec}: ${what} than the limit of ${max} bytes (${limit}; raise it with the ${limit} option)`,
    limit,
    max,
  );
}

const BANNED_KEYS = new Set(["__proto__", "constructor", "prototype"]);

export async function* splitLines(
  stream: Readable,
  path: string,
  maxLine: number,
  maxTotal: number,
): AsyncGenerator<string> {
  let parts: Buffer[] = [];
  let partLen = 0;
  let total = 0;
  let lineNo = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > maxTotal) throw bytesOver(path, lineNo + 1, "input is larger", "maxTotalBytes", maxTotal);
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(10, start);
        const piece = chunk.subarray(start, nl < 0 ? chunk.length : nl);
        partLen += piece.length;
        if (partLen > maxLine) throw bytesOver(path, lineNo + 1, "record is longer", "maxLineBytes", maxLine);
        parts.push(piece);
        if (nl < 0) break;
        lineNo++;
        yield Buffer.concat(parts, partLen).toString("utf8");
        parts = [];
        partLen = 0;
        start = nl + 1;
      }
    }
  } catch (e) {
    if (e instanceof ParseError || e instanceof LimitExceeded) throw e;
    throw new ParseError(
      path,
      lineNo + 1,
      `cannot read: ${(e as Error).message} (truncated or corrupted compressed data?)`,
    );
  } finally {
    stream.destroy();
  }
  if (partLen > 0)
    throw new SnapshotError(
      `${path}:${lineNo + 1}`,
      lineNo + 1,
      "file ends in the middle of a record (truncated)",
    );
}

/**
 * Whether the stream starts with the gzip magic 1f 8b, read without consuming it (the bytes are
 * put back), so a pipe or FIFO is read once, from its start, as a stream.
 */
export function startsWithGzip(stream: Readable): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const done = (v: boolean) => {
      stream.off("readable", onReadable);
      stream.off("end", onEnd);
      stream.off("error", reject);
      resolve(v);
    };
    const onEnd = () => done(false);
    const onReadable = () => {
      const b: Buffer | null = stream.read(2) ?? stream.read();
      if (b === null) return;
      stream.unshift(b);
      done(b.length === 2 && b[0] === 0x1f && b[1] === 0x8b);
    };
    stream.on("readable", onReadable);
    stream.once("end", onEnd);
    stream.once("error", reject);
  });
}

export function fail(file: string, rec: number, field: string, reason: string): ParseError {
  return new SnapshotError(`${file}:${rec}${field ? `.${field}` : ""}`, rec, reason);
}

export function parseRecord(
  file: string,
  rec: number,
  line: string,
): { type: keyof typeof RECORD_SCHEMAS; data: unknown } {
  let raw: unknown;
  try {
    raw = JSON.parse(line, function (this: unknown, key, value) {
      if (BANNED_KEYS.has(key)) throw fail(file, rec, key, `key ${JSON.stringify(key)} is not allowed`);
      return value;
    });
  } catch (e) {
    if (e instanceof ParseError) throw e;
    throw fail(file, rec, "", `invalid JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw fail(file, rec, "", "record is not a JSON object");
  const type = (raw as { type?: unknown }).type;
  if (typeof type !== "string" || !Object.hasOwn(RECORD_SCHEMAS, type))
    throw fail(file, rec, "type", `unknown record type ${JSON.stringify(type)}`);
  if (type === "header" && (raw as { version?: unknown }).version !== SNAPSHOT_VERSION) {
    throw fail(
      file,
      rec,
      "version",
      `unsupported version ${JSON.stringify((raw as { version?: unknown }).version)} (this reader reads ${SNAPSHOT_VERSION})`,
    );
  }
  const schema = RECORD_SCHEMAS[type as keyof typeof RECORD_SCHEMAS];
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const keys = (issue as { keys?: string[] }).keys;
    const field = [...issue.path.map(String), ...(keys ? [keys[0]] : [])].join(".");
    throw fail(file, rec, field, issue.message);
  }
  return { type: type as keyof typeof RECORD_SCHEMAS, data: r.data };
}
