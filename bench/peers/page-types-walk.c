/*
 * The bench's peer for `phyr analyze --pid P --range VA:LEN`: what tools/mm/page-types.c does for
 * `page-types -p PID -l` over one VA range, written out so the bench can build it with the
 * system cc. As page-types does (walk_task -> walk_vma -> walk_pfn -> add_page -> show_page_range):
 * read /proc/PID/pagemap in batches of PAGEMAP_BATCH (64K) entries, read /proc/kpageflags once for
 * each present page (walk_pfn is called with count 1 per page), and print one line per range of
 * pages whose virtual page and frame both continue and whose flags are equal.
 *
 * Usage: page-types-walk PID VA_START_HEX LENGTH_BYTES
 * Prints the ranges on stdout (the bench sends them to /dev/null), then on stderr a line
 * "pages=N ranges=N cpu_us=N" with this process's own user+system time (getrusage).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#define PAGEMAP_BATCH (64 << 10)
#define PM_PRESENT (1ULL << 63)
#define PM_PFRAME_MASK ((1ULL << 55) - 1)

static uint64_t range_va, range_pfn, range_len, range_flags;
static uint64_t nranges;

static void show_range(uint64_t va, uint64_t pfn, uint64_t flags) {
  if (range_len && va == range_va + range_len && pfn == range_pfn + range_len && flags == range_flags) {
    range_len++;
    return;
  }
  if (range_len) {
    printf("%" PRIx64 "\t%" PRIx64 "\t%" PRIu64 "\t%" PRIx64 "\n", range_va, range_pfn, range_len, range_flags);
    nranges++;
  }
  range_va = va;
  range_pfn = pfn;
  range_len = 1;
  range_flags = flags;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s PID VA_START_HEX LENGTH_BYTES\n", argv[0]);
    return 2;
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/pagemap", argv[1]);
  uint64_t va0 = strtoull(argv[2], NULL, 16) / 4096;
  uint64_t npages = strtoull(argv[3], NULL, 10) / 4096;
  int pm = open(path, O_RDONLY);
  int kpf = open("/proc/kpageflags", O_RDONLY);
  if (pm < 0 || kpf < 0) {
    perror("open");
    return 1;
  }
  static uint64_t buf[PAGEMAP_BATCH];
  uint64_t present = 0;
  for (uint64_t done = 0; done < npages;) {
    uint64_t n = npages - done < PAGEMAP_BATCH ? npages - done : PAGEMAP_BATCH;
    ssize_t r = pread(pm, buf, n * 8, (off_t)((va0 + done) * 8));
    if (r != (ssize_t)(n * 8)) {
      perror("pread pagemap");
      return 1;
    }
    for (uint64_t i = 0; i < n; i++) {
      if (!(buf[i] & PM_PRESENT)) continue;
      uint64_t pfn = buf[i] & PM_PFRAME_MASK;
      uint64_t flags;
      if (pread(kpf, &flags, 8, (off_t)(pfn * 8)) != 8) {
        perror("pread kpageflags");
        return 1;
      }
      present++;
      show_range(va0 + done + i, pfn, flags);
    }
    done += n;
  }
  show_range(UINT64_MAX, UINT64_MAX, UINT64_MAX);
  fflush(stdout);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  uint64_t us = (uint64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
                (uint64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
  fprintf(stderr, "pages=%" PRIu64 " ranges=%" PRIu64 " cpu_us=%" PRIu64 "\n", present, nranges, us);
  return 0;
}
