/**
 * The reference machine's description as data: sockets and RAM, the PCI tree (host bridges,
 * switches, GPUs, NICs, NVMe), the IOMMU, and the processes with the layouts they ask for. The
 * builder (reference.ts) turns it into a model machine; README.md prints it as a table. Changing a
 * number here changes the machine every `phyr` fallback shows, so the tests pin the layout.
 */
import { SZ_1G, SZ_2M } from "../core/index.js";
import { PciAcs } from "../pci/index.js";

const GiB = SZ_1G;
const MiB = 2 ** 20;

/** Seed of the reference machine (aging and the service's churn). */
export const REFERENCE_SEED = 20240611;

/** Identity shown for the reference machine: it is a model, not a running kernel. */
export const REFERENCE_KERNEL = {
  hostname: "phyr-reference",
  release: "phyr-reference-machine-1",
  version:
    "phyr reference machine 1: a simulated 2-socket x86-64 server (512 GiB, 8 GPUs), not a running Linux kernel",
  pageSize: 4096,
} as const;

/**
 * Physical memory: two NUMA nodes of 256 GiB. The model gives each node one range, so the RAM a real
 * machine keeps below the 32-bit PCI hole is left out: node 0 starts at 4 GiB, and below 4 GiB lie
 * only firmware-reserved ranges and the host bridges' 32-bit windows.
 */
export const REFERENCE_MEMORY = {
  nodes: [
    { start: 4 * GiB, size: 256 * GiB },
    { start: 260 * GiB, size: 256 * GiB },
  ],
  reserved: [
    { start: 0, size: MiB },
    { start: 0x7e000000, size: 32 * MiB },
    { start: 0xe0000000, size: 256 * MiB },
    { start: 0xfe000000, size: 32 * MiB },
  ],
  /** Boot-time hugetlb pools: 2 MiB pages for the database, 1 GiB pages for the VM. */
  hugetlb: { pages2M: 16384, pages1G: 32 },
  /** Allocation/free steps of boot-to-now kernel churn (mem/aging.ts) before the processes start. */
  agingSteps: 20000,
} as const;

/** ACS control of root ports and of the socket-1 switch downstream ports: SV | RR | CR | UF (pci_std_enable_acs). */
export const ACS_KERNEL_DEFAULT = PciAcs.SV | PciAcs.RR | PciAcs.CR | PciAcs.UF;

/** PCI identity of a function: vendor, device, class (sysfs `vendor`, `device`, `class`). */
export interface PciIdentity {
  vendor: number;
  device: number;
  class: number;
  name: string;
}

/** The functions of the reference machine, by role. */
export const PCI_IDS = {
  /** Host bridge function at bb:00.0 of each root bus (Ice Lake-SP "Memory Map/VT-d"; on the P2P allowlist). */
  hostBridge: { vendor: 0x8086, device: 0x09a2, class: 0x088000, name: "Intel Ice Lake Memory Map/VT-d" },
  rootPort: { vendor: 0x8086, device: 0x347a, class: 0x060400, name: "Intel Ice Lake PCIe Root Port" },
  switchUp: { vendor: 0x1000, device: 0xc030, class: 0x060400, name: "Broadcom PEX890xx PCIe switch" },
  switchDown: { vendor: 0x1000, device: 0xc030, class: 0x060400, name: "Broadcom PEX890xx PCIe switch" },
  gpu: { vendor: 0x10de, device: 0x2331, class: 0x030200, name: "NVIDIA H100 PCIe" },
  nic: { vendor: 0x15b3, device: 0x1021, class: 0x020000, name: "Mellanox ConnectX-7" },
  nvme: { vendor: 0x144d, device: 0xa824, class: 0x010802, name: "Samsung NVMe SSD PM173X" },
} as const satisfies Record<string, PciIdentity>;

/** BARs by role, in register order (sizes in bytes). */
export const PCI_BARS = {
  /** BAR0 16 MiB registers (32-bit), BAR1 128 GiB VRAM aperture, BAR3 32 MiB (both 64-bit prefetchable). */
  gpu: [
    { size: 16 * MiB, prefetch: false, is64: false },
    { size: 128 * GiB, prefetch: true, is64: true },
    { size: 32 * MiB, prefetch: true, is64: true },
  ],
  /** BAR0 32 MiB, 64-bit prefetchable. */
  nic: [{ size: 32 * MiB, prefetch: true, is64: true }],
  /** BAR0 32 KiB registers (64-bit), BAR2 64 MiB controller memory buffer (64-bit prefetchable). */
  nvme: [
    { size: 32 * 1024, prefetch: false, is64: true },
    { size: 64 * MiB, prefetch: true, is64: true },
  ],
} as const;

/** One host bridge: its root bus, socket, and whether its switch's downstream ports enable ACS. */
export interface HostBridgeLayout {
  bus: number;
  socket: number;
  /** ACS control of the switch downstream ports (0: cleared for GPUDirect P2P). */
  downstreamAcs: number;
}

/**
 * Four host bridges, two per socket, each with one root port leading to one PCIe switch whose four
 * downstream ports hold GPU, GPU, NIC, NVMe. Socket 0's switches have ACS cleared on their
 * downstream ports (as GPU servers are set up for GPUDirect); socket 1's keep the kernel's default
 * SV|RR|CR|UF, so their peer traffic is redirected to the root complex.
 */
export const HOST_BRIDGES: readonly HostBridgeLayout[] = [
  { bus: 0x00, socket: 0, downstreamAcs: 0 },
  { bus: 0x40, socket: 0, downstreamAcs: 0 },
  { bus: 0x80, socket: 1, downstreamAcs: ACS_KERNEL_DEFAULT },
  { bus: 0xc0, socket: 1, downstreamAcs: ACS_KERNEL_DEFAULT },
];

/** 32-bit window of host bridge `i`: 128 MiB at 2 GiB + i x 128 MiB. */
export function mem32Window(i: number): { start: number; size: number } {
  return { start: 0x80000000 + i * 128 * MiB, size: 128 * MiB };
}

/** 64-bit window of host bridge `i`: 1 TiB at 32 TiB + i x 1 TiB. */
export function mem64Window(i: number): { start: number; size: number } {
  return { start: 2 ** 45 + i * 2 ** 40, size: 2 ** 40 };
}

/** IOMMU: one VT-d unit per host bridge, x86-64 4-level second-stage tables (4 KiB | 2 MiB | 1 GiB). */
export const IOMMU_UNITS = ["dmar0", "dmar1", "dmar2", "dmar3"] as const;

/** A mapping of a reference process. */
export interface VmaLayout {
  /** Start address (fixed, like the addresses the process would really get). */
  start: number;
  len: number;
  /** What backs it. */
  kind: "text" | "anon" | "thp" | "hugetlb2M" | "hugetlb1G";
  /** Path or pseudo name as /proc/PID/maps prints it. */
  path: string;
  /** Bytes populated from the start (default: all). */
  populate?: number;
  /** Preferred NUMA node of anonymous memory. */
  node?: number;
}

/** A reference process. */
export interface ProcessLayout {
  pid: number;
  comm: string;
  cmdline: string;
  /** What its memory is like, for the docs. */
  layout: string;
  vmas: readonly VmaLayout[];
  /** The main mapping's 4 KiB pages are faulted in between rounds of kernel churn (a long-running service). */
  churn?: boolean;
  /** Log file whose page cache grows beside a `churn` process's heap. */
  log?: string;
}

/** Anonymous 4 KiB pages a fragmented service's heap holds: 64 MiB. */
export const SERVICE_HEAP = 64 * MiB;

/**
 * The processes, in the order they start after boot-time aging. Addresses follow x86-64 Linux
 * habits: PIE text near 0x55..., mmap areas below 0x7f..., the stack near 0x7ffc....
 */
export const PROCESSES: readonly ProcessLayout[] = [
  {
    pid: 1,
    comm: "systemd",
    cmdline: "/sbin/init splash",
    layout: "small: text pages and a 4 KiB-page heap",
    vmas: [
      { start: 0x55a4c8e00000, len: 2 * MiB, kind: "text", path: "/usr/lib/systemd/systemd" },
      { start: 0x55a4ca000000, len: 8 * MiB, kind: "anon", path: "[heap]" },
      { start: 0x7ffd5a200000, len: 132 * 1024, kind: "anon", path: "[stack]" },
    ],
  },
  {
    pid: 2104,
    comm: "postgres",
    cmdline: "/usr/lib/postgresql/16/bin/postgres -D /var/lib/postgresql/16/main -c huge_pages=on",
    layout: "database: 32 GiB shared buffers on 2 MiB hugetlb pages",
    vmas: [
      { start: 0x55d0c6a00000, len: 8 * MiB, kind: "text", path: "/usr/lib/postgresql/16/bin/postgres" },
      { start: 0x55d0c8000000, len: 64 * MiB, kind: "anon", path: "[heap]", populate: 24 * MiB },
      { start: 0x7f1a00000000, len: 32 * GiB, kind: "hugetlb2M", path: "/anon_hugepage (deleted)" },
      { start: 0x7ffe1c000000, len: 132 * 1024, kind: "anon", path: "[stack]" },
    ],
  },
  {
    pid: 2871,
    comm: "qemu-system-x86",
    cmdline:
      "qemu-system-x86_64 -enable-kvm -machine q35 -smp 16 -m 32G -mem-path /dev/hugepages1G -mem-prealloc -drive file=/var/lib/vms/db01.qcow2",
    layout: "VM: 32 GiB guest RAM on 1 GiB hugetlb pages",
    vmas: [
      { start: 0x5612a0000000, len: 16 * MiB, kind: "text", path: "/usr/bin/qemu-system-x86_64" },
      { start: 0x5612a4000000, len: 128 * MiB, kind: "anon", path: "[heap]", populate: 24 * MiB },
      {
        start: 0x7f4000000000,
        len: 32 * GiB,
        kind: "hugetlb1G",
        path: "/dev/hugepages1G/qemu_back_mem.pc.ram.Xq1mRt (deleted)",
      },
      { start: 0x7ffc8a000000, len: 132 * 1024, kind: "anon", path: "[stack]" },
    ],
  },
  {
    pid: 3310,
    comm: "python3",
    cmdline: "python3 train.py --model llama-7b --batch-size 32 --data /data/tokens",
    layout: "ML job: 16 GiB of tensors in MADV_HUGEPAGE memory on node 1 (2 MiB THPs)",
    vmas: [
      { start: 0x5581f0000000, len: 8 * MiB, kind: "text", path: "/usr/bin/python3.12" },
      { start: 0x5581f2000000, len: 256 * MiB, kind: "anon", path: "[heap]", populate: 24 * MiB, node: 1 },
      { start: 0x7e8000000000, len: 16 * GiB, kind: "thp", path: "", node: 1 },
      { start: 0x7fff3e000000, len: 132 * 1024, kind: "anon", path: "[stack]" },
    ],
  },
  {
    pid: 1877,
    comm: "java",
    cmdline: "/usr/lib/jvm/java-17-openjdk-amd64/bin/java -Xmx4g -jar /opt/orders/orders-service.jar",
    layout: "long-running service: 64 MiB heap of 4 KiB pages faulted in between kernel churn",
    churn: true,
    log: "/var/log/orders/service.log",
    vmas: [
      {
        start: 0x5600f0000000,
        len: 4 * MiB,
        kind: "text",
        path: "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
      },
      { start: 0x7f7000000000, len: 4 * GiB, kind: "anon", path: "", populate: SERVICE_HEAP },
      { start: 0x7ffd01000000, len: 132 * 1024, kind: "anon", path: "[stack]" },
    ],
  },
];

/** Size of a hugetlb page of a layout kind. */
export function hugePageSize(kind: VmaLayout["kind"]): number {
  return kind === "hugetlb1G" ? SZ_1G : kind === "hugetlb2M" ? SZ_2M : 4096;
}
