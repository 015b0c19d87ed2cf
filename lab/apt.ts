/**
 * Debian kernel packages for the lab, fetched without touching the machine's apt set-up: a private
 * apt configuration (its own sources list, package lists, archive cache and empty dpkg status, all
 * in the lab cache) whose mirror is read from the machine's own apt sources at run time. Packages
 * are downloaded with `apt-get download` and unpacked with `dpkg-deb -x` into the cache; nothing is
 * installed into the system.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Which Debian suite's kernel to boot. */
export type KernelSuite = "unstable" | "stable";

/** A machine apt source entry the mirror was taken from. */
export interface AptMirror {
  uri: string;
  signedBy: string | null;
}

/** A kernel unpacked in the cache, ready to boot. */
export interface LabKernel {
  suite: KernelSuite;
  /** Release as the package names it, e.g. "7.2.13+deb14-amd64" (the guest's uname -r is reported separately). */
  release: string;
  /** Packages unpacked, with versions. */
  packages: { name: string; version: string }[];
  /** bzImage. */
  vmlinuz: string;
  /** /lib/modules/<release> directory. */
  modulesDir: string;
  /** Bytes of .deb files downloaded for this kernel (0 when all were cached). */
  downloadedBytes: number;
}

/** The lab could not get a kernel (no mirror in the apt sources, apt failed, nothing matched). */
export class LabKernelError extends Error {
  readonly code = "LAB_KERNEL";
  constructor(message: string) {
    super(message);
    this.name = "LabKernelError";
  }
}

/**
 * The Debian archive mirror of the machine's apt sources: the first `deb` entry (deb822
 * `*.sources` files, then the one-line `sources.list` format) that is neither a security nor an
 * updates-only suite. O(size of the source files).
 * @param etc apt's configuration directory (default /etc/apt)
 * @throws LabKernelError when no such entry exists
 */
export function machineMirror(etc = "/etc/apt"): AptMirror {
  const found: AptMirror[] = [];
  const dir = join(etc, "sources.list.d");
  const files = existsSync(dir) ? readdirSync(dir).sort() : [];
  for (const f of files.filter((x) => x.endsWith(".sources"))) {
    for (const stanza of readFileSync(join(dir, f), "utf8").split(/\n\s*\n/)) {
      const field = (k: string) => stanza.match(new RegExp(`^${k}:\\s*(.+)$`, "mi"))?.[1].trim();
      if (/^enabled:\s*no/im.test(stanza)) continue;
      const types = field("Types")?.split(/\s+/) ?? [];
      const suites = field("Suites")?.split(/\s+/) ?? [];
      const uri = field("URIs")?.split(/\s+/)[0];
      if (!uri || !types.includes("deb") || !suites.some(isMainSuite)) continue;
      found.push({ uri, signedBy: field("Signed-By") ?? null });
    }
  }
  const list = join(etc, "sources.list");
  if (existsSync(list)) {
    for (const line of readFileSync(list, "utf8").split("\n")) {
      const m = line.match(/^\s*deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/);
      if (!m || !isMainSuite(m[3])) continue;
      const signed = m[1]?.match(/signed-by=(\S+)/)?.[1] ?? null;
      found.push({ uri: m[2], signedBy: signed });
    }
  }
  const debian = found.find((m) => m.signedBy?.includes("debian-archive-keyring")) ?? found[0];
  if (!debian) {
    throw new LabKernelError(
      `No Debian mirror in ${etc}/sources.list.d/*.sources or ${etc}/sources.list: the lab reads its package mirror from the machine's apt sources`,
    );
  }
  return debian;
}

function isMainSuite(s: string): boolean {
  return !/-(security|updates|backports|proposed-updates)$/.test(s) && !s.includes("/");
}

/** Options of {@link fetchKernel}. */
export interface FetchKernelOptions {
  cacheDir: string;
  suite: KernelSuite;
  /** Re-read the package index even when it is less than a day old. */
  refresh?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
  /** apt configuration directory to take the mirror from (default /etc/apt). */
  aptEtc?: string;
}

/**
 * Finds the newest amd64 kernel of the suite in a private package index, downloads and unpacks it
 * into the cache (idempotent: a kernel already unpacked is reused). O(package index) the first time.
 * @throws LabKernelError when apt fails or no kernel package matches
 */
export function fetchKernel(opts: FetchKernelOptions): LabKernel {
  const log = opts.log ?? (() => {});
  const root = join(opts.cacheDir, "apt", opts.suite);
  const lists = join(root, "lists");
  const archives = join(root, "archives");
  for (const d of [join(lists, "partial"), join(archives, "partial"), join(root, "etc")]) {
    mkdirSync(d, { recursive: true });
  }
  const mirror = machineMirror(opts.aptEtc);
  const signed = mirror.signedBy ? ` [signed-by=${mirror.signedBy}]` : "";
  const sourceList = join(root, "etc", "sources.list");
  writeFileSync(sourceList, `deb${signed} ${mirror.uri} ${opts.suite} main\n`);
  const status = join(root, "status");
  if (!existsSync(status)) writeFileSync(status, "");
  const aptOpts = [
    "-o",
    `Dir::Etc::SourceList=${sourceList}`,
    "-o",
    "Dir::Etc::SourceParts=/dev/null",
    "-o",
    `Dir::State::Lists=${lists}`,
    "-o",
    `Dir::State::status=${status}`,
    "-o",
    `Dir::Cache::Archives=${archives}`,
    "-o",
    "Dir::Cache::pkgcache=",
    "-o",
    "Dir::Cache::srcpkgcache=",
    "-o",
    "APT::Sandbox::User=root",
    "-o",
    "Debug::NoLocking=1",
  ];
  const stamp = join(root, "updated");
  const fresh = existsSync(stamp) && Date.now() - statSync(stamp).mtimeMs < 86_400_000;
  const updated = opts.refresh || !fresh;
  if (updated) {
    log(
      `apt: reading the ${opts.suite} package index (private configuration, mirror from the machine's apt sources)`,
    );
    apt("apt-get", [...aptOpts, "-qq", "update"]);
    writeFileSync(stamp, new Date().toISOString());
  }
  // The pick is kept beside the index it came from, so runs between index updates skip apt-cache.
  const pickFile = join(root, "pick.json");
  let pick: { release: string; packages: { name: string; version: string }[] } | undefined;
  if (!updated && existsSync(pickFile)) pick = JSON.parse(readFileSync(pickFile, "utf8"));
  if (!pick) {
    const names = apt("apt-cache", [...aptOpts, "pkgnames", "linux-"]).split("\n");
    const found = pickKernelPackages(names);
    if (!found) {
      throw new LabKernelError(
        `No amd64 kernel package found in Debian ${opts.suite} (looked for linux-binary-*/linux-image-*-amd64)`,
      );
    }
    pick = {
      release: found.release,
      packages: found.packages.map((name) => ({
        name,
        version:
          apt("apt-cache", [...aptOpts, "show", "--no-all-versions", name]).match(
            /^Version:\s*(\S+)/m,
          )?.[1] ?? "?",
      })),
    };
    writeFileSync(pickFile, `${JSON.stringify(pick)}\n`);
  }
  const packages = pick.packages;
  const dest = join(opts.cacheDir, "kernels", pick.release);
  const done = join(dest, ".complete");
  let downloadedBytes = 0;
  if (!existsSync(done)) {
    const debs = join(opts.cacheDir, "debs");
    mkdirSync(debs, { recursive: true });
    const before = new Set(readdirSync(debs));
    log(`apt: downloading ${packages.map((p) => `${p.name}=${p.version}`).join(" ")}`);
    apt("apt-get", [...aptOpts, "-qq", "download", ...packages.map((p) => `${p.name}=${p.version}`)], debs);
    mkdirSync(dest, { recursive: true });
    for (const p of packages) {
      const deb = readdirSync(debs).find((f) => f.startsWith(`${p.name}_`) && f.endsWith(".deb"));
      if (!deb) throw new LabKernelError(`apt-get download left no .deb for ${p.name}`);
      if (!before.has(deb)) downloadedBytes += statSync(join(debs, deb)).size;
      execFileSync("dpkg-deb", ["-x", join(debs, deb), dest]);
      rmSync(join(debs, deb)); // unpacked: the .deb (about 120 MB for 7.2) is not needed again
    }
    writeFileSync(done, `${JSON.stringify(packages)}\n`);
  }
  const modulesDir = [
    join(dest, "usr/lib/modules", pick.release),
    join(dest, "lib/modules", pick.release),
  ].find(existsSync);
  if (!modulesDir)
    throw new LabKernelError(`${pick.release}: the packages hold no lib/modules/${pick.release}`);
  const vmlinuz = [join(modulesDir, "vmlinuz"), join(dest, "boot", `vmlinuz-${pick.release}`)].find(
    existsSync,
  );
  if (!vmlinuz) throw new LabKernelError(`${pick.release}: the packages hold no vmlinuz`);
  return { suite: opts.suite, release: pick.release, packages, vmlinuz, modulesDir, downloadedBytes };
}

/**
 * The newest plain amd64 kernel among package names: for unstable linux-binary-R-amd64 with
 * linux-modules-R-amd64 (the 7.x split), else linux-image-R-amd64-unsigned (6.x, modules inside).
 * Versions compare numerically field by field. O(names).
 * @returns the release and package names, or null when none matches
 */
export function pickKernelPackages(names: readonly string[]): { release: string; packages: string[] } | null {
  const set = new Set(names.map((n) => n.trim()));
  const candidates: { release: string; packages: string[] }[] = [];
  for (const n of set) {
    let m = n.match(/^linux-binary-(\d+\.\d+(?:\.\d+)?\+deb\d+)-amd64$/);
    if (m && set.has(`linux-modules-${m[1]}-amd64`)) {
      candidates.push({ release: `${m[1]}-amd64`, packages: [n, `linux-modules-${m[1]}-amd64`] });
      continue;
    }
    m = n.match(/^linux-image-(\d+\.\d+(?:\.\d+)?\+deb\d+)-amd64-unsigned$/);
    if (m && !set.has(`linux-binary-${m[1]}-amd64`))
      candidates.push({ release: `${m[1]}-amd64`, packages: [n] });
  }
  candidates.sort((a, b) => compareRelease(b.release, a.release));
  return candidates[0] ?? null;
}

/**
 * Compares releases like "6.12.107+deb13-amd64": the upstream version field by field (a missing
 * field is lower), then the Debian part the same way. O(length).
 */
export function compareRelease(a: string, b: string): number {
  const fields = (s: string, part: number) => (s.split("+")[part] ?? "").match(/\d+/g)?.map(Number) ?? [];
  for (const part of [0, 1]) {
    const fa = fields(a, part);
    const fb = fields(b, part);
    for (let i = 0; i < Math.max(fa.length, fb.length); i++) {
      const d = (fa[i] ?? -1) - (fb[i] ?? -1);
      if (d !== 0) return d;
    }
  }
  return 0;
}

function apt(cmd: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(cmd, args, {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 64 << 20,
    });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new LabKernelError(
      `${cmd} ${args
        .filter((a) => !a.startsWith("Dir::"))
        .slice(-2)
        .join(" ")} failed: ${(err.stderr ?? err.message).trim().split("\n").slice(-3).join(" | ")}`,
    );
  }
}
