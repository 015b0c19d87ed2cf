/**
 * PCI devices and IOMMUs from sysfs: /sys/bus/pci/devices/<BDF>/{vendor,device,class,resource,
 * iommu_group} (drivers/pci/pci-sysfs.c; `resource` prints one "0x%016llx 0x%016llx 0x%016llx"
 * line of start, end, flags per resource), the device's real path for its upstream bridges
 * (/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0 -> upstream [0000:00:01.0]),
 * /sys/class/iommu (one entry per IOMMU unit) and /sys/kernel/iommu_groups/<N>/devices.
 */
import { readdirSync, readlinkSync, realpathSync } from "node:fs";
import { basename, relative, sep } from "node:path";
import { hex, ParseError } from "../core/index.js";
import type { IommuInfo, PciDevice, PciResource } from "../machine/source-types.js";
import { errnoCode, type ReaderOptions, readAttr, readText, splitLines, sysPath } from "./io.js";

/** The shapes the readers fill, defined with the MachineSource interface (machine/source-types.ts). */
export type { IommuInfo, PciDevice, PciResource };

/** IORESOURCE_MEM (include/linux/ioport.h). */
export const IORESOURCE_MEM = 0x200;
/** IORESOURCE_IO. */
export const IORESOURCE_IO = 0x100;
/** IORESOURCE_PREFETCH. */
export const IORESOURCE_PREFETCH = 0x2000;
/** IORESOURCE_MEM_64. */
export const IORESOURCE_MEM_64 = 0x100000;

const BDF = /^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/** True for a well-formed "dddd:bb:dd.f" address. */
export function isBdf(text: string): boolean {
  return BDF.test(text);
}

/**
 * Parses a sysfs `resource` file. O(lines).
 * @param text file contents
 * @param path file name used in errors
 * @returns non-empty resources with their index
 * @throws ParseError naming path and line for malformed lines, start > end, or addresses >= 2^52
 */
export function parsePciResource(text: string, path = "resource"): PciResource[] {
  const out: PciResource[] = [];
  const lines = splitLines(text);
  if (lines.length > 64)
    throw new ParseError(path, 0, `${lines.length} lines, more than the 64 a device can have`);
  for (let i = 0; i < lines.length; i++) {
    const m = /^0x([0-9a-f]{1,16}) 0x([0-9a-f]{1,16}) 0x([0-9a-f]{1,16})$/.exec(lines[i]);
    if (!m)
      throw new ParseError(
        path,
        i + 1,
        `expected "0xstart 0xend 0xflags", got ${JSON.stringify(lines[i].slice(0, 80))}`,
      );
    const start = Number.parseInt(m[1], 16);
    const end = Number.parseInt(m[2], 16);
    const flags = Number.parseInt(m[3], 16);
    if (start >= 2 ** 52 || end >= 2 ** 52 || flags >= 2 ** 52)
      throw new ParseError(path, i + 1, "value at or above 2^52");
    if (start === 0 && end === 0 && flags === 0) continue;
    if (start > end) throw new ParseError(path, i + 1, `start ${hex(start)} is above end ${hex(end)}`);
    out.push({ index: i, start, end, flags });
  }
  return out;
}

function hexAttr(path: string, text: string | undefined, bits: number): number {
  if (text === undefined) throw new ParseError(path, 0, "missing or unreadable");
  const m = /^0x([0-9a-f]{1,8})$/.exec(text);
  const v = m ? Number.parseInt(m[1], 16) : Number.NaN;
  if (!(v < 2 ** bits))
    throw new ParseError(
      path,
      1,
      `expected a hex number below 2^${bits}, got ${JSON.stringify(text.slice(0, 40))}`,
    );
  return v;
}

/**
 * Reads every device under `<sysRoot>/bus/pci/devices`. O(devices).
 * @returns devices sorted by BDF (empty when the directory is missing)
 * @throws ParseError for malformed attribute files
 */
export function readPciDevices(opts?: ReaderOptions): PciDevice[] {
  const dir = sysPath(opts, "bus/pci/devices");
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return [];
    throw e;
  }
  const devicesRoot = realpathSync(sysPath(opts, "devices"));
  const out: PciDevice[] = [];
  for (const bdf of names.filter(isBdf).sort()) {
    const link = `${dir}/${bdf}`;
    const real = realpathSync(link);
    const parts = relative(devicesRoot, real).split(sep);
    if (parts.length < 2 || !parts[0].startsWith("pci") || parts[parts.length - 1] !== bdf) {
      throw new ParseError(link, 0, `real path ${real} is not <sys>/devices/pciDDDD:BB/.../${bdf}`);
    }
    const upstream = parts.slice(1, -1).filter(isBdf);
    let iommuGroup = -1;
    try {
      const g = basename(readlinkSync(`${link}/iommu_group`));
      iommuGroup = Number(g);
      if (!/^\d{1,9}$/.test(g))
        throw new ParseError(`${link}/iommu_group`, 0, `group ${JSON.stringify(g)} is not a number`);
    } catch (e) {
      if (e instanceof ParseError) throw e;
    }
    const resPath = `${link}/resource`;
    out.push({
      bdf,
      vendor: hexAttr(`${link}/vendor`, readAttr(`${link}/vendor`), 16),
      device: hexAttr(`${link}/device`, readAttr(`${link}/device`), 16),
      class: hexAttr(`${link}/class`, readAttr(`${link}/class`), 24),
      resources: parsePciResource(readText(resPath, 1 << 16), resPath),
      iommuGroup,
      hostBridge: parts[0],
      upstream,
    });
  }
  return out;
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path).sort();
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return [];
    throw e;
  }
}

/**
 * Reads `<sysRoot>/class/iommu` and `<sysRoot>/kernel/iommu_groups`. O(groups + devices).
 * @returns units and groups; both empty on a machine without an IOMMU
 */
export function readIommus(opts?: ReaderOptions): IommuInfo {
  const units = listDir(sysPath(opts, "class/iommu"));
  const groups = listDir(sysPath(opts, "kernel/iommu_groups"))
    .filter((g) => /^\d{1,9}$/.test(g))
    .map((g) => ({
      id: Number(g),
      devices: listDir(sysPath(opts, "kernel/iommu_groups", g, "devices")).filter(isBdf),
    }))
    .sort((a, b) => a.id - b.id);
  return { units, groups };
}
