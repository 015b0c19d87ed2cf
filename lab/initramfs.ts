/**
 * The lab guest's initramfs: a gzip'd cpio archive (newc format, the one the kernel's
 * init/initramfs.c unpacks) of busybox-static, the init script, the workload program, the NVMe
 * modules (decompressed on the host, so busybox insmod loads plain ELF) and the scenario's
 * configuration.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { gzipSync } from "node:zlib";

/** A file of the archive. */
export interface CpioFile {
  /** Path inside the archive, without a leading slash ("bin/busybox"). */
  path: string;
  /** Contents; a directory when undefined. */
  data?: Uint8Array;
  /** Permission bits (default 0o755 for directories, 0o644 for files). */
  mode?: number;
}

/** A module the initramfs loads, in load order. */
export interface ModuleFile {
  /** File name in the archive, e.g. "nvme-core.ko". */
  name: string;
  /** Decompressed ELF object. */
  data: Uint8Array;
}

/** A module named by the lab cannot be found or its dependencies cannot be read. */
export class LabModuleError extends Error {
  readonly code = "LAB_MODULE";
  constructor(message: string) {
    super(message);
    this.name = "LabModuleError";
  }
}

/**
 * Writes a newc cpio archive (magic 070701, 110-byte ASCII headers, name and data padded to 4
 * bytes, closed by TRAILER!!!). Parent directories must be listed before their files. O(bytes).
 */
export function cpioNewc(files: readonly CpioFile[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  const entry = (path: string, mode: number, data: Uint8Array) => {
    const name = Buffer.from(`${path}\0`);
    const fields = [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, name.length, 0];
    const header = `070701${fields.map((f) => f.toString(16).padStart(8, "0")).join("")}`;
    parts.push(
      Buffer.from(header, "ascii"),
      name,
      pad(110 + name.length),
      Buffer.from(data),
      pad(data.length),
    );
  };
  for (const f of files) {
    const isDir = f.data === undefined;
    entry(
      f.path,
      (isDir ? 0o040000 : 0o100000) | (f.mode ?? (isDir ? 0o755 : 0o644)),
      f.data ?? new Uint8Array(),
    );
  }
  entry("TRAILER!!!", 0, new Uint8Array());
  return Buffer.concat(parts);
}

/** gzip of {@link cpioNewc}: what qemu's -initrd takes. O(bytes). */
export function initramfs(files: readonly CpioFile[]): Buffer {
  return gzipSync(cpioNewc(files), { level: 1 });
}

/** Finds every module file under a modules directory by module name ("nvme_core" = "nvme-core"). O(files). */
function indexModules(modulesDir: string): Map<string, string> {
  const index = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const m = e.name.match(/^(.+)\.ko(\.xz|\.zst|\.gz)?$/);
        if (m) index.set(m[1].replaceAll("-", "_"), p);
      }
    }
  };
  walk(join(modulesDir, "kernel"));
  return index;
}

/** Decompresses a .ko, .ko.xz, .ko.zst or .ko.gz with the system's xz / zstd / gzip. O(bytes). */
function readModule(path: string): Buffer {
  if (path.endsWith(".ko")) return readFileSync(path);
  const tool = path.endsWith(".xz") ? "xz" : path.endsWith(".zst") ? "zstd" : "gzip";
  return execFileSync(tool, ["-dc", path], { maxBuffer: 256 << 20 });
}

/**
 * The `depends=` field of a module's .modinfo section (what modinfo -F depends prints): module
 * names, comma-separated, empty for none. O(bytes).
 */
export function moduleDepends(ko: Uint8Array): string[] {
  const text = Buffer.from(ko).toString("latin1");
  const m = text.match(/\0depends=([^\0]*)\0/);
  if (!m) throw new LabModuleError("module has no depends= in .modinfo (not a kernel module?)");
  return m[1] ? m[1].split(",") : [];
}

/**
 * The named modules and everything they depend on, dependencies first (the order insmod needs).
 * O(modules under modulesDir + their sizes).
 * @throws LabModuleError when a module or a dependency is missing from the kernel's modules
 */
export function resolveModules(modulesDir: string, names: readonly string[]): ModuleFile[] {
  if (!existsSync(join(modulesDir, "kernel"))) {
    throw new LabModuleError(`${modulesDir}: no kernel/ directory of modules`);
  }
  const index = indexModules(modulesDir);
  const out: ModuleFile[] = [];
  const seen = new Set<string>();
  const visit = (name: string, from: string) => {
    const key = name.replaceAll("-", "_");
    if (seen.has(key)) return;
    seen.add(key);
    const path = index.get(key);
    if (!path) throw new LabModuleError(`module ${name} (needed by ${from}) is not under ${modulesDir}`);
    const data = readModule(path);
    for (const dep of moduleDepends(data)) visit(dep, name);
    out.push({ name: `${basename(path).replace(/\.ko.*$/, "")}.ko`, data });
  };
  for (const n of names) visit(n, "the lab");
  return out;
}

/** Size of a file, or 0 when it does not exist. O(1). */
export function fileSize(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}
