// Runtime CPU feature detection (CPUID + the OS's XCR0 bits) and the library-wide
// thread count. The kernel table of each path is in csrc/isa/.
#include "common.h"

#include <atomic>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace nk {
namespace {

CpuFeatures detect() {
  CpuFeatures f{};
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27), fma = c & (1u << 12);
  if (!osxsave) return f;  // the OS does not save the vector state: SSE only
  // XCR0: bit 1 SSE, 2 AVX (ymm upper), 5 opmask, 6 zmm upper 0..15, 7 zmm 16..31.
  unsigned xlo, xhi;
  __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
  const bool os_ymm = (xlo & 0x6u) == 0x6u, os_zmm = (xlo & 0xe6u) == 0xe6u;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = b & (1u << 5);
  const bool f512 = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30), vl = b & (1u << 31);
  f.avx2_fma = os_ymm && avx2 && fma;
  f.avx512 = f.avx2_fma && os_zmm && f512 && dq && bw && vl;
  f.avx512_vnni = f.avx512 && (c & (1u << 11));
  f.amx = d & (1u << 24);  // AMX-TILE (the OS must also grant it; reported only)
  unsigned a1, b1, c1, d1;
  __cpuid_count(7, 1, a1, b1, c1, d1);
  f.avx512_bf16 = f.avx512 && (a1 & (1u << 5));
#endif
  return f;
}

Isa initial_isa() {
  // NNKERNELS_CPU forces a path; a path this CPU cannot run (or a bad name) falls back
  // to the best one (the Python layer warns, see _config.py).
  const char* env = std::getenv("NNKERNELS_CPU");
  Isa want;
  if (env && isa_from_name(env, &want) && cpu_supports(want)) return want;
  return best_isa();
}

std::atomic<int> g_isa{-1};

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

bool cpu_supports(Isa isa) {
  switch (isa) {
    case Isa::generic: return true;
    case Isa::avx2: return cpu_features().avx2_fma;
    case Isa::avx512: return cpu_features().avx512;
  }
  return false;
}

Isa best_isa() {
  return cpu_supports(Isa::avx512) ? Isa::avx512 : cpu_supports(Isa::avx2) ? Isa::avx2 : Isa::generic;
}

Isa current_isa() {
  int v = g_isa.load(std::memory_order_relaxed);
  if (v < 0) {
    v = static_cast<int>(initial_isa());
    g_isa.store(v);
  }
  return static_cast<Isa>(v);
}

bool set_isa(Isa isa) {
  if (!cpu_supports(isa)) return false;
  g_isa.store(static_cast<int>(isa));
  return true;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    default: return "generic";
  }
}

bool isa_from_name(const char* name, Isa* out) {
  for (int i = 0; i < kNumIsas; ++i) {
    if (std::strcmp(name, isa_name(static_cast<Isa>(i))) == 0) {
      *out = static_cast<Isa>(i);
      return true;
    }
  }
  return false;
}

}  // namespace nk
