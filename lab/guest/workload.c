/*
 * phyr kernel lab workload: runs inside the guest as PID 1's child.
 *
 * Allocates buffers backed by scattered 4 KiB pages, THP or hugetlb, prints each buffer's
 * physical runs from /proc/self/pagemap, then does O_DIRECT reads and writes on the block
 * device with trace_marker lines around each op so the host can cut the trace per op.
 *
 * Usage: workload DEV BUF... OP...
 *   BUF  = buf:ID:BACKING:LENGTH        BACKING = scattered4k | thp | hugetlb
 *   OP   = op:BUF:OFFSET:LENGTH:DIR:DEVOFFSET   DIR = r | w
 * Output lines (tab-separated, on stdout):
 *   BUF  id backing va length
 *   RUN  id va pfn pages kind       KIND = base | thp | hugetlb (from /proc/kpageflags)
 *   OP   index buf offset length dir devoffset marker result
 * All numbers are hex without 0x, except index and result (decimal).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096UL
#define HPAGE (2UL << 20)
#define MAXBUF 16

struct buf {
	const char *backing;
	unsigned long len;
	unsigned char *va;
};

static struct buf bufs[MAXBUF];
static int pagemap_fd = -1;
static int kpageflags_fd = -1;
static int marker_fd = -1;

static void die(const char *what, const char *arg)
{
	fprintf(stderr, "workload: %s %s: %s\n", what, arg, strerror(errno));
	exit(1);
}

static unsigned long num(const char *s)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (errno || *end)
		die("bad number", s);
	return v;
}

/* Touch one byte of every page, in the given order, so the fault allocates it. */
static void touch(unsigned char *p, unsigned long len, unsigned long step)
{
	for (unsigned long o = 0; o < len; o += step)
		p[o] = (unsigned char)(o >> 12);
}

static unsigned char *alloc_scattered(unsigned long len)
{
	/*
	 * Interleave faults of the buffer with faults of a filler mapping, so consecutive buffer
	 * pages get frames that are not adjacent (the page allocator hands out neighbours in turn).
	 * The filler stays mapped for the run.
	 */
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *f = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || f == MAP_FAILED)
		die("mmap", "scattered4k");
	madvise(p, len, MADV_NOHUGEPAGE);
	madvise(f, len, MADV_NOHUGEPAGE);
	for (unsigned long o = 0; o < len; o += PAGE) {
		p[o] = 1;
		f[o] = 1;
	}
	return p;
}

static unsigned char *alloc_thp(unsigned long len)
{
	unsigned long span = len + HPAGE;
	unsigned char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		die("mmap", "thp");
	unsigned char *p = (unsigned char *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));
	if (madvise(p, len, MADV_HUGEPAGE))
		die("madvise", "MADV_HUGEPAGE");
	touch(p, len, PAGE);
	return p;
}

static unsigned char *alloc_hugetlb(unsigned long len)
{
	unsigned long span = (len + HPAGE - 1) & ~(HPAGE - 1);
	unsigned char *p = mmap(NULL, span, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p == MAP_FAILED)
		die("mmap", "hugetlb");
	touch(p, span, HPAGE);
	return p;
}

/*
 * What backs a frame, from /proc/kpageflags (include/uapi/linux/kernel-page-flags.h):
 * KPF_HUGE (17) is a hugetlb page, KPF_THP (22) a transparent huge page, else a base page.
 */
static const char *page_kind(unsigned long pfn)
{
	uint64_t f;
	if (pread(kpageflags_fd, &f, 8, (off_t)(pfn * 8)) != 8)
		die("pread", "/proc/kpageflags");
	if (f & (1ULL << 17))
		return "hugetlb";
	if (f & (1ULL << 22))
		return "thp";
	return "base";
}

/* Print the buffer's physical runs: maximal stretches of consecutive frames of one kind. */
static void print_runs(int id, unsigned char *va, unsigned long len)
{
	unsigned long first = (uintptr_t)va / PAGE, last = ((uintptr_t)va + len - 1) / PAGE;
	unsigned long run_va = 0, run_pfn = 0, run_pages = 0;
	const char *run_kind = "";
	for (unsigned long vpn = first; vpn <= last; vpn++) {
		uint64_t e;
		if (pread(pagemap_fd, &e, 8, (off_t)(vpn * 8)) != 8)
			die("pread", "/proc/self/pagemap");
		if (!(e & (1ULL << 63)))
			die("page not present in", "/proc/self/pagemap");
		unsigned long pfn = (unsigned long)(e & ((1ULL << 55) - 1));
		const char *kind = page_kind(pfn);
		if (run_pages && pfn == run_pfn + run_pages && !strcmp(kind, run_kind)) {
			run_pages++;
			continue;
		}
		if (run_pages)
			printf("RUN\t%d\t%lx\t%lx\t%lx\t%s\n", id, run_va, run_pfn, run_pages, run_kind);
		run_va = vpn * PAGE;
		run_pfn = pfn;
		run_pages = 1;
		run_kind = kind;
	}
	if (run_pages)
		printf("RUN\t%d\t%lx\t%lx\t%lx\t%s\n", id, run_va, run_pfn, run_pages, run_kind);
}

static void marker(const char *text)
{
	if (write(marker_fd, text, strlen(text)) < 0)
		die("write", "trace_marker");
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: workload DEV buf:ID:BACKING:LEN... op:BUF:OFF:LEN:r|w:DEVOFF...\n");
		return 2;
	}
	int dev = open(argv[1], O_RDWR | O_DIRECT);
	if (dev < 0)
		die("open", argv[1]);
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap_fd < 0)
		die("open", "/proc/self/pagemap");
	kpageflags_fd = open("/proc/kpageflags", O_RDONLY);
	if (kpageflags_fd < 0)
		die("open", "/proc/kpageflags");
	marker_fd = open("/sys/kernel/tracing/trace_marker", O_WRONLY);
	if (marker_fd < 0)
		die("open", "/sys/kernel/tracing/trace_marker");

	int nop = 0;
	for (int i = 2; i < argc; i++) {
		char *arg = strdup(argv[i]), *save, *kind = strtok_r(arg, ":", &save);
		if (!strcmp(kind, "buf")) {
			int id = (int)num(strtok_r(NULL, ":", &save));
			const char *backing = strtok_r(NULL, ":", &save);
			unsigned long len = num(strtok_r(NULL, ":", &save));
			if (id < 0 || id >= MAXBUF || bufs[id].va)
				die("bad buffer id in", argv[i]);
			unsigned char *va;
			if (!strcmp(backing, "scattered4k"))
				va = alloc_scattered(len);
			else if (!strcmp(backing, "thp"))
				va = alloc_thp(len);
			else if (!strcmp(backing, "hugetlb"))
				va = alloc_hugetlb(len);
			else {
				errno = EINVAL;
				die("bad backing", backing);
			}
			bufs[id] = (struct buf){ backing, len, va };
			printf("BUF\t%d\t%s\t%lx\t%lx\n", id, backing, (unsigned long)(uintptr_t)va, len);
			print_runs(id, va, len);
		} else if (!strcmp(kind, "op")) {
			int id = (int)num(strtok_r(NULL, ":", &save));
			unsigned long off = num(strtok_r(NULL, ":", &save));
			unsigned long len = num(strtok_r(NULL, ":", &save));
			const char *dir = strtok_r(NULL, ":", &save);
			unsigned long devoff = num(strtok_r(NULL, ":", &save));
			if (id < 0 || id >= MAXBUF || !bufs[id].va || off + len > bufs[id].len)
				die("op outside its buffer:", argv[i]);
			char m[96];
			snprintf(m, sizeof m, "phyr-lab op %d begin", nop);
			marker(m);
			ssize_t got = dir[0] == 'w' ? pwrite(dev, bufs[id].va + off, len, (off_t)devoff)
						    : pread(dev, bufs[id].va + off, len, (off_t)devoff);
			int err = errno;
			snprintf(m, sizeof m, "phyr-lab op %d end", nop);
			marker(m);
			printf("OP\t%d\t%d\t%lx\t%lx\t%s\t%lx\tphyr-lab op %d\t%ld\n", nop, id, off, len,
			       dir[0] == 'w' ? "write" : "read", devoff, nop, got < 0 ? -(long)err : (long)got);
			nop++;
		} else {
			errno = EINVAL;
			die("bad argument", argv[i]);
		}
		free(arg);
		fflush(stdout);
	}
	return 0;
}
