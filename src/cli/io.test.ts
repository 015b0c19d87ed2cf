import { describe, expect, it } from "vitest";
import {
  CliFailure,
  lineProgress,
  noProgress,
  paintFor,
  parseLimit,
  progressFor,
  UsageError,
  wholeWriteStream,
} from "./io.js";

const sink = (isTTY: boolean) => {
  const chunks: string[] = [];
  return { chunks, stream: { write: (s: string) => chunks.push(s), isTTY } };
};

describe("paintFor: colour only on a TTY without NO_COLOR", () => {
  it.each([
    [true, {}, true],
    [true, { NO_COLOR: "" }, true],
    [true, { NO_COLOR: "1" }, false],
    [false, {}, false],
    [false, { NO_COLOR: "1" }, false],
  ])("isTTY=%s env=%j -> colour %s", (tty, env, colour) => {
    const p = paintFor(sink(tty).stream, env);
    expect(p.red("x") !== "x").toBe(colour);
    expect(p.bold("x").includes("\u001b[")).toBe(colour);
  });
});

describe("progressFor: a bar on a TTY, plain lines every few seconds otherwise", () => {
  it("writes nothing on a non-TTY stderr within the first interval (short runs stay quiet)", () => {
    const err = sink(false);
    const p = progressFor({ stdout: sink(false).stream, stderr: err.stream, env: {} });
    expect(p).not.toBe(noProgress);
    p.start(10, "x");
    p.update(5);
    p.stop();
    expect(err.chunks).toEqual([]);
  });

  it("lineProgress writes one plain line per interval of a long read, with counts and percent", () => {
    const err = sink(false);
    let now = 0;
    const p = lineProgress(err.stream, 5000, () => now);
    p.start(4096, "reading memory (MiB)");
    now = 4999;
    p.update(100);
    now = 5000;
    p.update(1200);
    now = 6000;
    p.update(1300);
    now = 10_000;
    p.update(4096);
    p.stop();
    expect(err.chunks).toEqual([
      "phyr: reading memory (MiB) 1,200/4,096 (29%)\n",
      "phyr: reading memory (MiB) 4,096/4,096 (100%)\n",
    ]);
  });

  it("draws on stderr when it is a TTY", () => {
    const err = sink(true);
    const stream = Object.assign(err.stream, {
      columns: 80,
      cursorTo: () => true,
      clearLine: () => true,
      moveCursor: () => true,
      on: () => stream,
      removeListener: () => stream,
    });
    const p = progressFor({ stdout: sink(false).stream, stderr: stream, env: {} });
    p.start(10, "reading");
    p.update(10);
    p.stop();
    expect(err.chunks.join("")).toContain("reading");
  });
});

describe("parseLimit: --limit NAME=N", () => {
  it("sets a known limit and keeps the others", () => {
    expect(parseLimit("maxP2pCells=100", parseLimit("maxVmas=8000000", {}))).toEqual({
      maxVmas: 8_000_000,
      maxP2pCells: 100,
    });
  });

  it.each([
    ["maxVmas", /expected NAME=N/],
    ["maxVmas=", /expected NAME=N/],
    ["vmas=10", /expected NAME=N with NAME one of maxLineBytes, /],
    ["maxVmas=0", /0 is not a positive integer/],
    ["maxVmas=-1", /expected NAME=N/],
    ["maxVmas=1e6", /expected NAME=N/],
  ])("%j is a usage error naming the value", (text, reason) => {
    expect(() => parseLimit(text, {})).toThrow(UsageError);
    let message = "";
    try {
      parseLimit(text, {});
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message.startsWith(`--limit ${JSON.stringify(text)} is invalid: `)).toBe(true);
    expect(message).toMatch(reason);
  });
});

describe("wholeWriteStream: files and devices written whole or failed", () => {
  it("a write to /dev/full throws a CliFailure naming the stream and ENOSPC", async () => {
    const { openSync, closeSync } = await import("node:fs");
    const fd = openSync("/dev/full", "w");
    try {
      const s = wholeWriteStream(fd, { isTTY: false } as NodeJS.WriteStream, "standard output");
      expect(() => s.write("x")).toThrow(CliFailure);
      expect(() => s.write("x")).toThrow(/^cannot write to standard output: ENOSPC/);
    } finally {
      closeSync(fd);
    }
  });
});
