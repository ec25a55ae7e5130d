// 2-D pooling, NCHW, forward and backward: max (with torch's flat h·W + w indices),
// average (count_include_pad, ceil_mode) and adaptive average.
//
// Shapes: x (planes = N·C, H, W) -> y (planes, P, Q).
// Forward: parallel over (plane, output row) pairs. Per output row the valid window
// rows are found once; outputs whose window lies inside the row horizontally go to the
// AVX2 row kernel (pool_avx2.cpp: float32, horizontal stride 1 or 2, no horizontal
// dilation), the padded edges and every other case to the scalar reference below.
// Backward: parallel over planes (each plane of grad_x is owned by one thread), zero
// the plane, then scatter-add (max) or spread grad/divisor over the window (avg).
// Speed: see pool_avx2.cpp (max/avg forward 5–20× torch at 1 thread); backward ≈ 1.0–1.6×
// torch (scatter-bound). python -m nnkernels --only pool
#include "pool/pool.h"


#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "common.h"
#include "runtime/threads.h"
#include "kernels.h"

namespace nk {
namespace {

constexpr int64_t kParallelMin = 16384;  // input elements below which one thread does it

bool parallel(int64_t work) { return work >= kParallelMin && num_threads() > 1; }

// Window taps along one axis for output o: taps k ∈ [k0, k1) land on o·s - p + k·d ∈ [0, n).
inline void taps(int64_t o, int64_t s, int64_t p, int64_t d, int64_t k, int64_t n, int64_t& k0, int64_t& k1) {
  const int64_t start = o * s - p;
  if (d == 1) {  // no divisions on the common path
    k0 = start >= 0 ? 0 : -start;
    k1 = std::min(k, n - start);
  } else {
    k0 = start >= 0 ? 0 : (-start + d - 1) / d;
    k1 = start >= n ? 0 : std::min(k, (n - 1 - start) / d + 1);
  }
  if (k1 < k0) k1 = k0;
}

// Range of outputs [lo, hi) whose horizontal window is inside [0, W) including the
// extra columns the AVX2 loads touch; empty unless the AVX2 kernel can run.
inline void interior(const PoolShape& s, int64_t& lo, int64_t& hi) {
  lo = ceil_div(s.pw, s.sw);
  const int64_t extra = s.sw == 2 ? ((s.kw - 1) & ~int64_t(1)) + 1 : s.kw - 1;  // last column read - q·sw + pw
  // q·sw - pw + extra ≤ W - 1
  const int64_t top = s.W - 1 + s.pw - extra;
  hi = top < 0 ? 0 : std::min(s.Q, top / s.sw + 1);
  if (hi - lo < 8) lo = hi = 0;
}

// ---- naive reference (one output at a time) ---------------------------------------
template <typename T>
void max_row_ref(T* y, int64_t* idx, const T* x, const PoolShape& s, int64_t p, int64_t q0, int64_t q1) {
  if (q0 >= q1) return;
  int64_t r0, r1;
  taps(p, s.sh, s.ph, s.dh, s.kh, s.H, r0, r1);
  for (int64_t q = q0; q < q1; ++q) {
    int64_t c0, c1;
    taps(q, s.sw, s.pw, s.dw, s.kw, s.W, c0, c1);
    const int64_t hs = p * s.sh - s.ph, ws = q * s.sw - s.pw;
    // value pass, branch-free: max (maxss) plus a NaN flag
    T m = -std::numeric_limits<T>::infinity();
    bool nan = false;
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + (hs + r * s.dh) * s.W + ws;
      for (int64_t c = c0; c < c1; ++c) {
        const T v = xr[c * s.dw];
        nan |= v != v;
        m = m > v ? m : v;
      }
    }
    if (nan) m = std::numeric_limits<T>::quiet_NaN();
    y[q] = m;
    if (!idx) continue;
    // index pass, torch's rule: the first position of the max, or the last NaN
    int64_t mi = (hs + r0 * s.dh) * s.W + ws + c0 * s.dw;
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t i = (hs + r * s.dh) * s.W + ws + c * s.dw;
        const T v = x[i];
        if (nan ? v != v : v == m) {
          mi = i;
          if (!nan) goto found;
        }
      }
  found:
    idx[q] = mi;
  }
}

// torch's divisor: the window clipped to the padded input (count_include_pad) or to
// the input itself.
inline int64_t avg_divisor(const PoolShape& s, int64_t p, int64_t q) {
  const int64_t hs = p * s.sh - s.ph, ws = q * s.sw - s.pw;
  const int64_t he = std::min(hs + s.kh, s.H + s.ph), we = std::min(ws + s.kw, s.W + s.pw);
  if (s.count_include_pad) return (he - hs) * (we - ws);
  return (std::min(he, s.H) - std::max(hs, int64_t(0))) * (std::min(we, s.W) - std::max(ws, int64_t(0)));
}

template <typename T>
void avg_row_ref(T* y, const T* x, const PoolShape& s, int64_t p, int64_t q0, int64_t q1) {
  if (q0 >= q1) return;
  int64_t r0, r1;
  taps(p, s.sh, s.ph, 1, s.kh, s.H, r0, r1);
  for (int64_t q = q0; q < q1; ++q) {
    int64_t c0, c1;
    taps(q, s.sw, s.pw, 1, s.kw, s.W, c0, c1);
    const int64_t hs = p * s.sh - s.ph, ws = q * s.sw - s.pw;
    T acc = 0;
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = c0; c < c1; ++c) acc += x[(hs + r) * s.W + ws + c];
    y[q] = acc / T(avg_divisor(s, p, q));
  }
}

// Σ p[0..n) with 8 independent partial sums (no serial add chain; vectorisable).
template <typename T>
T sum_run_ref(const T* p, int64_t n) {
  T acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += p[i + j];
  for (int j = 0; i + j < n; ++j) acc[j] += p[i + j];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

template <typename T>
T sum_run(const T* p, int64_t n, float (*fast)(const float*, int64_t)) {
  if constexpr (std::is_same_v<T, float>) {
    if (fast) return fast(p, n);
  }
  return sum_run_ref(p, n);
}

inline int64_t adaptive_start(int64_t o, int64_t n, int64_t out) { return (o * n) / out; }
inline int64_t adaptive_end(int64_t o, int64_t n, int64_t out) { return ((o + 1) * n + out - 1) / out; }

}  // namespace

template <typename T>
void max_pool2d_forward(T* y, int64_t* idx, const T* x, const PoolShape& s) {
  // x (planes, H, W), y/idx (planes, P, Q)
  int64_t qlo = 0, qhi = 0;
  bool avx = false;
  const auto row_fast = kernels().pool.row;  // read once: one table for the whole call
  if constexpr (std::is_same_v<T, float>)
    avx = row_fast && s.dw == 1 && (s.sw == 1 || s.sw == 2) && s.H * s.W < (int64_t(1) << 31);
  if (avx) interior(s, qlo, qhi);
  parallel_for_each(s.planes * s.P, parallel(s.planes * s.H * s.W) ? num_threads() : 1, [&](int64_t np) {
    const int64_t n = np / s.P, p = np % s.P;
    const int64_t pr = n * s.P + p;
    const T* xp = x + n * s.H * s.W;
    T* yr = y + pr * s.Q;
    int64_t* ir = idx ? idx + pr * s.Q : nullptr;
    if constexpr (std::is_same_v<T, float>) {
      if (qhi > qlo) {
        int64_t r0, r1;
        taps(p, s.sh, s.ph, s.dh, s.kh, s.H, r0, r1);
        if (r1 > r0) {
          row_fast(yr, ir, xp, s.W, p * s.sh - s.ph + r0 * s.dh, r1 - r0, s.dh, s.kw, s.sw, s.pw, qlo, qhi,
                        idx ? 1 : 0, 1.0f);
          max_row_ref(yr, ir, xp, s, p, 0, qlo);
          max_row_ref(yr, ir, xp, s, p, qhi, s.Q);
          return;
        }
      }
    }
    max_row_ref(yr, ir, xp, s, p, 0, s.Q);
  });
}

template <typename T>
int64_t max_pool2d_backward(T* gx, const T* gy, const int64_t* idx, int64_t planes, int64_t HW, int64_t PQ) {
  // gy, idx (planes, PQ); gx (planes, HW)
  std::atomic<int64_t> bad{0};
  parallel_for(planes, parallel(planes * HW) ? num_threads() : 1, [&](int64_t n0, int64_t n1) {
    int64_t miss = 0;
    for (int64_t n = n0; n < n1; ++n) {
      T* g = gx + n * HW;
      std::memset(g, 0, sizeof(T) * HW);
      const T* gyn = gy + n * PQ;
      const int64_t* in = idx + n * PQ;
      for (int64_t j = 0; j < PQ; ++j) {
        const int64_t i = in[j];
        if (i >= 0 && i < HW) g[i] += gyn[j];
        else ++miss;
      }
    }
    if (miss) bad += miss;
  });
  return bad.load();
}

template <typename T>
void avg_pool2d_forward(T* y, const T* x, const PoolShape& s) {
  int64_t qlo = 0, qhi = 0;
  bool avx = false;
  const auto row_fast = kernels().pool.row;  // read once: one table for the whole call
  if constexpr (std::is_same_v<T, float>) avx = row_fast && (s.sw == 1 || s.sw == 2);
  if (avx) interior(s, qlo, qhi);
  parallel_for_each(s.planes * s.P, parallel(s.planes * s.H * s.W) ? num_threads() : 1, [&](int64_t np) {
    const int64_t n = np / s.P, p = np % s.P;
    const int64_t pr = n * s.P + p;
    const T* xp = x + n * s.H * s.W;
    T* yr = y + pr * s.Q;
    if constexpr (std::is_same_v<T, float>) {
      if (qhi > qlo) {
        int64_t r0, r1;
        taps(p, s.sh, s.ph, 1, s.kh, s.H, r0, r1);
        if (r1 > r0) {
          // interior columns: the divisor only depends on the row
          const float scale = 1.0f / float(avg_divisor(s, p, qlo));
          row_fast(yr, nullptr, xp, s.W, p * s.sh - s.ph + r0, r1 - r0, 1, s.kw, s.sw, s.pw, qlo, qhi, 2, scale);
          avg_row_ref(yr, xp, s, p, 0, qlo);
          avg_row_ref(yr, xp, s, p, qhi, s.Q);
          return;
        }
      }
    }
    avg_row_ref(yr, xp, s, p, 0, s.Q);
  });
}

template <typename T>
void avg_pool2d_backward(T* gx, const T* gy, const PoolShape& s) {
  // gy (planes, P, Q) -> gx (planes, H, W)
  parallel_for_each(s.planes, parallel(s.planes * s.H * s.W) ? num_threads() : 1, [&](int64_t n) {
    T* g = gx + n * s.H * s.W;
    std::memset(g, 0, sizeof(T) * s.H * s.W);
    const T* gyn = gy + n * s.P * s.Q;
    for (int64_t p = 0; p < s.P; ++p) {
      int64_t r0, r1;
      taps(p, s.sh, s.ph, 1, s.kh, s.H, r0, r1);
      const int64_t hs = p * s.sh - s.ph;
      for (int64_t q = 0; q < s.Q; ++q) {
        int64_t c0, c1;
        taps(q, s.sw, s.pw, 1, s.kw, s.W, c0, c1);
        const int64_t ws = q * s.sw - s.pw;
        const T v = gyn[p * s.Q + q] / T(avg_divisor(s, p, q));
        for (int64_t r = r0; r < r1; ++r) {
          T* gr = g + (hs + r) * s.W + ws;
          for (int64_t c = c0; c < c1; ++c) gr[c] += v;
        }
      }
    }
  });
}

template <typename T>
void adaptive_avg_pool2d_forward(T* y, const T* x, int64_t planes, int64_t H, int64_t W, int64_t P, int64_t Q) {
  // x (planes, H, W) -> y (planes, P, Q); window bounds computed once, not per output
  std::vector<int64_t> hb(2 * P), wb(2 * Q);
  for (int64_t p = 0; p < P; ++p) hb[2 * p] = adaptive_start(p, H, P), hb[2 * p + 1] = adaptive_end(p, H, P);
  for (int64_t q = 0; q < Q; ++q) wb[2 * q] = adaptive_start(q, W, Q), wb[2 * q + 1] = adaptive_end(q, W, Q);
  const auto sum_fast = kernels().pool.sum_run;  // null: the portable sum
  if (P == 1 && Q == 1) {  // global average pooling: one contiguous sum per plane
    const int64_t HW = H * W;
    parallel_for_each(planes, parallel(planes * HW) ? num_threads() : 1, [&](int64_t n) { y[n] = sum_run(x + n * HW, HW, sum_fast) / T(HW); });
    return;
  }
  const int64_t* hbp = hb.data();
  const int64_t* wbp = wb.data();
  parallel_for_each(planes * P, parallel(planes * H * W) ? num_threads() : 1, [&](int64_t np) {
    const int64_t n = np / P, p = np % P;
    const int64_t h0 = hbp[2 * p], h1 = hbp[2 * p + 1];
    const T* xp = x + n * H * W;
    T* yr = y + (n * P + p) * Q;
    for (int64_t q = 0; q < Q; ++q) {
      const int64_t w0 = wbp[2 * q], w1 = wbp[2 * q + 1];
      T sum = 0;
      if (w0 == 0 && w1 == W) {  // whole rows: one contiguous run (global average pooling)
        sum = sum_run(xp + h0 * W, (h1 - h0) * W, sum_fast);
      } else {
        for (int64_t h = h0; h < h1; ++h) sum += sum_run(xp + h * W + w0, w1 - w0, sum_fast);
      }
      yr[q] = sum / T((h1 - h0) * (w1 - w0));
    }
  });
}

template <typename T>
void adaptive_avg_pool2d_backward(T* gx, const T* gy, int64_t planes, int64_t H, int64_t W, int64_t P, int64_t Q) {
  parallel_for_each(planes, parallel(planes * H * W) ? num_threads() : 1, [&](int64_t n) {
    T* g = gx + n * H * W;
    std::memset(g, 0, sizeof(T) * H * W);
    for (int64_t p = 0; p < P; ++p) {
      const int64_t h0 = adaptive_start(p, H, P), h1 = adaptive_end(p, H, P);
      for (int64_t q = 0; q < Q; ++q) {
        const int64_t w0 = adaptive_start(q, W, Q), w1 = adaptive_end(q, W, Q);
        const T v = gy[(n * P + p) * Q + q] / T((h1 - h0) * (w1 - w0));
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) g[h * W + w] += v;
      }
    }
  });
}

#define NK_INSTANTIATE(T)                                                                                  \
  template void max_pool2d_forward<T>(T*, int64_t*, const T*, const PoolShape&);                          \
  template int64_t max_pool2d_backward<T>(T*, const T*, const int64_t*, int64_t, int64_t, int64_t);        \
  template void avg_pool2d_forward<T>(T*, const T*, const PoolShape&);                                     \
  template void avg_pool2d_backward<T>(T*, const T*, const PoolShape&);                                    \
  template void adaptive_avg_pool2d_forward<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t); \
  template void adaptive_avg_pool2d_backward<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t);
NK_INSTANTIATE(float)
NK_INSTANTIATE(double)
#undef NK_INSTANTIATE

}  // namespace nk
