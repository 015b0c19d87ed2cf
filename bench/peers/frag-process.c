/*
 * A process for the analyze bench: maps LENGTH bytes of anonymous memory with THP off
 * (MADV_NOHUGEPAGE), then writes every page in an order that leaves it physically fragmented:
 * first the even pairs of pages (0-1, 4-5, ...), then the odd pairs (2-3, 6-7, ...), so frames
 * handed out in sequence land on every other pair of virtual pages and most physical runs are two
 * pages long. With SPARSE set, it instead reserves LENGTH bytes with MAP_NORESERVE and writes only
 * the first TOUCH bytes (a huge, mostly empty address space).
 *
 * Usage: frag-process LENGTH [TOUCH]   (TOUCH given = sparse mode)
 * Prints "0xVA" when ready, then waits until its standard input closes.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  size_t len = strtoull(argv[1], NULL, 10);
  int sparse = argc > 2;
  size_t touch = sparse ? strtoull(argv[2], NULL, 10) : len;
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (sparse ? MAP_NORESERVE : 0),
                 -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  if (madvise(p, len, MADV_NOHUGEPAGE) != 0) perror("madvise");
  if (sparse) {
    for (size_t off = 0; off < touch; off += 4096) p[off] = 1;
  } else {
    for (int pass = 0; pass < 2; pass++)
      for (size_t off = (size_t)pass * 2 * 4096; off < len; off += 4 * 4096) {
        p[off] = 1;
        if (off + 4096 < len) p[off + 4096] = 1;
      }
  }
  printf("%p\n", (void *)p);
  fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {
  }
  return 0;
}
