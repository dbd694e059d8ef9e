// swap PATH TARGET [hold_us] : exchange PATH (a directory) with a symlink to TARGET, and back, forever.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/fs.h>
static volatile sig_atomic_t stop;
static void on(int s) { (void)s; stop = 1; }
static int xchg(const char *a, const char *b) { return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE); }
int main(int argc, char **argv) {
  if (argc < 3) return 2;
  const char *p = argv[1], *t = argv[2];
  int hold = argc > 3 ? atoi(argv[3]) : 0; /* argv[4]: where the symlink waits (default PATH.evil) */
  char evil[4096];
  snprintf(evil, sizeof evil, "%s", argc > 4 ? argv[4] : "");
  if (!*evil) snprintf(evil, sizeof evil, "%s.evil", p);
  unlink(evil);
  if (symlink(t, evil)) { perror("symlink"); return 1; }
  signal(SIGTERM, on); signal(SIGINT, on);
  if (argc > 5) { struct stat st; while (!stop && lstat(argv[5], &st) != 0) usleep(50); } /* argv[5]: start once this exists */
  long n = 0, fails = 0;
  int swapped = 0;
  while (!stop) {
    if (xchg(p, evil) == 0) { swapped = !swapped; n++; if (hold) usleep(hold); }
    else fails++;
  }
  if (swapped) xchg(p, evil);
  unlink(evil);
  fprintf(stderr, "swaps=%ld fails=%ld\n", n, fails);
  return 0;
}
