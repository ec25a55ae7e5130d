// Runtime CPU feature detection and the library-wide thread count.
#include "common.h"

#include <omp.h>
#include <atomic>
#include <cstring>

namespace nk {
namespace {

bool detect_avx2_fma() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

Isa initial_isa() {
  const bool has = detect_avx2_fma();
  const char* env = std::getenv("NNKERNELS_CPU");
  if (env && std::strcmp(env, "generic") == 0) return Isa::generic;
  return has ? Isa::avx2 : Isa::generic;  // "avx2" on a CPU without it falls back (Python warns)
}

std::atomic<int> g_isa{static_cast<int>(initial_isa())};
std::atomic<int> g_threads{0};

}  // namespace

bool cpu_has_avx2_fma() {
  static const bool has = detect_avx2_fma();
  return has;
}

Isa current_isa() { return static_cast<Isa>(g_isa.load(std::memory_order_relaxed)); }

bool set_isa(Isa isa) {
  if (isa == Isa::avx2 && !cpu_has_avx2_fma()) return false;
  g_isa.store(static_cast<int>(isa));
  return true;
}

const char* isa_name(Isa isa) { return isa == Isa::avx2 ? "avx2" : "generic"; }

int num_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  if (n <= 0) {
    n = omp_get_max_threads();  // honours OMP_NUM_THREADS at first use
    g_threads.store(n);
  }
  return n;
}

void set_num_threads(int n) { g_threads.store(n < 1 ? 1 : n); }

}  // namespace nk
