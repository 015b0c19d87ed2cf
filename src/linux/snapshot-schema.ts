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
 *   end      { type, records }   (count of records before it: a cut-off file is detected)
 *
 * Addresses are hex strings ("0x1000"). Every record is validated by a strict zod schema: unknown
 * keys (including `__proto__` and `constructor`) are rejected, sizes are bounded.
 */
import { z } from "zod";

/** Format name in the header. */
export const SNAPSHOT_FORMAT = "phyr-snapshot";
/** Version this code writes and reads. */
export const SNAPSHOT_VERSION = 1;
/** Runs per `runs` record. */
export const RUNS_PER_RECORD = 16384;

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
  messages: z.array(str(1000)).max(16),
});

/** First record: format, version, capture time, kernel identity, anonymized flag, access probe. */
export const headerRecord = z.strictObject({
  type: z.literal("header"),
  format: z.literal(SNAPSHOT_FORMAT),
  version: z.literal(SNAPSHOT_VERSION),
  capturedAt: str(64),
  kernel: z.strictObject({
    release: str(256),
    version: str(1024),
    hostname: str(256),
    pageSize: z.literal(4096),
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
        name: str(256),
        depth: z.number().int().min(0).max(64),
      }),
    )
    .max(1_000_000),
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
        hostBridge: str(64),
        upstream: z.array(z.string().regex(/^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/)).max(64),
      }),
    )
    .max(65536),
});

/** IOMMU units (/sys/class/iommu) and groups (/sys/kernel/iommu_groups); empty without an IOMMU. */
export const iommuRecord = z.strictObject({
  type: z.literal("iommu"),
  units: z.array(str(64)).max(4096),
  groups: z
    .array(z.strictObject({ id: z.number().int().min(0).max(1e9), devices: z.array(str(16)).max(4096) }))
    .max(65536),
});

/** One captured process; its VMA records follow. */
export const processRecord = z.strictObject({
  type: z.literal("process"),
  pid: z.number().int().min(1).max(0x3fffffff),
  comm: str(64),
  cmdline: str(65536),
});

/** One VMA with its smaps counters, page counts and the number of runs that follow. */
export const vmaRecord = z.strictObject({
  type: z.literal("vma"),
  pid: z.number().int().min(1).max(0x3fffffff),
  start: hexAddr,
  end: hexAddr,
  perms: z.string().regex(/^[-r][-w][-x][-sp]$/),
  offset: count,
  dev: z.string().regex(/^[0-9a-f]{1,8}:[0-9a-f]{1,8}$/),
  inode: count,
  path: str(4096),
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
  vmFlags: z.array(str(4)).max(64),
  pages: z.strictObject({ present: count, swapped: count, unmapped: count, hidden: count }),
  runs: count,
  /** Why the VMA's pagemap could not be read (its pages then count as unmapped). */
  error: str(1000).optional(),
});

/** Up to {@link RUNS_PER_RECORD} runs of the VMA before it, as parallel arrays. */
export const runsRecord = z.strictObject({
  type: z.literal("runs"),
  pid: z.number().int().min(1).max(0x3fffffff),
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
export const endRecord = z.strictObject({ type: z.literal("end"), records: count });

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
