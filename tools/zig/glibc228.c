/* Linked into _cuda by tools/zig/cuda-link: definitions, private to _cuda, of the two
 * glibc symbols newer than 2.28 that gcc 12's libstdc++ headers and libstdc++.a refer to,
 * so that the wheel's _cuda needs nothing past glibc 2.28. */
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* glibc 2.32: libstdc++ skips atomic reference counts when this is nonzero; 0 keeps them. */
char __libc_single_threaded = 0;

/* glibc 2.36: std::random_device's "arc4random" source (read from the kernel here). */
uint32_t arc4random(void) {
  uint32_t v;
  while (syscall(SYS_getrandom, &v, sizeof v, 0) != (long)sizeof v) {
  }
  return v;
}

