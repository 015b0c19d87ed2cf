/*
 * Runs a command and reports the CPU time it used, as the shell's `time` does: fork, exec, then
 * wait4() for the child's resource usage (user + system time of the command and of every
 * descendant it waited for, which includes a Node process's own helper threads).
 *
 * Usage: cpu-time COMMAND [ARGS...]
 * The command's stdout and stderr pass through. On exit prints "cpu_us=N status=S" on stderr
 * and exits 0 when the command exited 0, else 1.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: cpu-time COMMAND [ARGS...]\n");
    return 2;
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    execvp(argv[1], argv + 1);
    perror("execvp");
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) {
    perror("wait4");
    return 1;
  }
  long long us = (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
                 (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
  fprintf(stderr, "cpu_us=%lld status=%d\n", us, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
