/**
 * The lab record, schema `phyr-lab/1`: one JSON file per scenario run, holding what the guest
 * kernel did (its raw tracefs text) beside what the workload saw (each buffer's physical runs from
 * its own pagemap, each O_DIRECT op) and the guest's layout (/proc/iomem, PCI functions, the NVMe
 * queue limits). Addresses and frame numbers are hex strings ("0x1000"); byte counts are numbers.
 * Every load is validated by the strict zod schema below.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";

/** Schema name of a lab record. */
export const LAB_SCHEMA = "phyr-lab/1";

const hex = z.string().regex(/^0x[0-9a-f]{1,16}$/, "expected a hex string like 0x1000");
const size = z
  .number()
  .int()
  .min(0)
  .max(2 ** 53 - 1);

/**
 * One physical run of a buffer: `pages` 4 KiB frames from `pfn`, mapped at `va`, all of one kind
 * as /proc/kpageflags showed it (KPF_HUGE: hugetlb, KPF_THP: thp, else base). Records of the
 * first lab runs carry no kind: then the buffer's backing says what was asked for.
 */
export const labRun = z.strictObject({
  va: hex,
  pfn: hex,
  pages: size,
  kind: z.enum(["base", "thp", "hugetlb"]).optional(),
});

/** One workload buffer and its physical runs, in VA order. */
export const labBuffer = z.strictObject({
  id: z.number().int().min(0).max(15),
  backing: z.enum(["scattered4k", "thp", "hugetlb"]),
  va: hex,
  length: size,
  runs: z.array(labRun),
});

/** One O_DIRECT op as the workload ran it; `marker` cuts the trace ("<marker> begin" / "end"). */
export const labOp = z.strictObject({
  index: z.number().int().min(0),
  buffer: z.number().int().min(0).max(15),
  offset: size,
  length: size,
  dir: z.enum(["read", "write"]),
  devOffset: size,
  marker: z.string().max(64),
  /** Bytes transferred, or minus the errno. */
  result: z.number().int(),
});

/** One PCI function of the guest as sysfs showed it. */
export const labPciFunction = z.strictObject({
  bdf: z.string().regex(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/),
  vendor: hex,
  device: hex,
  class: hex,
  iommuGroup: z.number().int().min(-1),
  driver: z.string().max(64),
  /** sysfs device path (/sys/devices/pci0000:00/...). */
  path: z.string().max(4096),
  /** The `resource` file's lines: start, end, flags. */
  resources: z.array(z.strictObject({ start: hex, end: hex, flags: hex })),
});

/** A `phyr-lab/1` record. */
export const labRecord = z.strictObject({
  schema: z.literal(LAB_SCHEMA),
  kernel: z.strictObject({
    /** The guest's `uname -r`. */
    release: z.string().max(256),
    suite: z.enum(["unstable", "stable"]),
    packages: z.array(z.strictObject({ name: z.string(), version: z.string() })),
  }),
  scenario: z.strictObject({
    name: z.string(),
    description: z.string(),
    qemuArgs: z.array(z.string()),
    cmdline: z.string(),
    /** nvme module parameters given to insmod. */
    moduleParams: z.record(z.string(), z.string()),
    options: z.strictObject({
      iommu: z.boolean(),
      strict: z.boolean(),
      swiotlbForce: z.boolean(),
      hugetlbPages: z.number().int().min(0),
      nvmeSgl: z.boolean(),
      memMiB: z.number().int().min(64),
    }),
  }),
  device: z.strictObject({
    name: z.string(),
    pci: z.string(),
    /** /sys/block/<name>/queue/* as read: numbers where the file held one decimal integer. */
    queue: z.record(z.string(), z.union([z.number(), z.string()])),
    /** /sys/module/{nvme,nvme_core}/parameters/* as read. */
    moduleParams: z.record(z.string(), z.string()),
  }),
  buffers: z.array(labBuffer),
  ops: z.array(labOp),
  /** The tracepoints enabled (set_event). */
  events: z.array(z.string()),
  /** The raw tracefs `trace` text of the workload's run. */
  trace: z.string(),
  /** per_cpu/cpu0/stats after the run (overrun and dropped must be 0 for a whole trace). */
  traceStats: z.record(z.string(), z.string()),
  iomem: z.string(),
  /**
   * THP settings, hugetlb and THP counters of the guest after the run (meminfo, vmstat); absent
   * in records of the first lab runs.
   */
  mm: z.record(z.string(), z.string()).optional(),
  pci: z.array(labPciFunction),
  /** /sys/class/iommu entries. */
  iommuUnits: z.array(z.string()),
  /**
   * The guest kernel's log lines about the IOMMU, DMAR, swiotlb, NVMe and huge pages (e.g. the
   * "DMA domain TLB invalidation policy" line); absent in records of the first lab runs.
   */
  dmesg: z.string().optional(),
  /**
   * QEMU's trace of its NVMe controller (pci_nvme_io_cmd, pci_nvme_map_prp, pci_nvme_map_sgl):
   * how the device read each command's data pointer, PRPs or SGL, which no guest tracepoint
   * shows; absent in records of the first lab runs.
   */
  deviceTrace: z.string().optional(),
  /** The last lines of the guest console. */
  console: z.string(),
  timing: z.strictObject({
    /** Host wall seconds from starting QEMU to its exit. */
    qemuSeconds: z.number().min(0),
    /** Guest uptime in seconds when /init started (the kernel's boot time), or null. */
    initAtSeconds: z.number().min(0).nullable(),
  }),
});

/** A validated lab record. */
export type LabRecord = z.infer<typeof labRecord>;
/** What backs a run. */
export type LabRunKind = z.infer<typeof labRun>["kind"];
/** A buffer of a lab record. */
export type LabBuffer = z.infer<typeof labBuffer>;
/** An op of a lab record. */
export type LabOp = z.infer<typeof labOp>;

/** A lab record file that does not parse or does not match `phyr-lab/1`. */
export class LabRecordError extends Error {
  readonly code = "LAB_RECORD";
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: not a phyr-lab/1 record: ${message}`);
    this.name = "LabRecordError";
  }
}

/**
 * Validates parsed JSON as a lab record. O(size).
 * @throws LabRecordError naming the first bad field
 */
export function parseLabRecord(value: unknown, path = "<record>"): LabRecord {
  const r = labRecord.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new LabRecordError(path, `${issue.path.join(".") || "(top)"}: ${issue.message}`);
  }
  return r.data;
}

/**
 * Reads and validates a lab record file. O(size).
 * @throws LabRecordError for bad JSON or a schema mismatch; Node errno errors when unreadable
 */
export function loadLabRecord(path: string): LabRecord {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    if (e instanceof SyntaxError) throw new LabRecordError(path, e.message);
    throw e;
  }
  return parseLabRecord(value, path);
}
