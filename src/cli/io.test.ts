import { describe, expect, it } from "vitest";
import { noProgress, paintFor, progressFor } from "./io.js";

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

describe("progressFor: a bar only when stderr is a TTY", () => {
  it("returns the silent reporter when stderr is not a TTY", () => {
    const err = sink(false);
    const p = progressFor({ stdout: sink(false).stream, stderr: err.stream, env: {} });
    expect(p).toBe(noProgress);
    p.start(10, "x");
    p.update(5);
    p.stop();
    expect(err.chunks).toEqual([]);
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
