// Softmax, log-softmax and fused log-softmax + cross-entropy, forward and backward.
// Drivers and the portable twins (softmax_avx2.cpp has the float32 AVX2 pieces).
//
// Shapes: x viewed as (outer, C, inner), normalised along C.
//   inner == 1 (last axis): one contiguous row per (outer); passes per row:
//     softmax      max | y = exp(x - max), Σ | y *= 1/Σ
//     log_softmax  max | Σ exp(x - max)      | y = (x - max) - log Σ
//   inner > 1: (C, inner) slabs walked with stride `inner`, 32 lanes of inner at a
//   time, same passes per lane (no transpose copy).
// Cross-entropy (N, C): per row max, Σexp and Σx (for label smoothing), loss from lse.
// Threads: over rows, or over (outer, lane-block) pairs, when the array is ≥ 32k
// elements. Sums are double (generic) or float lanes flushed to double (AVX2).
// Speed: see softmax_avx2.cpp; python -m nnkernels --only softmax.
#include "softmax/softmax.h"


#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "common.h"
#include "runtime/threads.h"
#include "kernels.h"

namespace nk {
namespace {

constexpr int64_t kParallelMin = 32768;
constexpr int64_t kLanes = 32;

template <typename T>
inline T nanmax(T a, T b) {
  return (a != a || b != b) ? std::numeric_limits<T>::quiet_NaN() : (a > b ? a : b);
}

// ---- naive reference rows (portable twin) ---------------------------------------
template <typename T>
T row_max_ref(const T* x, int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t i = 0; i < n; ++i) m = nanmax(m, x[i]);
  return m;
}
template <typename T>
double row_sumexp_ref(const T* x, int64_t n, T m, T* y, double* sumx) {
  double s = 0, sx = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T e = std::exp(x[i] - m);
    if (y) y[i] = e;
    s += e;
    sx += x[i];
  }
  if (sumx) *sumx = sx;
  return s;
}

// ---- dispatch: the path's float32 kernels when it has them, else the reference ------
template <typename T>
struct Rows {
  const SoftmaxKernels& k = kernels().softmax;
  bool avx;  // the path has vector kernels (all entries set together)
  static constexpr bool kF = std::is_same_v<T, float>;
  explicit Rows() : avx(kF && k.row_max) {}
  T max(const T* x, int64_t n) const {
    if constexpr (kF) if (avx) return k.row_max(x, n);
    return row_max_ref(x, n);
  }
  double sumexp(const T* x, int64_t n, T m, T* y, double* sumx) const {
    if constexpr (kF) if (avx) return k.row_sumexp(x, n, m, y, sumx);
    return row_sumexp_ref(x, n, m, y, sumx);
  }
  void scale(T* y, int64_t n, T a) const {
    if constexpr (kF) if (avx) return k.row_scale(y, n, a);
    for (int64_t i = 0; i < n; ++i) y[i] *= a;
  }
  void shift(T* y, const T* x, int64_t n, T m, T ls) const {
    if constexpr (kF) if (avx) return k.row_shift(y, x, n, m, ls);
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) - ls;
  }
  double dot(const T* a, const T* b, int64_t n) const {
    if constexpr (kF) if (avx) return k.row_dot(a, b, n);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += double(a[i]) * double(b[i]);
    return s;
  }
  double sum(const T* a, int64_t n) const {
    if constexpr (kF) if (avx) return k.row_sum(a, n);
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += a[i];
    return s;
  }
  void sm_bwd(T* gx, const T* g, const T* y, int64_t n, T d) const {
    if constexpr (kF) if (avx) return k.row_bwd(gx, g, y, n, d);
    for (int64_t i = 0; i < n; ++i) gx[i] = y[i] * (g[i] - d);
  }
  void lsm_bwd(T* gx, const T* g, const T* y, int64_t n, T s) const {
    if constexpr (kF) if (avx) return k.lsm_row_bwd(gx, g, y, n, s);
    for (int64_t i = 0; i < n; ++i) gx[i] = g[i] - std::exp(y[i]) * s;
  }
  void ce_grad(T* gx, const T* x, int64_t n, T m, T ls, T scale, T off) const {
    if constexpr (kF) if (avx) return k.ce_row_grad(gx, x, n, m, ls, scale, off);
    for (int64_t i = 0; i < n; ++i) gx[i] = scale * std::exp((x[i] - m) - ls) - off;
  }
};

// One row: softmax / log-softmax.
template <typename T>
void row_forward(const Rows<T>& R, T* y, const T* x, int64_t C, bool log) {
  const T m = R.max(x, C);
  if (log) {
    const double s = R.sumexp(x, C, m, nullptr, nullptr);
    R.shift(y, x, C, m, T(std::log(s)));
  } else {
    const double s = R.sumexp(x, C, m, y, nullptr);
    R.scale(y, C, T(1.0 / s));
  }
}

template <typename T>
void row_backward(const Rows<T>& R, T* gx, const T* g, const T* y, int64_t C, bool log) {
  if (log) R.lsm_bwd(gx, g, y, C, T(R.sum(g, C)));
  else R.sm_bwd(gx, g, y, C, T(R.dot(g, y, C)));
}

// Lanes [i0, i1) of one (C, inner) slab: the strided reference.
template <typename T>
void cols_forward_ref(T* y, const T* x, int64_t C, int64_t inner, int64_t i0, int64_t i1, bool log) {
  T m[kLanes];
  double s[kLanes];
  const int64_t w = i1 - i0;
  for (int64_t j = 0; j < w; ++j) m[j] = -std::numeric_limits<T>::infinity(), s[j] = 0;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t j = 0; j < w; ++j) m[j] = nanmax(m[j], x[c * inner + i0 + j]);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t j = 0; j < w; ++j) {
      const T e = std::exp(x[c * inner + i0 + j] - m[j]);
      if (!log) y[c * inner + i0 + j] = e;
      s[j] += e;
    }
  T a[kLanes];
  for (int64_t j = 0; j < w; ++j) a[j] = log ? T(std::log(s[j])) : T(1.0 / s[j]);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t j = 0; j < w; ++j) {
      const int64_t k = c * inner + i0 + j;
      y[k] = log ? (x[k] - m[j]) - a[j] : y[k] * a[j];
    }
}

template <typename T>
void cols_backward_ref(T* gx, const T* g, const T* y, int64_t C, int64_t inner, int64_t i0, int64_t i1,
                       bool log) {
  double s[kLanes];
  const int64_t w = i1 - i0;
  for (int64_t j = 0; j < w; ++j) s[j] = 0;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t j = 0; j < w; ++j) {
      const int64_t k = c * inner + i0 + j;
      s[j] += log ? double(g[k]) : double(g[k]) * double(y[k]);
    }
  for (int64_t c = 0; c < C; ++c)
    for (int64_t j = 0; j < w; ++j) {
      const int64_t k = c * inner + i0 + j;
      gx[k] = log ? g[k] - std::exp(y[k]) * T(s[j]) : y[k] * (g[k] - T(s[j]));
    }
}

}  // namespace

template <typename T>
void softmax_forward(T* y, const T* x, int64_t outer, int64_t C, int64_t inner, bool log) {
  const Rows<T> R;
  const bool par = outer * C * inner >= kParallelMin && num_threads() > 1;
  if (inner == 1) {
    parallel_for_each(outer, par ? num_threads() : 1, [&](int64_t o) { row_forward(R, y + o * C, x + o * C, C, log); });
    return;
  }
  const int64_t nb = ceil_div(inner, kLanes);
  parallel_for_each(outer * nb, par ? num_threads() : 1, [&](int64_t ob) {
    const int64_t o = ob / nb, i0 = (ob % nb) * kLanes, i1 = std::min(inner, i0 + kLanes);
    T* yo = y + o * C * inner;
    const T* xo = x + o * C * inner;
    if constexpr (std::is_same_v<T, float>) {
      if (R.avx) {
        R.k.cols(yo, xo, C, inner, i0, i1, log);
        return;
      }
    }
    cols_forward_ref(yo, xo, C, inner, i0, i1, log);
  });
}

template <typename T>
void softmax_backward(T* gx, const T* g, const T* y, int64_t outer, int64_t C, int64_t inner, bool log) {
  const Rows<T> R;
  const bool par = outer * C * inner >= kParallelMin && num_threads() > 1;
  if (inner == 1) {
    parallel_for_each(outer, par ? num_threads() : 1, [&](int64_t o) { row_backward(R, gx + o * C, g + o * C, y + o * C, C, log); });
    return;
  }
  const int64_t nb = ceil_div(inner, kLanes);
  parallel_for_each(outer * nb, par ? num_threads() : 1, [&](int64_t ob) {
    const int64_t o = ob / nb, i0 = (ob % nb) * kLanes, i1 = std::min(inner, i0 + kLanes);
    const int64_t off = o * C * inner;
    if constexpr (std::is_same_v<T, float>) {
      if (R.avx) {
        R.k.cols_bwd(gx + off, g + off, y + off, C, inner, i0, i1, log);
        return;
      }
    }
    cols_backward_ref(gx + off, g + off, y + off, C, inner, i0, i1, log);
  });
}

template <typename T>
void cross_entropy_forward(T* loss, const T* x, const int64_t* target, int64_t N, int64_t C, T smoothing) {
  // x (N, C), target (N), loss (N)
  const Rows<T> R;
  const bool par = N * C >= kParallelMin && num_threads() > 1;
  const double eps = smoothing;
  parallel_for_each(N, par ? num_threads() : 1, [&](int64_t i) {
    const T* xi = x + i * C;
    const T m = R.max(xi, C);
    double sumx = 0;
    const double s = R.sumexp(xi, C, m, nullptr, eps != 0 ? &sumx : nullptr);
    const double lse = double(m) + std::log(s);
    double l = (1 - eps) * (lse - double(xi[target[i]]));
    if (eps != 0) l += eps * (lse - sumx / double(C));
    loss[i] = T(l);
  });
}

template <typename T>
void cross_entropy_backward(T* gx, const T* x, const int64_t* target, const T* gscale, int64_t gstride,
                            int64_t N, int64_t C, T smoothing) {
  // x, gx (N, C); gscale[i * gstride] is dloss/dloss_i
  const Rows<T> R;
  const bool par = N * C >= kParallelMin && num_threads() > 1;
  parallel_for_each(N, par ? num_threads() : 1, [&](int64_t i) {
    const T* xi = x + i * C;
    T* gi = gx + i * C;
    const T m = R.max(xi, C);
    const double s = R.sumexp(xi, C, m, nullptr, nullptr);
    const T scale = gscale[i * gstride];
    R.ce_grad(gi, xi, C, m, T(std::log(s)), scale, T(double(scale) * double(smoothing) / double(C)));
    gi[target[i]] -= T(double(scale) * (1.0 - double(smoothing)));
  });
}

#define NK_INSTANTIATE(T)                                                                               \
  template void softmax_forward<T>(T*, const T*, int64_t, int64_t, int64_t, bool);                      \
  template void softmax_backward<T>(T*, const T*, const T*, int64_t, int64_t, int64_t, bool);           \
  template void cross_entropy_forward<T>(T*, const T*, const int64_t*, int64_t, int64_t, T);            \
  template void cross_entropy_backward<T>(T*, const T*, const int64_t*, const T*, int64_t, int64_t, int64_t, T);
NK_INSTANTIATE(float)
NK_INSTANTIATE(double)
#undef NK_INSTANTIATE

}  // namespace nk
