import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compareRelease, LabKernelError, machineMirror, pickKernelPackages } from "./apt.js";

function etc(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "phyr-apt-"));
  mkdirSync(join(dir, "sources.list.d"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe("machineMirror", () => {
  it("takes the archive entry of a deb822 .sources file, not the security one", () => {
    const dir = etc({
      "sources.list.d/debian.sources": [
        "Types: deb",
        "URIs: http://mirror.example/debian-security",
        "Suites: bookworm-security",
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg",
        "",
        "Types: deb",
        "# a comment line",
        "URIs: http://mirror.example/debian",
        "Suites: bookworm bookworm-updates",
        "Components: main",
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg",
        "",
      ].join("\n"),
    });
    expect(machineMirror(dir)).toEqual({
      uri: "http://mirror.example/debian",
      signedBy: "/usr/share/keyrings/debian-archive-keyring.gpg",
    });
  });

  it("prefers the Debian-keyring entry over another vendor's repository", () => {
    const dir = etc({
      "sources.list.d/a-vendor.sources": "Types: deb\nURIs: http://vendor.example/apt\nSuites: nodistro\n",
      "sources.list.d/debian.sources":
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: trixie\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
    });
    expect(machineMirror(dir).uri).toBe("http://mirror.example/debian");
  });

  it("reads the one-line sources.list format with its signed-by option", () => {
    const dir = etc({
      "sources.list":
        "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main\ndeb http://mirror.example/debian-security bookworm-security main\n",
    });
    expect(machineMirror(dir)).toEqual({ uri: "http://mirror.example/debian", signedBy: "/k.gpg" });
  });

  it("skips a disabled stanza and deb-src entries", () => {
    const dir = etc({
      "sources.list.d/x.sources":
        "Enabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: sid\n\nTypes: deb-src\nURIs: http://src.example/debian\nSuites: sid\n",
    });
    expect(() => machineMirror(dir)).toThrow(LabKernelError);
  });

  it("without any archive entry throws a LabKernelError naming where it looked", () => {
    const dir = etc({});
    expect(() => machineMirror(dir)).toThrow(
      /No Debian mirror in .*sources\.list\.d\/\*\.sources or .*sources\.list/,
    );
  });
});

describe("pickKernelPackages", () => {
  it("picks the newest linux-binary with its linux-modules (the 7.x package split)", () => {
    const names = [
      "linux-binary-7.1.4+deb14-amd64",
      "linux-modules-7.1.4+deb14-amd64",
      "linux-binary-7.2.13+deb14-amd64",
      "linux-modules-7.2.13+deb14-amd64",
      "linux-binary-7.2.13+deb14-cloud-amd64",
      "linux-modules-7.2.13+deb14-cloud-amd64",
      "linux-image-7.2.13+deb14-amd64",
      "linux-binary-7.3.1+deb14-amd64", // no modules package: not bootable with NVMe as a module
    ];
    expect(pickKernelPackages(names)).toEqual({
      release: "7.2.13+deb14-amd64",
      packages: ["linux-binary-7.2.13+deb14-amd64", "linux-modules-7.2.13+deb14-amd64"],
    });
  });

  it("picks the newest linux-image-*-amd64-unsigned of a 6.x suite, comparing versions numerically", () => {
    const names = [
      "linux-image-6.12.94+deb13-amd64-unsigned",
      "linux-image-6.12.107+deb13-amd64-unsigned",
      "linux-image-6.12.107+deb13-amd64",
      "linux-image-6.12.107+deb13-rt-amd64-unsigned",
      "linux-image-6.12.107+deb13-cloud-amd64-unsigned",
    ];
    expect(pickKernelPackages(names)).toEqual({
      release: "6.12.107+deb13-amd64",
      packages: ["linux-image-6.12.107+deb13-amd64-unsigned"],
    });
  });

  it("returns null when no package names a plain amd64 kernel", () => {
    expect(pickKernelPackages(["linux-image-6.12.1+deb13-arm64", "linux-doc"])).toBeNull();
  });
});

describe("compareRelease", () => {
  it.each([
    ["6.12.107+deb13-amd64", "6.12.94+deb13-amd64", 1],
    ["7.2.13+deb14-amd64", "6.12.107+deb13-amd64", 1],
    ["7.2.13+deb14-amd64", "7.2.13+deb14-amd64", 0],
    ["7.2+deb14-amd64", "7.2.1+deb14-amd64", -1],
  ])("%s vs %s has sign %i", (a, b, sign) => {
    expect(Math.sign(compareRelease(a, b))).toBe(sign);
  });
});
