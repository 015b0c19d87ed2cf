#!/bin/busybox sh
# phyr kernel lab: PID 1 in the guest. Reads /lab.conf (written by the host for the scenario),
# loads the NVMe modules, traces the workload and writes every result to the second serial port
# (/dev/ttyS1) between "=====phyr-lab begin NAME" / "=====phyr-lab end NAME" lines, then powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mount -t tracefs tracefs /sys/kernel/tracing
cut -d' ' -f1 /proc/uptime >/tmp/uptime
. /lab.conf
OUT=/dev/ttyS1
stty -F $OUT raw -echo 2>/dev/null
section() { echo "=====phyr-lab begin $1" >$OUT; cat "$2" >$OUT 2>&1; echo "=====phyr-lab end $1" >$OUT; }
fail() { echo "phyr-lab: $*"; echo "=====phyr-lab failed $*" >$OUT; poweroff -f; }
uname -r >/tmp/release
section release /tmp/release
section init-uptime /tmp/uptime
for m in $LAB_MODULES; do
  insmod "/modules/$m" $(eval echo "\$LAB_PARAMS_$(basename "$m" .ko | tr '-' '_')") || fail "insmod $m"
done
i=0
while [ ! -b /dev/nvme0n1 ]; do
  i=$((i + 1)); [ $i -gt 200 ] && fail "no /dev/nvme0n1 after 20 s"; sleep 0.1
done
T=/sys/kernel/tracing
echo 0 >$T/tracing_on
echo "$LAB_BUFFER_KB" >$T/buffer_size_kb
for e in $LAB_EVENTS; do
  [ -e "$T/events/$e/enable" ] && echo 1 >"$T/events/$e/enable"
done
cat $T/set_event >/tmp/events
section events /tmp/events
echo >$T/trace
echo 1 >$T/tracing_on
/workload /dev/nvme0n1 $LAB_WORKLOAD >/tmp/workload 2>/tmp/workload.err
echo $? >/tmp/workload.rc
echo 0 >$T/tracing_on
section workload /tmp/workload
section workload-stderr /tmp/workload.err
section workload-rc /tmp/workload.rc
section trace $T/trace
section iomem /proc/iomem
for f in /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/defrag \
  /sys/kernel/mm/transparent_hugepage/hugepages-2048kB/enabled; do echo "$f=$(cat "$f" 2>&1)"; done >/tmp/mm
grep -i huge /proc/meminfo | sed 's/: */=/' >>/tmp/mm
grep -E 'thp_fault_alloc|thp_fault_fallback|compact_stall' /proc/vmstat | sed 's/ /=/' >>/tmp/mm
section mm /tmp/mm
dmesg | grep -i -E 'iommu|dmar|swiotlb|software io tlb|nvme|hugetlb|transparent' >/tmp/dmesg
section dmesg /tmp/dmesg
cat $T/per_cpu/cpu0/stats >/tmp/stats 2>&1
section trace-stats /tmp/stats
: >/tmp/queue
for f in /sys/block/nvme0n1/queue/*; do
  [ -f "$f" ] && echo "$(basename "$f")=$(cat "$f" 2>/dev/null | head -1)" >>/tmp/queue
done
section queue /tmp/queue
: >/tmp/pci
for d in /sys/bus/pci/devices/*; do
  g=""; [ -e "$d/iommu_group" ] && g=$(basename "$(readlink "$d/iommu_group")")
  drv=""; [ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
  echo "fn=$(basename "$d") vendor=$(cat "$d/vendor") device=$(cat "$d/device") class=$(cat "$d/class") iommu_group=$g driver=$drv path=$(readlink -f "$d")" >>/tmp/pci
  sed 's/^/res=/' "$d/resource" >>/tmp/pci
done
section pci /tmp/pci
ls /sys/class/iommu >/tmp/iommu 2>/dev/null
section iommu /tmp/iommu
ls -l /sys/block/nvme0n1 >/tmp/blk 2>&1; readlink -f /sys/block/nvme0n1/device/device >>/tmp/blk 2>&1
section block /tmp/blk
cat /sys/module/nvme/parameters/* >/dev/null 2>&1
: >/tmp/params
for f in /sys/module/nvme/parameters/* /sys/module/nvme_core/parameters/*; do echo "$f=$(cat "$f" 2>/dev/null)" >>/tmp/params; done
section params /tmp/params
echo "=====phyr-lab done" >$OUT
poweroff -f
