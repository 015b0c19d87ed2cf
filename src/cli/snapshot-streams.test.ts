/**
 * `--snapshot` reads streams once: `-` is standard input (plain or gzip), `/dev/stdin` from a pipe
 * works (no ESPIPE), and a FIFO is opened once, so its writer is not killed by SIGPIPE. Through
 * the built binary (needs `npm run build` first).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = resolve(import.meta.dirname, "../../dist/src/cli/main.js");
const skip = !existsSync(BIN) && !process.env.CI;
const fx = (p: string) => fileURLToPath(new URL(`../linux/fixtures/${p}`, import.meta.url));
const ENV = { ...process.env, FORCE_COLOR: "" };
const dir = mkdtempSync(join(tmpdir(), "phyr-streams-"));
const snap = join(dir, "s.jsonl");
let text = Buffer.alloc(0);

beforeAll(() => {
  const r = spawnSync(process.execPath, [BIN, "capture", "-o", snap], {
    env: { ...ENV, PHYR_PROC_ROOT: fx("vm-root/proc"), PHYR_SYS_ROOT: fx("vm-root/sys") },
    encoding: "utf8",
  });
  expect(r.status).toBe(0);
  text = readFileSync(snap);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function topoFrom(input: Buffer, snapshotArg: string) {
  const r = spawnSync(process.execPath, [BIN, "topo", "--snapshot", snapshotArg, "--json"], {
    env: ENV,
    input,
    encoding: "utf8",
    timeout: 30_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe.skipIf(skip)("--snapshot reads pipes and FIFOs once, as streams", () => {
  it("--snapshot - reads standard input, plain and gzip", () => {
    for (const input of [text, gzipSync(text)]) {
      const r = topoFrom(input, "-");
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({ origin: "snapshot", host: { hostname: "vm" } });
    }
  });

  it("--snapshot /dev/stdin from a pipe reads it (no ESPIPE)", () => {
    const r = topoFrom(text, "/dev/stdin");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
  });

  it("a FIFO is opened once: the writer finishes (no SIGPIPE) and the snapshot loads", async () => {
    const fifo = join(dir, "f.fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    // The writer is a separate process writing the whole file into the FIFO (as `cat s > f` does).
    const writer = spawn("sh", ["-c", `cat "${snap}" > "${fifo}"`], { stdio: "ignore" });
    const writerDone = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
      writer.on("close", (code, signal) => done({ code, signal })),
    );
    const reader = spawnSync(process.execPath, [BIN, "topo", "--snapshot", fifo, "--json"], {
      env: ENV,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(reader.stderr).toBe("");
    expect(reader.status).toBe(0);
    expect(await writerDone).toEqual({ code: 0, signal: null });
  });

  it("a truncated stream is a one-line error, exit 1", () => {
    const r = topoFrom(text.subarray(0, text.length - 30), "-");
    expect(r.code).toBe(1);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/^phyr: error: snapshot is invalid: <stdin>:\d+/);
  });
});
