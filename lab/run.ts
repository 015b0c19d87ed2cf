/**
 * One lab run: tools, kernel, workload and initramfs (all cached), a QEMU guest, and the
 * `phyr-lab/1` record of what it did.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { fetchKernel, type KernelSuite, type LabKernel } from "./apt.js";
import {
  initUptime,
  LabGuestError,
  parseColonValues,
  parseKeyValues,
  parsePci,
  parseWorkload,
  splitSections,
  tail,
} from "./guest-output.js";
import { type CpioFile, initramfs, resolveModules } from "./initramfs.js";
import { kernelCmdline, nvmeModuleParams, qemuArgs, runQemu } from "./qemu.js";
import { LAB_SCHEMA, type LabRecord, parseLabRecord } from "./record.js";
import { type Scenario, workloadArgs } from "./scenarios.js";

/** The repository root (the directory holding lab/guest/), found from this file's location. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, "lab", "guest", "workload.c"))) return dir;
    dir = dirname(dir);
  }
  throw new Error("phyr lab: cannot find lab/guest/workload.c above this module");
}

/** Default cache directory: PHYR_LAB_CACHE, else lab/.cache in the repository (gitignored). */
export function defaultCacheDir(): string {
  return resolve(process.env.PHYR_LAB_CACHE ?? join(repoRoot(), "lab", ".cache"));
}

/** A host tool the lab needs is missing. */
export class LabToolError extends Error {
  readonly code = "LAB_TOOL";
  constructor(message: string) {
    super(message);
    this.name = "LabToolError";
  }
}

/** apt packages the lab needs on the host, with the command each provides. */
const HOST_PACKAGES = [
  { pkg: "qemu-system-x86", check: "qemu-system-x86_64" },
  { pkg: "busybox-static", check: "/bin/busybox" },
  { pkg: "xz-utils", check: "xz" },
  { pkg: "zstd", check: "zstd" },
  { pkg: "gcc", check: "cc" },
  { pkg: "libc6-dev", check: "/usr/lib/x86_64-linux-gnu/libc.a" },
] as const;

function present(check: string): boolean {
  if (check.startsWith("/")) return existsSync(check);
  try {
    execFileSync("sh", ["-c", `command -v ${check}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The packages of {@link HOST_PACKAGES} whose command or file is missing on this host. O(packages). */
export function missingHostPackages(): string[] {
  return HOST_PACKAGES.filter((p) => !present(p.check)).map((p) => p.pkg);
}

/**
 * Makes sure the host tools are there, installing the missing apt packages when allowed (root
 * only). O(1) when all are present.
 * @throws LabToolError naming what is missing when it cannot install
 */
export function ensureHostTools(install: boolean, log: (s: string) => void = () => {}): void {
  let missing = missingHostPackages();
  if (missing.length > 0 && install && process.getuid?.() === 0) {
    log(`apt: installing ${missing.join(" ")}`);
    execFileSync("apt-get", ["-qq", "update"], { stdio: "ignore" });
    execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], {
      stdio: "ignore",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    missing = missingHostPackages();
  }
  if (missing.length > 0) {
    throw new LabToolError(
      `The kernel lab needs the Debian packages ${missing.join(", ")} (run scripts/setup-test.sh as root, or apt-get install them)`,
    );
  }
  if (hasInterpreter(readFileSync("/bin/busybox"))) {
    throw new LabToolError("/bin/busybox is dynamically linked: the lab needs busybox-static's /bin/busybox");
  }
}

/**
 * True when an ELF64 file names a program interpreter (a PT_INTERP program header): it is
 * dynamically linked and cannot run alone in the initramfs. O(program headers).
 */
export function hasInterpreter(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) {
    throw new LabToolError("/bin/busybox is not a 64-bit ELF executable");
  }
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 <= elf.length && elf.readUInt32LE(at) === 3) return true;
  }
  return false;
}

/** Builds the static workload program, cached by the hash of its source. O(compile) once. */
export function buildWorkload(cacheDir: string): string {
  const src = join(repoRoot(), "lab", "guest", "workload.c");
  const hash = createHash("sha256").update(readFileSync(src)).digest("hex").slice(0, 12);
  const out = join(cacheDir, "bin", `workload-${hash}`);
  if (!existsSync(out)) {
    mkdirSync(dirname(out), { recursive: true });
    execFileSync("cc", ["-static", "-O2", "-Wall", "-o", `${out}.tmp`, src], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    execFileSync("mv", [`${out}.tmp`, out]);
  }
  return out;
}

/** Tracepoints the guest enables (tracefs events/<system>[/<event>]); missing ones are skipped. */
export const LAB_EVENTS = [
  "dma",
  "iommu/map",
  "iommu/unmap",
  "swiotlb",
  "nvme/nvme_setup_cmd",
  "block/block_rq_issue",
  "block/block_rq_complete",
] as const;

/** Options of {@link runScenario}. */
export interface RunOptions {
  cacheDir?: string;
  suite?: KernelSuite;
  /** Install missing host packages (root only). Default true. */
  install?: boolean;
  /** Kill the guest after this many ms (default 180 000). */
  timeoutMs?: number;
  log?: (line: string) => void;
}

/** A finished run: the record and what it cost. */
export interface RunResult {
  record: LabRecord;
  kernel: LabKernel;
  /** Host wall seconds of the whole run (tools, kernel, build, guest). */
  seconds: number;
}

/** What {@link prepareLab} made ready. */
export interface LabReady {
  cacheDir: string;
  kernel: LabKernel;
  /** The static workload program. */
  workload: string;
}

/**
 * Installs missing host packages (root), fetches the kernel and builds the workload, all cached.
 * O(download) the first time, O(1) after.
 * @throws LabToolError, LabKernelError
 */
export function prepareLab(opts: Omit<RunOptions, "timeoutMs"> = {}): LabReady {
  const log = opts.log ?? (() => {});
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  ensureHostTools(opts.install ?? true, log);
  const kernel = fetchKernel({ cacheDir, suite: opts.suite ?? "unstable", log });
  return { cacheDir, kernel, workload: buildWorkload(cacheDir) };
}

/**
 * Runs one scenario in a fresh guest and returns its validated record. O(guest run time); the
 * first run also downloads the kernel (~125 MB) and builds the workload.
 * @throws LabToolError, LabKernelError, LabModuleError before the guest starts; LabGuestError
 *   (with the console tail) when the guest hangs, fails or its output is incomplete
 */
export async function runScenario(s: Scenario, opts: RunOptions = {}): Promise<RunResult> {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const { cacheDir, kernel, workload } = prepareLab(opts);
  const modules = resolveModules(kernel.modulesDir, ["nvme"]);
  const params = nvmeModuleParams(s);
  const conf = [
    `LAB_MODULES='${modules.map((m) => m.name).join(" ")}'`,
    `LAB_PARAMS_nvme='${Object.entries(params)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")}'`,
    "LAB_BUFFER_KB=16384",
    `LAB_EVENTS='${LAB_EVENTS.join(" ")}'`,
    `LAB_WORKLOAD='${workloadArgs(s).join(" ")}'`,
    "",
  ].join("\n");
  const files: CpioFile[] = [
    ...["bin", "dev", "proc", "sys", "tmp", "modules"].map((path) => ({ path })),
    { path: "bin/busybox", data: readFileSync("/bin/busybox"), mode: 0o755 },
    { path: "init", data: readFileSync(join(repoRoot(), "lab", "guest", "init.sh")), mode: 0o755 },
    { path: "workload", data: readFileSync(workload), mode: 0o755 },
    { path: "lab.conf", data: Buffer.from(conf) },
    ...modules.map((m) => ({ path: `modules/${m.name}`, data: m.data })),
  ];
  const runDir = join(cacheDir, "runs", `${s.name}-${process.pid}-${Date.now()}`);
  mkdirSync(runDir, { recursive: true });
  const guest = {
    vmlinuz: kernel.vmlinuz,
    initrd: join(runDir, "initrd.gz"),
    disk: join(runDir, "disk.raw"),
    consoleFile: join(runDir, "console.txt"),
    outFile: join(runDir, "out.txt"),
    deviceTraceFile: join(runDir, "qemu-trace.txt"),
  };
  try {
    writeFileSync(guest.initrd, initramfs(files));
    writeFileSync(guest.disk, "");
    execFileSync("truncate", ["-s", "16M", guest.disk]);
    const args = qemuArgs(s, guest);
    log(`qemu: booting ${kernel.release} for ${s.name}`);
    const exit = await runQemu(args, opts.timeoutMs ?? 180_000);
    const consoleText = existsSync(guest.consoleFile) ? readFileSync(guest.consoleFile, "utf8") : "";
    const out = existsSync(guest.outFile) ? readFileSync(guest.outFile, "utf8") : "";
    const consoleTail = tail(consoleText, 40);
    if (exit.timedOut)
      throw new LabGuestError(
        `${s.name}: the guest did not power off within ${opts.timeoutMs ?? 180_000} ms (killed)`,
        consoleTail,
      );
    const parts = splitSections(out);
    if (parts.failed) throw new LabGuestError(`${s.name}: the guest failed: ${parts.failed}`, consoleTail);
    if (exit.code !== 0 || !parts.done) {
      throw new LabGuestError(
        `${s.name}: QEMU exited with ${exit.code ?? exit.signal} before the guest finished${exit.stderr ? `: ${exit.stderr.trim().split("\n").slice(-2).join(" | ")}` : ""}`,
        consoleTail,
      );
    }
    const sec = (name: string) => {
      const v = parts.sections.get(name);
      if (v === undefined)
        throw new LabGuestError(`${s.name}: the guest output has no ${name} section`, consoleTail);
      return v;
    };
    const rc = sec("workload-rc").trim();
    if (rc !== "0")
      throw new LabGuestError(
        `${s.name}: the workload exited with ${rc}: ${sec("workload-stderr").trim()}`,
        consoleTail,
      );
    const { buffers, ops } = parseWorkload(sec("workload"));
    const pci = parsePci(sec("pci"));
    const nvmePath = sec("block").match(/\/(\d{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])\s*$/m)?.[1];
    const nvme = pci.find((p) => p.bdf === nvmePath) ?? pci.find((p) => p.class.startsWith("0x10802"));
    const record = parseLabRecord({
      schema: LAB_SCHEMA,
      kernel: { release: sec("release").trim(), suite: kernel.suite, packages: kernel.packages },
      scenario: {
        name: s.name,
        description: s.description,
        qemuArgs: args.map((a) => a.replaceAll(runDir, "<run>").replaceAll(cacheDir, "<cache>")),
        cmdline: kernelCmdline(s),
        moduleParams: params,
        options: { ...s.options },
      },
      device: {
        name: "nvme0n1",
        pci: nvme?.bdf ?? "",
        queue: parseKeyValues(sec("queue"), true),
        moduleParams: Object.fromEntries(
          Object.entries(parseKeyValues(sec("params"))).map(([k, v]) => [
            k.replace("/sys/module/", "").replace("/parameters/", "."),
            v,
          ]),
        ),
      },
      buffers,
      ops,
      events: sec("events").split("\n").filter(Boolean),
      trace: sec("trace"),
      traceStats: parseColonValues(sec("trace-stats")),
      iomem: sec("iomem"),
      mm: parseKeyValues(sec("mm")),
      pci,
      iommuUnits: sec("iommu").split("\n").filter(Boolean),
      dmesg: sec("dmesg"),
      deviceTrace: existsSync(guest.deviceTraceFile)
        ? ioCommandLines(readFileSync(guest.deviceTraceFile, "utf8"))
        : "",
      console: consoleTail,
      timing: { qemuSeconds: round(exit.seconds), initAtSeconds: initUptime(sec("init-uptime")) },
    });
    return { record, kernel, seconds: round((performance.now() - t0) / 1000) };
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
}

/** QEMU's NVMe trace cut to I/O commands (sqid above 0) and the data-pointer line after each. O(lines). */
export function ioCommandLines(text: string): string {
  const out: string[] = [];
  let keep = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("pci_nvme_io_cmd ")) {
      keep = !/ sqid 0 /.test(line);
      if (keep) out.push(line);
    } else if (keep && /^pci_nvme_map_(prp|sgl) /.test(line)) {
      out.push(line);
      keep = false;
    }
  }
  return out.length ? `${out.join("\n")}\n` : "";
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
