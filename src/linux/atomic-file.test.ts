import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AtomicFile, writeFileAtomic } from "./atomic-file.js";

const dir = mkdtempSync(join(tmpdir(), "phyr-atomic-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("AtomicFile: whole or not at all", () => {
  it("the target changes only at commit, and no temporary file is left", () => {
    const p = join(dir, "a.txt");
    writeFileSync(p, "old");
    const f = AtomicFile.open(p);
    f.write("new ");
    f.write(Buffer.from("contents"));
    expect(readFileSync(p, "utf8")).toBe("old");
    f.commit();
    expect(readFileSync(p, "utf8")).toBe("new contents");
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  it("abort leaves the old file as it was and removes the temporary file", () => {
    const p = join(dir, "b.txt");
    writeFileSync(p, "old");
    const f = AtomicFile.open(p);
    f.write("half");
    f.abort();
    f.abort();
    expect(readFileSync(p, "utf8")).toBe("old");
    expect(existsSync(f.tempPath)).toBe(false);
  });

  it("a symlink planted at the name is replaced, not followed", () => {
    const victim = join(dir, "victim.txt");
    writeFileSync(victim, "precious");
    const link = join(dir, "report.html");
    symlinkSync(victim, link);
    writeFileAtomic(link, "<html>");
    expect(readFileSync(victim, "utf8")).toBe("precious");
    expect(lstatSync(link).isSymbolicLink()).toBe(false);
    expect(readFileSync(link, "utf8")).toBe("<html>");
  });

  it("a character device is written in place: /dev/null takes it, /dev/full fails with ENOSPC", () => {
    writeFileAtomic("/dev/null", "x");
    expect(lstatSync("/dev/null").isCharacterDevice()).toBe(true);
    expect(() => writeFileAtomic("/dev/full", "x")).toThrow(expect.objectContaining({ code: "ENOSPC" }));
  });

  it("an unwritable target fails at open, before any data: a missing directory, a directory", () => {
    expect(() => AtomicFile.open(join(dir, "no-such-dir", "x"))).toThrow(
      expect.objectContaining({ code: "ENOENT" }),
    );
    expect(() => AtomicFile.open(dir)).toThrow(expect.objectContaining({ code: "EISDIR" }));
  });
});
