import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { cpioNewc, initramfs, LabModuleError, moduleDepends, resolveModules } from "./initramfs.js";

/** Reads a newc archive back: name, mode, data of each entry (the format of init/initramfs.c). */
function readNewc(buf: Buffer): { name: string; mode: number; data: Buffer }[] {
  const out: { name: string; mode: number; data: Buffer }[] = [];
  let at = 0;
  const align = (n: number) => (n + 3) & ~3;
  for (;;) {
    expect(buf.toString("ascii", at, at + 6)).toBe("070701");
    const field = (i: number) => Number.parseInt(buf.toString("ascii", at + 6 + i * 8, at + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const namesize = field(11);
    const name = buf.toString("latin1", at + 110, at + 110 + namesize - 1);
    const dataAt = align(at + 110 + namesize);
    if (name === "TRAILER!!!") return out;
    out.push({ name, mode, data: buf.subarray(dataAt, dataAt + size) });
    at = align(dataAt + size);
  }
}

/** A fake module: an ELF-looking blob with a .modinfo-style depends= string. */
function fakeKo(depends: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x7f, 0x45, 0x4c, 0x46]),
    Buffer.from(`\0license=GPL\0depends=${depends}\0retpoline=Y\0`, "latin1"),
  ]);
}

describe("cpioNewc", () => {
  it("writes entries the newc way: 4-byte aligned names and data, modes, closing TRAILER!!!", () => {
    const files = [
      { path: "bin" },
      { path: "bin/sh", data: Buffer.from("#!/bin/busybox sh\n"), mode: 0o755 },
      { path: "lab.conf", data: Buffer.from("A=1\n") },
    ];
    const back = readNewc(cpioNewc(files));
    expect(back.map((e) => [e.name, e.mode.toString(8), e.data.toString()])).toEqual([
      ["bin", "40755", ""],
      ["bin/sh", "100755", "#!/bin/busybox sh\n"],
      ["lab.conf", "100644", "A=1\n"],
    ]);
  });

  it("is read by GNU cpio as the same files", () => {
    const r = spawnSync("cpio", ["-t", "--quiet"], {
      input: cpioNewc([{ path: "d" }, { path: "d/x", data: Buffer.from("xyz") }]),
    });
    if (r.error) return; // cpio is not installed here: the reader above checks the format
    expect(r.stdout.toString().trim().split("\n")).toEqual(["d", "d/x"]);
  });

  it("initramfs() is the gzip of the archive", () => {
    const files = [{ path: "init", data: Buffer.from("x"), mode: 0o755 }];
    expect(gunzipSync(initramfs(files)).equals(cpioNewc(files))).toBe(true);
  });
});

describe("moduleDepends", () => {
  it("reads the comma-separated depends= field, empty for none", () => {
    expect(moduleDepends(fakeKo("nvme-core"))).toEqual(["nvme-core"]);
    expect(moduleDepends(fakeKo("nvme-auth,nvme-keyring"))).toEqual(["nvme-auth", "nvme-keyring"]);
    expect(moduleDepends(fakeKo(""))).toEqual([]);
  });

  it("throws LabModuleError for a file without .modinfo", () => {
    expect(() => moduleDepends(Buffer.from("not a module"))).toThrow(LabModuleError);
  });
});

describe("resolveModules", () => {
  function tree(): string {
    const dir = mkdtempSync(join(tmpdir(), "phyr-mods-"));
    mkdirSync(join(dir, "kernel/drivers/nvme/host"), { recursive: true });
    mkdirSync(join(dir, "kernel/drivers/nvme/common"), { recursive: true });
    writeFileSync(join(dir, "kernel/drivers/nvme/host/nvme.ko"), fakeKo("nvme-core"));
    writeFileSync(join(dir, "kernel/drivers/nvme/host/nvme-core.ko"), fakeKo("nvme-auth,nvme-keyring"));
    writeFileSync(join(dir, "kernel/drivers/nvme/common/nvme-auth.ko"), fakeKo("nvme-keyring"));
    writeFileSync(join(dir, "kernel/drivers/nvme/common/nvme-keyring.ko"), fakeKo(""));
    return dir;
  }

  it("orders dependencies before their users, each once (insmod order)", () => {
    const mods = resolveModules(tree(), ["nvme"]);
    expect(mods.map((m) => m.name)).toEqual(["nvme-keyring.ko", "nvme-auth.ko", "nvme-core.ko", "nvme.ko"]);
  });

  it("decompresses .ko.xz modules with the system xz", () => {
    const dir = tree();
    const path = join(dir, "kernel/drivers/nvme/common/nvme-keyring.ko");
    const r = spawnSync("xz", ["-z", path]);
    if (r.error) return; // no xz here: the plain .ko path above is checked
    const mods = resolveModules(dir, ["nvme-keyring"]);
    expect(Buffer.from(mods[0].data).equals(fakeKo(""))).toBe(true);
    expect(readFileSync(`${path}.xz`).length).toBeGreaterThan(0);
  });

  it("names the missing module and who needs it", () => {
    const dir = tree();
    writeFileSync(join(dir, "kernel/drivers/nvme/host/nvme.ko"), fakeKo("nvme-core,missing-mod"));
    expect(() => resolveModules(dir, ["nvme"])).toThrow(/module missing-mod \(needed by nvme\) is not under/);
  });

  it("refuses a directory without kernel/", () => {
    expect(() => resolveModules(tmpdir(), ["nvme"])).toThrow(/no kernel\/ directory of modules/);
  });
});
