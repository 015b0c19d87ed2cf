/**
 * The `phyr-snapshot` file format, version 1: newline-delimited JSON, optionally gzip-compressed.
 * Records, one per line, in this order:
 *
 *   header   { type, format: "phyr-snapshot", version: 1, capturedAt, kernel, anonymized, access }
 *   iomem    { type, resources: [{ start, end, name, depth }] }   (flattened tree, file order)
 *   pci      { type, devices: [...] }
 *   iommu    { type, units, groups }
 *   then per process:  process { type, pid, comm, cmdline }
 *     then per VMA:    vma { type, pid, start, end, perms, ..., pages: {present, swapped, unmapped, hidden}, runs }
 *       then:          runs { type, pid, vma, va: [hex], pfn: [hex], npages: [n], flags: [n], kind: [n] }  (<= 16384 runs each)
 *   end      { type, records, truncated? }   (count of records before it: a cut-off file is
 *            detected; how many strings and list entries capture shortened or left out)
 *
 * Addresses are hex strings ("0x1000"). Every record is validated by a strict zod schema: unknown
 * keys (including `__proto__` and `constructor`) are rejected, sizes are bounded.
 */
import { z } from "zod";
import { PAGE_SIZE } from "../core/index.js";

/** Format name in the header. */
export const SNAPSHOT_FORMAT = "phyr-snapshot";
/** Version this code writes and reads. */
export const SNAPSHOT_VERSION = 1;
/** Runs per `runs` record. */
export const RUNS_PER_RECORD = 16384;

/**
 * Longest strings and longest lists a snapshot holds. `capture()` shortens longer strings (ending
 * them with {@link TRUNCATION_MARKER}) and leaves out entries past a list's limit, counting both,
 * so that whatever it writes the loader accepts. String lengths are in UTF-16 code units (as
 * JavaScript and zod count them).
 */
export const SNAPSHOT_LIMITS = {
  /** /proc/PID/comm (TASK_COMM_LEN is 16 bytes in the kernel; room for odd procfs roots). */
  comm: 64,
  /** /proc/PID/cmdline (the kernel allows up to the argument limit, megabytes). */
  cmdline: 65536,
  /** A VMA's path: PATH_MAX (4096) plus " (deleted)" can be longer. */
  path: 4096,
  /** Kernel release and hostname. */
  release: 256,
  hostname: 256,
  /** The /proc/version line. */
  version: 1024,
  /** A /proc/iomem resource name. */
  iomemName: 256,
  /** An access-probe message, a VMA's read error. */
  message: 1000,
  /** Access-probe messages. */
  messages: 16,
  /** A VmFlags mnemonic and the mnemonics per VMA. */
  vmFlag: 4,
  vmFlags: 64,
  /** An IOMMU unit name, a host bridge name, a BDF in an IOMMU group. */
  iommuUnit: 64,
  hostBridge: 64,
  groupDevice: 16,
  /** /proc/iomem resources, PCI functions, IOMMU units, groups, devices per group. */
  iomemResources: 1_000_000,
  pciFunctions: 65536,
  iommuUnits: 4096,
  iommuGroups: 65536,
  groupDevices: 4096,
  /** Highest pid (PID_MAX_LIMIT of include/linux/threads.h is 4M; the schema allows up to 2^30). */
  pid: 0x3fffffff,
} as const;

/** What ends a string `capture()` shortened to fit {@link SNAPSHOT_LIMITS}. */
export const TRUNCATION_MARKER = "…[truncated]";

const L = SNAPSHOT_LIMITS;

const hexAddr = z
  .string()
  .regex(/^0x[0-9a-f]{1,13}$/, "expected a hex string like 0x1000")
  .refine((s) => Number.parseInt(s.slice(2), 16) < 2 ** 52, "is at or above 2^52");
const count = z
  .number()
  .int()
  .min(0)
  .max(2 ** 52);
const str = (max: number) => z.string().max(max);

const access = z.strictObject({
  pagemapFrames: z.enum(["readable", "hidden", "unreadable", "unknown"]),
  kpageflags: z.enum(["readable", "hidden", "unreadable", "unknown"]),
  iomemAddresses: z.enum(["readable", "hidden", "unreadable", "unknown"]),
  capSysAdmin: z.boolean().nullable(),
  messages: z.array(str(L.message)).max(L.messages),
});

/** First record: format, version, capture time, kernel identity, anonymized flag, access probe. */
export const headerRecord = z.strictObject({
  type: z.literal("header"),
  format: z.literal(SNAPSHOT_FORMAT),
  version: z.literal(SNAPSHOT_VERSION),
  capturedAt: str(64),
  kernel: z.strictObject({
    release: str(L.release),
    version: str(L.version),
    hostname: str(L.hostname),
    pageSize: z.literal(PAGE_SIZE),
  }),
  anonymized: z.boolean(),
  access,
});

/** The /proc/iomem tree flattened in file order (depth gives the nesting). */
export const iomemRecord = z.strictObject({
  type: z.literal("iomem"),
  resources: z
    .array(
      z.strictObject({
        start: hexAddr,
        end: hexAddr,
        name: str(L.iomemName),
        depth: z.number().int().min(0).max(64),
      }),
    )
    .max(L.iomemResources),
});

/** PCI functions with resources (hex addresses), IOMMU group and upstream bridges. */
export const pciRecord = z.strictObject({
  type: z.literal("pci"),
  devices: z
    .array(
      z.strictObject({
        bdf: z.string().regex(/^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/),
        vendor: z.number().int().min(0).max(0xffff),
        device: z.number().int().min(0).max(0xffff),
        class: z.number().int().min(0).max(0xffffff),
        resources: z
          .array(
            z.strictObject({
              index: z.number().int().min(0).max(63),
              start: hexAddr,
              end: hexAddr,
              flags: count,
            }),
          )
          .max(64),
        iommuGroup: z.number().int().min(-1).max(1e9),
        hostBridge: str(L.hostBridge),
        upstream: z.array(z.string().regex(/^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/)).max(64),
      }),
    )
    .max(L.pciFunctions),
});

/** IOMMU units (/sys/class/iommu) and groups (/sys/kernel/iommu_groups); empty without an IOMMU. */
export const iommuRecord = z.strictObject({
  type: z.literal("iommu"),
  units: z.array(str(L.iommuUnit)).max(L.iommuUnits),
  groups: z
    .array(
      z.strictObject({
        id: z.number().int().min(0).max(1e9),
        devices: z.array(str(L.groupDevice)).max(L.groupDevices),
      }),
    )
    .max(L.iommuGroups),
});

/** One captured process; its VMA records follow. */
export const processRecord = z.strictObject({
  type: z.literal("process"),
  pid: z.number().int().min(1).max(L.pid),
  comm: str(L.comm),
  cmdline: str(L.cmdline),
});

/** One VMA with its smaps counters, page counts and the number of runs that follow. */
export const vmaRecord = z.strictObject({
  type: z.literal("vma"),
  pid: z.number().int().min(1).max(L.pid),
  start: hexAddr,
  end: hexAddr,
  perms: z.string().regex(/^[-r][-w][-x][-sp]$/),
  offset: count,
  dev: z.string().regex(/^[0-9a-f]{1,8}:[0-9a-f]{1,8}$/),
  inode: count,
  path: str(L.path),
  size: count,
  rss: count,
  pss: count,
  anonymous: count,
  anonHugePages: count,
  swap: count,
  locked: count,
  hugetlb: count,
  kernelPageSize: count,
  thpEligible: z.boolean(),
  vmFlags: z.array(str(L.vmFlag)).max(L.vmFlags),
  pages: z.strictObject({ present: count, swapped: count, unmapped: count, hidden: count }),
  runs: count,
  /** Why the VMA's pagemap could not be read (its pages then count as unmapped). */
  error: str(L.message).optional(),
});

/** Up to {@link RUNS_PER_RECORD} runs of the VMA before it, as parallel arrays. */
export const runsRecord = z.strictObject({
  type: z.literal("runs"),
  pid: z.number().int().min(1).max(L.pid),
  vma: hexAddr,
  va: z.array(hexAddr).max(RUNS_PER_RECORD),
  pfn: z.array(hexAddr).max(RUNS_PER_RECORD),
  npages: z
    .array(
      z
        .number()
        .int()
        .min(1)
        .max(2 ** 40),
    )
    .max(RUNS_PER_RECORD),
  flags: z.array(z.number().int().min(1).max(15)).max(RUNS_PER_RECORD),
  kind: z.array(z.number().int().min(0).max(4)).max(RUNS_PER_RECORD),
});

/** Last record: how many records came before it (a cut-off file is detected). */
export const endRecord = z.strictObject({
  type: z.literal("end"),
  records: count,
  /** Strings `capture()` shortened and list entries it left out to fit the limits (absent: none). */
  truncated: count.optional(),
});

/** Schema of each record type, by `type`. */
export const RECORD_SCHEMAS = {
  header: headerRecord,
  iomem: iomemRecord,
  pci: pciRecord,
  iommu: iommuRecord,
  process: processRecord,
  vma: vmaRecord,
  runs: runsRecord,
  end: endRecord,
} as const;

/** A validated header record. */
export type HeaderRecord = z.infer<typeof headerRecord>;
/** A validated VMA record. */
export type VmaRecord = z.infer<typeof vmaRecord>;
/** A validated runs record. */
export type RunsRecord = z.infer<typeof runsRecord>;
