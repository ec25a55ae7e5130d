// Packing for the implicit-GEMM convolution: im2col panels read straight from the
// image (never a whole im2col buffer), the pre-packed weights, and col2im.
//
// Variants (conv_pack.h has each contract): RowsB (plain rows, fixed-size copies),
// PrepackedA (weights packed once per call), Im2colPacker / Im2colTPacker (any geometry),
// WrapPacker / WrapTPacker / WrapImagesA (stride 1, wide rows: a strip is one copy, the
// transpose for grad w goes through the kernel table's interleave_rows), col2im_add.
// Their cost inside the convolution: ~6 % of the samples (perf, forward N8 C128 28×28).
//
// The loops work in runs: a run is a stretch of GEMM columns (or rows) that share one
// output row p, so for stride 1 the image row is read (or written) contiguously and the
// padding is handled by clipping the run once, not per element.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <type_traits>

#include "conv/conv_pack.h"
#include "kernels.h"

namespace nk {

namespace {

// A constant-size memcpy: the compiler emits vector moves (a loop here stays scalar for
// fear of aliasing).
template <typename T, int NRc>
inline void copy_fixed(T* d, const T* s) {
  std::memcpy(d, s, sizeof(T) * NRc);
}

// One strip row of n values, n = a table's NR (8, 16 or 32: fixed-size copies), else memcpy.
template <typename T>
inline void copy_strip(T* d, const T* s, int n) {
  switch (n) {
    case 8: return copy_fixed<T, 8>(d, s);
    case 16: return copy_fixed<T, 16>(d, s);
    case 32: return copy_fixed<T, 32>(d, s);
    default: std::memcpy(d, s, sizeof(T) * size_t(n));
  }
}
inline bool fixed_strip(int n) { return n == 8 || n == 16 || n == 32; }

// Copy src[w0 + t·sw] for t < len into d[t·ds], zero where w0 + t·sw is outside [0, W).
template <typename T>
inline void gather_row(T* d, int64_t ds, const T* row, int64_t w0, int64_t sw, int64_t len, int64_t W) {
  if (sw == 1) {
    const int64_t t0 = std::min(len, std::max<int64_t>(0, -w0));
    const int64_t t1 = std::max(t0, std::min(len, W - w0));
    const T* s = row + w0;
    if (ds == 1) {
      for (int64_t t = 0; t < t0; ++t) d[t] = T(0);
      for (int64_t t = t0; t < t1; ++t) d[t] = s[t];
      for (int64_t t = t1; t < len; ++t) d[t] = T(0);
    } else {
      for (int64_t t = 0; t < t0; ++t) d[t * ds] = T(0);
      for (int64_t t = t0; t < t1; ++t) d[t * ds] = s[t];
      for (int64_t t = t1; t < len; ++t) d[t * ds] = T(0);
    }
  } else {
    for (int64_t t = 0; t < len; ++t) {
      const int64_t w = w0 + t * sw;
      d[t * ds] = uint64_t(w) < uint64_t(W) ? row[w] : T(0);
    }
  }
}

struct Run {
  int64_t at, len, n, p, q;  // GEMM index offset, length, image, output row, first output column
};

// Split [j, j + len) of the flattened (n, p, q) index into runs of one output row.
inline int split_runs(int64_t j, int64_t len, int64_t P, int64_t Q, Run* runs) {
  const int64_t PQ = P * Q;
  int64_t n = j / PQ, rem = j % PQ, p = rem / Q, q = rem % Q;
  int cnt = 0;
  for (int64_t at = 0; at < len;) {
    const int64_t l = std::min(Q - q, len - at);
    runs[cnt++] = Run{at, l, n, p, q};
    at += l;
    q = 0;
    if (++p == P) { p = 0; ++n; }
  }
  return cnt;
}

}  // namespace

// ---- pre-packed weights ----------------------------------------------------------

template <typename T>
void PrepackedA<T>::pack_a(T* dst, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int MR) const {
  const T* src = buf + (i0 / MR) * K * MR + k0 * MR;
  for (int64_t r0 = 0; r0 < mc; r0 += MR, dst += kc * MR, src += K * MR)
    std::memcpy(dst, src, sizeof(T) * size_t(kc * MR));
}
template <typename T>
void PrepackedA<T>::pack_b(T*, int64_t, int64_t, int64_t, int64_t, int) const { std::abort(); }

// ---- plain rows as B ---------------------------------------------------------------

template <typename T>
void RowsB<T>::pack_a(T*, int64_t, int64_t, int64_t, int64_t, int) const { std::abort(); }

template <typename T>
void RowsB<T>::pack_b(T* dst, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int NR) const {
  for (int64_t s0 = 0; s0 < nc; s0 += NR, dst += kc * NR) {
    const int nr = int(std::min<int64_t>(NR, nc - s0));
    const T* src = p + k0 * ld + j0 + s0;
    if (nr == NR && fixed_strip(NR)) {
      for (int64_t kk = 0; kk < kc; ++kk) copy_strip(dst + kk * NR, src + kk * ld, NR);
    } else {
      for (int64_t kk = 0; kk < kc; ++kk) {
        for (int j = 0; j < nr; ++j) dst[kk * NR + j] = src[kk * ld + j];
        for (int j = nr; j < NR; ++j) dst[kk * NR + j] = T(0);
      }
    }
  }
}

// ---- im2col as B -------------------------------------------------------------------

template <typename T>
void Im2colPacker<T>::pack_a(T*, int64_t, int64_t, int64_t, int64_t, int) const { std::abort(); }

template <typename T>
void Im2colPacker<T>::pack_b(T* dst, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int NR) const {
  const int64_t H = g.H, W = g.W, R = g.R, S = g.S, HW = H * W;
  Run runs[64];
  for (int64_t s0 = 0; s0 < nc; s0 += NR, dst += kc * NR) {
    const int nr = int(std::min<int64_t>(NR, nc - s0));
    const int nrun = split_runs(jbase + j0 + s0, nr, g.P, g.Q, runs);
    int64_t c = k0 / (R * S), r = (k0 / S) % R, s = k0 % S;
    for (int64_t kk = 0; kk < kc; ++kk) {
      T* d = dst + kk * NR;
      const T* xc = x + c * HW;
      const int64_t hoff = r * g.dh - g.ph, woff = s * g.dw - g.pw;
      for (int u = 0; u < nrun; ++u) {
        const Run& ru = runs[u];
        const int64_t h = ru.p * g.sh + hoff;
        if (uint64_t(h) >= uint64_t(H)) {
          for (int64_t t = 0; t < ru.len; ++t) d[ru.at + t] = T(0);
        } else {
          gather_row(d + ru.at, 1, xc + h * W, ru.q * g.sw + woff, g.sw, ru.len, W);
        }
      }
      for (int j = nr; j < NR; ++j) d[j] = T(0);
      if (++s == S) { s = 0; if (++r == R) { r = 0; ++c; } }
    }
  }
}

// ---- im2col^T over images as B -----------------------------------------------------

template <typename T>
void Im2colTPacker<T>::pack_a(T*, int64_t, int64_t, int64_t, int64_t, int) const { std::abort(); }

template <typename T>
void Im2colTPacker<T>::pack_b(T* dst, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int NR) const {
  const int64_t H = g.H, W = g.W, R = g.R, S = g.S, HW = H * W, img = g.C * HW;
  thread_local std::vector<Run> runs;
  if (int64_t(runs.size()) < kc + 1) runs.resize(size_t(kc + 1));
  const int nrun = split_runs(k0, kc, g.P, g.Q, runs.data());
  for (int64_t s0 = 0; s0 < nc; s0 += NR, dst += kc * NR) {
    const int nr = int(std::min<int64_t>(NR, nc - s0));
    for (int jj = 0; jj < nr; ++jj) {
      const int64_t j = j0 + s0 + jj;
      const int64_t c = j / (R * S), r = (j / S) % R, s = j % S;
      const int64_t hoff = r * g.dh - g.ph, woff = s * g.dw - g.pw;
      const T* xc = x + c * HW;
      for (int u = 0; u < nrun; ++u) {
        const Run& ru = runs[u];
        T* d = dst + ru.at * NR + jj;
        const int64_t h = ru.p * g.sh + hoff;
        if (uint64_t(h) >= uint64_t(H)) {
          for (int64_t t = 0; t < ru.len; ++t) d[t * NR] = T(0);
        } else {
          gather_row(d, NR, xc + ru.n * img + h * W, ru.q * g.sw + woff, g.sw, ru.len, W);
        }
      }
    }
    if (nr < NR)
      for (int64_t kk = 0; kk < kc; ++kk)
        for (int j = nr; j < NR; ++j) dst[kk * NR + j] = T(0);
  }
}

// ---- gY over images as A -----------------------------------------------------------

template <typename T>
void ImagesA<T>::pack_b(T*, int64_t, int64_t, int64_t, int64_t, int) const { std::abort(); }

template <typename T>
void ImagesA<T>::pack_a(T* dst, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int MR) const {
  for (int64_t r0 = 0; r0 < mc; r0 += MR, dst += kc * MR) {
    const int mr = int(std::min<int64_t>(MR, mc - r0));
    int64_t n = k0 / L, l = k0 % L;
    for (int64_t kk = 0; kk < kc;) {
      const int64_t len = std::min(L - l, kc - kk);
      const T* src = gy + n * img + (i0 + r0) * ld + l;
      T* d = dst + kk * MR;
      for (int i = 0; i < mr; ++i) {
        const T* row = src + i * ld;
        for (int64_t t = 0; t < len; ++t) d[t * MR + i] = row[t];
      }
      for (int i = mr; i < MR; ++i)
        for (int64_t t = 0; t < len; ++t) d[t * MR + i] = T(0);
      kk += len;
      l = 0;
      ++n;
    }
  }
}

// ---- row-wrapped im2col (stride 1) ------------------------------------------------


template <typename T>
void WrapPacker<T>::pack_a(T*, int64_t, int64_t, int64_t, int64_t, int) const { std::abort(); }

template <typename T>
void WrapPacker<T>::pack_b(T* dst, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int NR) const {
  const int64_t H = g.H, W = g.W, R = g.R, S = g.S, HW = H * W, Q = g.Q;
  int64_t qv[64];
  for (int64_t s0 = 0; s0 < nc; s0 += NR, dst += kc * NR) {
    const int nr = int(std::min<int64_t>(NR, nc - s0));
    const int64_t J = jbase + j0 + s0;
    // Output column q of each lane, and the range of the real (q < Q) ones.
    int64_t q = J % W, qlo = W, qhi = -1;
    for (int jj = 0; jj < nr; ++jj) {
      qv[jj] = q;
      if (q < Q) { qlo = std::min(qlo, q); qhi = std::max(qhi, q); }
      if (++q == W) q = 0;
    }
    // Strip inside the image for every filter tap (the common case): one fixed-size
    // copy per row from a per-tap offset table, no checks.
    const int64_t RS = R * S;
    const int64_t lo = J - g.ph * W - g.pw, hi = J + ((R - 1) * g.dh - g.ph) * W + (S - 1) * g.dw - g.pw;
    if (nr == NR && fixed_strip(NR) && RS <= 64 && lo >= 0 && hi + NR <= HW &&
        (qhi < 0 || (qlo - g.pw >= 0 && qhi + (S - 1) * g.dw - g.pw < W))) {
      int64_t tap[64];
      for (int64_t r = 0; r < R; ++r)
        for (int64_t s = 0; s < S; ++s) tap[r * S + s] = J + (r * g.dh - g.ph) * W + s * g.dw - g.pw;
      int64_t c = k0 / RS, rs = k0 % RS;
      const T* xc = x + c * HW;
      for (int64_t kk = 0; kk < kc; ++kk) {
        copy_strip(dst + kk * NR, xc + tap[rs], NR);
        if (++rs == RS) { rs = 0; xc += HW; }
      }
      continue;
    }
    // Per filter column s, which lanes read inside their image row (padding columns are 0).
    const bool masks = S <= 16;
    uint8_t keep[16][64];
    for (int64_t s = 0; masks && s < S; ++s)
      for (int jj = 0; jj < nr; ++jj)
        keep[s][jj] = qv[jj] >= Q || uint64_t(qv[jj] + s * g.dw - g.pw) < uint64_t(W);
    int64_t c = k0 / (R * S), r = (k0 / S) % R, s = k0 % S;
    for (int64_t kk = 0; kk < kc; ++kk) {
      T* d = dst + kk * NR;
      const T* xc = x + c * HW;
      const int64_t sft = s * g.dw - g.pw;
      const int64_t i0 = J + (r * g.dh - g.ph) * W + sft;
      if (i0 >= 0 && i0 + nr <= HW && (qhi < 0 || (qlo + sft >= 0 && qhi + sft < W))) {
        copy_strip(d, xc + i0, nr);
        for (int jj = nr; jj < NR; ++jj) d[jj] = T(0);
      } else if (masks) {  // lanes [a, b) read inside the plane: a select there, vectorised
        const int64_t a = std::min<int64_t>(nr, std::max<int64_t>(0, -i0));
        const int64_t b = std::max(a, std::min<int64_t>(nr, HW - i0));
        const uint8_t* k = keep[s];
        const T* src = xc + i0;
        for (int64_t jj = 0; jj < a; ++jj) d[jj] = T(0);
        for (int64_t jj = a; jj < b; ++jj) {
          const T v = src[jj];
          d[jj] = k[jj] ? v : T(0);
        }
        for (int64_t jj = b; jj < NR; ++jj) d[jj] = T(0);
      } else {
        for (int jj = 0; jj < nr; ++jj) {
          const int64_t idx = i0 + jj, wq = qv[jj] + sft;
          const bool ok = uint64_t(idx) < uint64_t(HW) && (qv[jj] >= Q || uint64_t(wq) < uint64_t(W));
          d[jj] = ok ? xc[idx] : T(0);
        }
        for (int jj = nr; jj < NR; ++jj) d[jj] = T(0);
      }
      if (++s == S) { s = 0; if (++r == R) { r = 0; ++c; } }
    }
  }
}

template <typename T>
void WrapTPacker<T>::pack_a(T*, int64_t, int64_t, int64_t, int64_t, int) const { std::abort(); }

template <typename T>
void WrapTPacker<T>::pack_b(T* dst, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int NR) const {
  const int64_t H = g.H, W = g.W, R = g.R, S = g.S, HW = H * W, Q = g.Q, img = g.C * HW;
  const int64_t Lw = (g.P - 1) * W + Q;
  auto* interleave = NR % 8 == 0 ? kernels().interleave_rows : nullptr;  // the path's, if any
  int64_t off[64], sft[64];
  bool edge[64];
  const T* src[64];
  for (int64_t s0 = 0; s0 < nc; s0 += NR, dst += kc * NR) {
    const int nr = int(std::min<int64_t>(NR, nc - s0));
    for (int jj = 0; jj < nr; ++jj) {
      const int64_t j = j0 + s0 + jj;
      const int64_t c = j / (R * S), r = (j / S) % R, s = j % S;
      sft[jj] = s * g.dw - g.pw;
      off[jj] = c * HW + (r * g.dh - g.ph) * W + sft[jj];
      // Real rows q < Q whose input column q + sft falls outside [0, W) are padding.
      edge[jj] = sft[jj] < 0 || Q - 1 + sft[jj] >= W;
    }
    // One stretch of one image at a time: [l, l + len) of its wide rows.
    int64_t n = k0 / Lw, l = k0 % Lw;
    for (int64_t kk = 0; kk < kc;) {
      const int64_t len = std::min(Lw - l, kc - kk);
      const T* xn = x + n * img;
      T* d0 = dst + kk * NR;
      // In-plane index of row t for lane jj is i0 + t. Rows [ta, tb) are inside the plane
      // for every lane (with padding only the first and last rows of an image are not).
      int64_t ta = 0, tb = len;
      for (int jj = 0; jj < nr; ++jj) {
        const int64_t c = (j0 + s0 + jj) / (R * S);
        const int64_t i0 = l + off[jj] - c * HW;
        ta = std::max(ta, -i0);
        tb = std::min(tb, HW - i0);
      }
      ta = std::min(ta, len);
      tb = std::max(ta, tb);
      // Rows [t_lo, t_hi) lane by lane (zero outside the plane), and the unused lanes.
      auto lanes = [&](int64_t t_lo, int64_t t_hi) {
        for (int jj = 0; jj < nr; ++jj) {
          const int64_t c = (j0 + s0 + jj) / (R * S);
          const int64_t i0 = l + off[jj] - c * HW;
          const T* xc = xn + c * HW;
          T* d = d0 + jj;
          const int64_t t0 = std::min(t_hi, std::max(t_lo, -i0));
          const int64_t t1 = std::max(t0, std::min(t_hi, HW - i0));
          for (int64_t t = t_lo; t < t0; ++t) d[t * NR] = T(0);
          for (int64_t t = t0; t < t1; ++t) d[t * NR] = xc[i0 + t];
          for (int64_t t = t1; t < t_hi; ++t) d[t * NR] = T(0);
        }
        for (int64_t t = t_lo; t < t_hi; ++t)
          for (int j = nr; j < NR; ++j) d0[t * NR + j] = T(0);
      };
      bool done = false;
      if constexpr (std::is_same<T, float>::value) {
        if (nr == NR && interleave && tb > ta) {
          for (int jj = 0; jj < nr; ++jj) src[jj] = xn + l + off[jj] + ta;
          interleave(src, NR, tb - ta, d0 + ta * NR);
          lanes(0, ta);
          lanes(tb, len);
          done = true;
        }
      }
      if (!done) lanes(0, len);
      // Zero the padding columns: real q < Q with q + sft outside [0, W), every W rows.
      const int64_t q_first = l % W;  // q of row t = 0
      for (int jj = 0; jj < nr; ++jj) {
        if (!edge[jj]) continue;
        for (int64_t qz = 0; qz < Q; ++qz) {
          if (uint64_t(qz + sft[jj]) < uint64_t(W)) continue;
          for (int64_t t = (qz - q_first + W) % W; t < len; t += W) d0[t * NR + jj] = T(0);
        }
      }
      kk += len;
      l = 0;
      ++n;
    }
  }
}

template <typename T>
void WrapImagesA<T>::pack_b(T*, int64_t, int64_t, int64_t, int64_t, int) const { std::abort(); }

template <typename T>
void WrapImagesA<T>::pack_a(T* dst, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int MR) const {
  const int64_t W = g.W, Q = g.Q, PQ = g.P * g.Q, Lw = (g.P - 1) * W + Q;
  auto* interleave = MR % 8 == 0 && MR <= 64 ? kernels().interleave_rows : nullptr;  // the path's, if any
  const T* rows[64];
  for (int64_t r0 = 0; r0 < mc; r0 += MR, dst += kc * MR) {
    const int mr = int(std::min<int64_t>(MR, mc - r0));
    int64_t n = k0 / Lw, l = k0 % Lw;
    for (int64_t kk = 0; kk < kc;) {
      // one stretch of one output row (or of its junk tail); with Q == W the rows of an
      // image are one stretch
      const int64_t p = l / W, q = l % W;
      T* d = dst + kk * MR;
      if (q < Q) {
        const int64_t len = std::min(Q == W ? Lw - l : Q - q, kc - kk);
        const T* src = gy + n * img + (i0 + r0) * PQ + p * Q + q;
        for (int i = 0; i < mr; ++i) rows[i] = src + i * PQ;
        bool done = false;
        if constexpr (std::is_same<T, float>::value) {
          if (interleave && mr == MR) {  // 8×8 register transposes
            interleave(rows, MR, len, d);
            done = true;
          }
        }
        if (!done) {
          for (int i = 0; i < mr; ++i)
            for (int64_t t = 0; t < len; ++t) d[t * MR + i] = rows[i][t];
          for (int i = mr; i < MR; ++i)
            for (int64_t t = 0; t < len; ++t) d[t * MR + i] = T(0);
        }
        kk += len;
        l += len;
      } else {
        const int64_t len = std::min(W - q, kc - kk);
        std::memset(d, 0, sizeof(T) * size_t(len * MR));
        kk += len;
        l += len;
      }
      if (l == Lw) { l = 0; ++n; }
    }
  }
}

// ---- col2im ------------------------------------------------------------------------

// col2im_add when gx rows and col rows have the same pitch (stride 1, Q == W, as with
// 'same' padding): each tap's col row is added to the gx plane as ONE flat run instead of
// one run per output row. The col elements whose input column falls outside the image
// (the |woff| edge columns of each row) are zeroed first, so the flat run adds 0 where it
// wraps into the neighbouring row; the run is clipped to the plane (the channel's own).
// On 13×13 images (runs of 13) the per-row loop was a third of grad x.
template <typename T>
void col2im_add_flat(const ConvGeom& g, T* col, int64_t ldc, int64_t j0, int64_t nj, T* gx,
                     int64_t c0, int64_t c1) {
  const int64_t H = g.H, W = g.W, R = g.R, S = g.S, HW = H * W, P = g.P;
  for (int64_t c = c0; c < c1; ++c) {
    T* gxc = gx + c * HW;
    for (int64_t r = 0; r < R; ++r) {
      const int64_t hoff = r * g.dh - g.ph;
      // positions j whose input row p + hoff is inside the image
      const int64_t jlo = std::max(j0, std::max<int64_t>(0, -hoff) * W);
      const int64_t jhi = std::min(j0 + nj, std::min(P, H - hoff) * W);
      for (int64_t s = 0; s < S; ++s) {
        T* crow = col + ((c * R + r) * S + s) * ldc;  // crow[j - j0]: position j
        const int64_t woff = s * g.dw - g.pw, off = hoff * W + woff;
        if (woff != 0)
          for (int64_t q = 0; q < W; ++q) {
            if (uint64_t(q + woff) < uint64_t(W)) continue;
            for (int64_t j = (j0 - q + W - 1) / W * W + q; j < j0 + nj; j += W) crow[j - j0] = T(0);
          }
        const int64_t a = std::max(jlo, -off), b = std::min(jhi, HW - off);
        if (a >= b) continue;
        T* d = gxc + (a + off);
        const T* src = crow + (a - j0);
        for (int64_t i = 0; i < b - a; ++i) d[i] += src[i];
      }
    }
  }
}

template <typename T>
void col2im_add(const ConvGeom& g, T* col, int64_t ldc, int64_t j0, int64_t nj, T* gx,
                int64_t c0, int64_t c1) {
  if (g.sh == 1 && g.sw == 1 && g.Q == g.W) return col2im_add_flat(g, col, ldc, j0, nj, gx, c0, c1);
  const int64_t H = g.H, W = g.W, R = g.R, S = g.S, HW = H * W;
  thread_local std::vector<Run> runs;
  if (int64_t(runs.size()) < nj + 1) runs.resize(size_t(nj + 1));
  const int nrun = split_runs(j0, nj, g.P, g.Q, runs.data());
  for (int64_t c = c0; c < c1; ++c) {
    T* gxc = gx + c * HW;
    for (int64_t r = 0; r < R; ++r) {
      for (int64_t s = 0; s < S; ++s) {
        const T* crow = col + ((c * R + r) * S + s) * ldc;
        const int64_t hoff = r * g.dh - g.ph, woff = s * g.dw - g.pw;
        for (int u = 0; u < nrun; ++u) {
          const Run& ru = runs[u];
          const int64_t h = ru.p * g.sh + hoff;
          if (uint64_t(h) >= uint64_t(H)) continue;
          T* row = gxc + h * W;
          const T* src = crow + ru.at;
          const int64_t w0 = ru.q * g.sw + woff;
          if (g.sw == 1) {
            const int64_t t0 = std::min(ru.len, std::max<int64_t>(0, -w0));
            const int64_t t1 = std::max(t0, std::min(ru.len, W - w0));
            T* d = row + w0;
            for (int64_t t = t0; t < t1; ++t) d[t] += src[t];
          } else {
            for (int64_t t = 0; t < ru.len; ++t) {
              const int64_t w = w0 + t * g.sw;
              if (uint64_t(w) < uint64_t(W)) row[w] += src[t];
            }
          }
        }
      }
    }
  }
}

#define NK_INSTANTIATE(T)                                                                  \
  template struct RowsB<T>;                                                                \
  template struct PrepackedA<T>;                                                           \
  template struct Im2colPacker<T>;                                                         \
  template struct Im2colTPacker<T>;                                                        \
  template struct ImagesA<T>;                                                              \
  template struct WrapPacker<T>;                                                           \
  template struct WrapTPacker<T>;                                                          \
  template struct WrapImagesA<T>;                                                          \
  template void col2im_add<T>(const ConvGeom&, T*, int64_t, int64_t, int64_t, T*, int64_t, \
                              int64_t);
NK_INSTANTIATE(float)
NK_INSTANTIATE(double)
#undef NK_INSTANTIATE

}  // namespace nk
