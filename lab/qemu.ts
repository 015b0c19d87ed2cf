/**
 * The QEMU command line and kernel command line of a scenario, and one guest run: TCG on a q35
 * machine, an emulated VT-d IOMMU when the scenario has one, an NVMe drive backed by a small raw
 * file, console on the first serial port and the results on the second.
 */
import { spawn } from "node:child_process";
import type { Scenario } from "./scenarios.js";

/** Files a guest run needs. */
export interface GuestFiles {
  vmlinuz: string;
  initrd: string;
  /** Raw file backing the NVMe namespace. */
  disk: string;
  /** First serial port: the kernel console. */
  consoleFile: string;
  /** Second serial port: the init script's sections. */
  outFile: string;
  /** QEMU's own trace log (the emulated NVMe controller's view of each command). */
  deviceTraceFile: string;
}

/**
 * QEMU trace events of its NVMe controller (hw/nvme/trace-events): each I/O command, and whether
 * its data pointer was read as PRPs or as an SGL. The guest kernel's nvme_setup_cmd tracepoint
 * fires before the driver fills the data pointer (drivers/nvme/host/core.c nvme_setup_cmd() runs
 * before drivers/nvme/host/pci.c nvme_map_data()), so its flags never show the PSDT; the device
 * side does.
 */
export const QEMU_NVME_TRACE_EVENTS = ["pci_nvme_io_cmd", "pci_nvme_map_prp", "pci_nvme_map_sgl"] as const;

/**
 * The kernel command line of a scenario. O(1).
 * intel_iommu=on turns VT-d DMA remapping on (drivers/iommu/intel/iommu.c intel_iommu_setup());
 * iommu.strict and iommu.passthrough pick the default domain's flush mode and type
 * (drivers/iommu/iommu.c iommu_dma_setup(), iommu_set_def_domain_type()); swiotlb=force makes
 * dma-direct bounce every mapping (kernel/dma/swiotlb.c setup_io_tlb_npages()); hugepages=N
 * reserves 2 MiB hugetlb pages at boot (mm/hugetlb.c hugepages_setup()).
 */
export function kernelCmdline(s: Scenario): string {
  const o = s.options;
  // no_timer_check: under TCG on a loaded host the IO-APIC timer check (arch/x86/kernel/apic/
  // io_apic.c check_timer(), timer_irq_works()) can miss its ticks and panic ("IO-APIC + timer
  // doesn't work"); the parameter skips that check, as for any virtual machine.
  const args = ["console=ttyS0", "panic=-1", "loglevel=6", "no_timer_check", "transparent_hugepage=madvise"];
  if (o.iommu) {
    args.push("intel_iommu=on", "iommu.passthrough=0", `iommu.strict=${o.strict ? 1 : 0}`);
  } else {
    args.push("intel_iommu=off");
  }
  if (o.swiotlbForce) args.push("swiotlb=force");
  if (o.hugetlbPages > 0) args.push(`hugepages=${o.hugetlbPages}`);
  return args.join(" ");
}

/** The nvme module parameters of a scenario (sgl_threshold=0 turns SGLs off). O(1). */
export function nvmeModuleParams(s: Scenario): Record<string, string> {
  return s.options.nvmeSgl ? {} : { sgl_threshold: "0" };
}

/**
 * qemu-system-x86_64's arguments for a scenario. O(1).
 * The intel-iommu device needs the split irqchip (QEMU refuses it otherwise with intremap on);
 * interrupt remapping stays off since the lab studies DMA remapping only.
 */
export function qemuArgs(s: Scenario, f: GuestFiles): string[] {
  const o = s.options;
  const args = [
    "-accel",
    "tcg",
    "-machine",
    o.iommu ? "q35,kernel-irqchip=split" : "q35",
    "-smp",
    "1",
    "-m",
    String(o.memMiB),
    "-display",
    "none",
    "-monitor",
    "none",
    "-vga",
    "none",
    "-nic",
    "none",
    "-no-reboot",
  ];
  if (o.iommu) args.push("-device", "intel-iommu,intremap=off");
  args.push(
    "-kernel",
    f.vmlinuz,
    "-initrd",
    f.initrd,
    "-append",
    kernelCmdline(s),
    "-drive",
    `file=${f.disk},if=none,id=nvm,format=raw`,
    "-device",
    "nvme,drive=nvm,serial=phyrlab",
    "-serial",
    `file:${f.consoleFile}`,
    "-serial",
    `file:${f.outFile}`,
    ...QEMU_NVME_TRACE_EVENTS.flatMap((e) => ["-trace", e]),
    "-D",
    f.deviceTraceFile,
  );
  return args;
}

/** How a QEMU run ended. */
export interface QemuExit {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  seconds: number;
  stderr: string;
}

/**
 * Runs QEMU to its exit, killing it (SIGKILL) after `timeoutMs`. O(guest run time).
 * @throws Node spawn errors when qemu-system-x86_64 cannot be started
 */
export function runQemu(
  args: readonly string[],
  timeoutMs: number,
  binary = "qemu-system-x86_64",
): Promise<QemuExit> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    let timedOut = false;
    child.stderr.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-8192);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, seconds: (performance.now() - t0) / 1000, stderr });
    });
  });
}
