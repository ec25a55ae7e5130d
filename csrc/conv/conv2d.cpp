// conv2d forward, grad-x and grad-w as implicit GEMM on the packed GEMM driver and its
// micro-kernel (csrc/gemm); conv_transpose2d is the same three products (ops/conv.py).
//
//   x (N, C, H, W)   w (K, C/G, R, S)   y, gy (N, K, P, Q)   Kg = K/G, Cg = C/G, CRS = Cg·R·S
//
// forward      per (image, group), per column tile: Y[Kg, tile] = W[Kg, CRS] · im2col(X)[CRS, tile].
//              A = the weights, packed once per call (PrepackedA: the driver's A "packing" is
//              then a memcpy); B = im2col panels packed straight from the image:
//                v1 Im2colPacker   any stride/padding/dilation, runs of one output row
//                v2 WrapPacker     stride 1, Q close to W ("wide rows": column p·W + q, so an
//                                  im2col row is a contiguous slice and a 16-wide strip is one
//                                  fixed-size copy; junk columns q >= Q are computed into a
//                                  tile and dropped, or absent when Q == W, e.g. 'same')
//                v3 RowsB          1×1 stride-1 unpadded: the image itself, a plain GEMM
//              Tiles are ~1 MiB of packed B (TN columns): each strip of it is read once after
//              packing, so it need not sit in L2, and fewer tiles mean fewer copies of A.
//              float32 stride 1 on a path whose kernel table has conv_direct (avx512,
//                avx2), 8 or more output channels per group: the direct tile instead
//                (forward_direct below; conv_direct_avx512.cpp, conv_direct_avx2.cpp).
// grad x       per (image, group), per tile of TN positions: col[CRS, TN] = W^T · gY into a
//              per-thread tile, then col2im adds it into gx (1×1: the GEMM writes gx); float32
//              stride 1 with 32+ channels per group where the table has conv_direct: a direct
//              forward conv of gY with the flipped, transposed filters instead; with
//              stride 1 and Q == W ('same') each tap's col row is one flat run over the plane
//              (conv_pack.cpp col2im_add_flat), not one run per output row.
// grad w       gW[Kg, CRS] = gY[Kg, n·PQ] · im2col(X)^T[n·PQ, CRS]: the images are folded into
//              the GEMM's K, so the batch sum stays in the accumulators (WrapImagesA/WrapTPacker,
//              both through the path's 8×8-transposing interleaver, for stride 1;
//              ImagesA/Im2colTPacker else).
//              Threads split the batch (one partial gW per extra thread, summed after).
//              float32 stride 1 (not 1×1) with 8+ output channels per group where the table
//              has conv_direct: the direct gw tile instead (backward_weight_direct below):
//              windows read from a zero-bordered copy of each image, gY transposed once per
//              image, nothing packed per reduction block. Grad w alone against the GEMM
//              path, time ratio (min of 4 alternating processes, 2 threads, BENCH layers,
//              2026-12-01): C1 28×28 0.45, C32 13×13 p0 0.73 / p1 0.76, C64 56×56 0.74,
//              C128 28×28 0.92.
// Threads: with enough (image, group) items, parallel over items with nthreads = 1 GEMMs;
// else (forward) over the tiles of the images; else each GEMM runs on every thread.
// Extra memory: one packed copy of w, one tile per thread, one partial gW per extra thread.
// No im2col buffer is ever allocated.
//
// Measured vs torch 2.13 CPU (oneDNN), float32, the four layers of shared/BENCH.md, on the
// shared 2-core dev machine under load 5–12 (other agents building), where wall-clock
// figures swing by 3× between runs. Process CPU time at 1 thread (min of 9, interleaved),
// `python -m nnkernels.bench.conv`, 2026-11-23, ratio = torch time / ours:
//   layer                    fwd          fwd+bwd
//   N64 C1  28×28 K32 3×3    0.97–1.06×   2.0–2.1×
//   N64 C32 13×13 K64 3×3    0.91–0.92×   0.94–0.95×
//   N32 C64 56×56 K64 3×3    0.89×        1.11–1.14×
//   N8 C128 28×28 K128 3×3   0.91–0.93×   0.96–1.01×
// Wall clock, 2 threads (`python -m nnkernels --only conv --threads 2`): fwd 3.1 / 2.8 /
// 1.1 / 1.3×, fwd+bwd 2.3 / 2.0 / 1.2 / 1.6× — flattered by torch's threads starving on
// the loaded machine (torch ran 5–100× under its BENCH.md figures), so not a real margin.
// Every pass runs at about the speed of the shared GEMM micro-kernel (70–77 GFLOP/s a core
// here, where torch's direct conv reaches 82–85): perf shows the micro-kernel at 67–80 % of
// the samples, B packing ~6 %, the A copies ~5 %, junk wide-row columns 4–16 % of the flops.

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "conv/conv_pack.h"
#include "kernels.h"
#include "runtime/threads.h"

namespace nk {

// ---- naive references ---------------------------------------------------------------

template <typename T>
void conv2d_forward_ref(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t Kg = g.K / g.G, Cg = g.C / g.G;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t k = 0; k < g.K; ++k)
      for (int64_t p = 0; p < g.P; ++p)
        for (int64_t q = 0; q < g.Q; ++q) {
          double acc = bias ? double(bias[k]) : 0.0;
          const int64_t gi = k / Kg;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t r = 0; r < g.R; ++r)
              for (int64_t s = 0; s < g.S; ++s) {
                const int64_t h = p * g.sh - g.ph + r * g.dh, ww = q * g.sw - g.pw + s * g.dw;
                if (h < 0 || h >= g.H || ww < 0 || ww >= g.W) continue;
                acc += double(w[((k * Cg + c) * g.R + r) * g.S + s]) *
                       double(x[((n * g.C + gi * Cg + c) * g.H + h) * g.W + ww]);
              }
          y[((n * g.K + k) * g.P + p) * g.Q + q] = T(acc);
        }
}

template <typename T>
void conv2d_backward_data_ref(const ConvGeom& g, const T* gy, const T* w, T* gx) {
  const int64_t Kg = g.K / g.G, Cg = g.C / g.G;
  std::vector<double> acc(size_t(g.N * g.C * g.H * g.W), 0.0);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t k = 0; k < g.K; ++k)
      for (int64_t p = 0; p < g.P; ++p)
        for (int64_t q = 0; q < g.Q; ++q) {
          const double v = gy[((n * g.K + k) * g.P + p) * g.Q + q];
          const int64_t gi = k / Kg;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t r = 0; r < g.R; ++r)
              for (int64_t s = 0; s < g.S; ++s) {
                const int64_t h = p * g.sh - g.ph + r * g.dh, ww = q * g.sw - g.pw + s * g.dw;
                if (h < 0 || h >= g.H || ww < 0 || ww >= g.W) continue;
                acc[size_t(((n * g.C + gi * Cg + c) * g.H + h) * g.W + ww)] +=
                    v * double(w[((k * Cg + c) * g.R + r) * g.S + s]);
              }
        }
  for (size_t i = 0; i < acc.size(); ++i) gx[i] = T(acc[i]);
}

template <typename T>
void conv2d_backward_weight_ref(const ConvGeom& g, const T* gy, const T* x, T* gw) {
  const int64_t Kg = g.K / g.G, Cg = g.C / g.G;
  for (int64_t k = 0; k < g.K; ++k)
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t r = 0; r < g.R; ++r)
        for (int64_t s = 0; s < g.S; ++s) {
          double acc = 0.0;
          const int64_t gi = k / Kg;
          for (int64_t n = 0; n < g.N; ++n)
            for (int64_t p = 0; p < g.P; ++p)
              for (int64_t q = 0; q < g.Q; ++q) {
                const int64_t h = p * g.sh - g.ph + r * g.dh, ww = q * g.sw - g.pw + s * g.dw;
                if (h < 0 || h >= g.H || ww < 0 || ww >= g.W) continue;
                acc += double(gy[((n * g.K + k) * g.P + p) * g.Q + q]) *
                       double(x[((n * g.C + gi * Cg + c) * g.H + h) * g.W + ww]);
              }
          gw[((k * Cg + c) * g.R + r) * g.S + s] = T(acc);
        }
}

// ---- fast versions -----------------------------------------------------------------

namespace {

thread_local Scratch tl_col;

bool pointwise(const ConvGeom& g) {
  return g.R == 1 && g.S == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 && g.P == g.H &&
         g.Q == g.W;
}

// Stride 1 with Q close to W: the row-wrapped packers (wide rows, little junk).
bool wide_rows(const ConvGeom& g) {
  return g.sh == 1 && g.sw == 1 && g.Q <= g.W && 4 * g.Q >= 3 * g.W && !pointwise(g);
}

// Parallel over items when there are enough of them to keep every thread busy.
bool over_items(int64_t items, int nt) {
  return nt > 1 && items >= nt && (items % nt == 0 || items >= 4 * nt);
}

// Threads for a problem of `macs` multiply-adds (forks cost more than tiny products save).
int threads_for(double macs) { return macs < 64.0 * 64 * 64 ? 1 : num_threads(); }

// Columns per GEMM call: the packed B panel (min(K, KC) rows) is ~1 MiB. Measured at 1
// thread (CPU time): 1 MiB is ~4 % faster than 192 KiB (fewer A copies), 2 MiB no better.
// NK_CONV_TILE_KIB overrides (for tuning).
template <typename T>
int64_t tile_cols(int64_t depth, int NR) {
  static const int64_t kib = [] {
    const char* e = std::getenv("NK_CONV_TILE_KIB");
    return e ? std::max(16L, std::atol(e)) : 1024L;
  }();
  const int64_t kc = std::max<int64_t>(1, std::min<int64_t>(depth, gemm_config<T>().KC));
  return std::max<int64_t>(NR, kib * 1024 / int64_t(sizeof(T)) / kc / NR * NR);
}

// d[p·Q + q] = src[p·W + q] + b for p < np, q < Q: the real columns of a wide-row tile.
template <typename T>
void drop_junk(T* __restrict d, const T* __restrict src, int64_t np, int64_t Q, int64_t W, T b) {
  for (int64_t p = 0; p < np; ++p, d += Q, src += W)
    for (int64_t q = 0; q < Q; ++q) d[q] = src[q] + b;
}

// Weights of each group packed as GEMM A panels: rows `rows`, depth `depth`, element
// (i, k) at w_g[i·rs + k·cs], groups `gstride` apart. Returns the per-group panel size.
template <typename T>
int64_t prepack(std::vector<T>& buf, const T* w, int64_t G, int64_t gstride, int64_t rows,
                int64_t depth, int64_t rs, int64_t cs) {
  const int MR = gemm_config<T>().MR;
  const int64_t per = round_up(rows, MR) * depth;
  buf.resize(size_t(per * G));
  for (int64_t gi = 0; gi < G; ++gi)
    StridedPacker<T>(w + gi * gstride, rs, cs).pack_a(buf.data() + gi * per, 0, rows, 0, depth, MR);
  return per;
}

// ---- direct forward (float32, stride 1, where the kernel table has conv_direct) ----

thread_local Scratch tl_pad;

// NK_CONV_DIRECT=0 (read once, for tuning) turns the direct tiles off: the implicit GEMM
// everywhere. Else they run wherever they apply (faster or level on every BENCH.md layer
// on both paths: conv_direct_avx512.cpp, benchmarks/RESULTS.md for avx2).
bool direct_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("NK_CONV_DIRECT");
    return !e || std::atoi(e) != 0;
  }();
  return on;
}

// The channels of item it = (image, group) of x as a zero-bordered Cg × Hp × Wp image in
// buf (the input at row ph, column pw; rows and columns past Hp, Wp cropped), zeros after
// it up to `total` floats.
void pad_item(const ConvGeom& g, const float* x, int64_t it, int64_t Hp, int64_t Wp, float* buf,
              size_t total) {
  const int64_t Cg = g.C / g.G, plane = Hp * Wp;
  const float* xc = x + (it / g.G * g.C + it % g.G * Cg) * g.H * g.W;
  const int64_t w0 = std::min(g.W, std::max<int64_t>(0, Wp - g.pw));  // input columns kept
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t hp = 0; hp < Hp; ++hp) {
      float* row = buf + c * plane + hp * Wp;
      const int64_t h = hp - g.ph;
      if (h < 0 || h >= g.H) {
        std::fill(row, row + Wp, 0.0f);
        continue;
      }
      std::fill(row, row + std::min(g.pw, Wp), 0.0f);
      std::copy(xc + (c * g.H + h) * g.W, xc + (c * g.H + h) * g.W + w0, row + g.pw);
      std::fill(row + std::min(Wp, g.pw + w0), row + Wp, 0.0f);
    }
  std::fill(buf + Cg * plane, buf + total, 0.0f);
}

// The tap displacements of the direct tiles: off[t] = c·Hp·Wp + r·dh·Wp + s·dw for the
// taps t = (c, r, s) < Cg·R·S, or in (r, c, s) order when r_major; then zeros up to
// `count` (padding taps of a last tile).
std::vector<int64_t> tap_offsets(const ConvGeom& g, int64_t Hp, int64_t Wp, int64_t count, bool r_major) {
  const int64_t Cg = g.C / g.G;
  std::vector<int64_t> off(size_t(count), 0);
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t s = 0; s < g.S; ++s)
        off[size_t(r_major ? (r * Cg + c) * g.S + s : (c * g.R + r) * g.S + s)] =
            c * Hp * Wp + r * g.dh * Wp + s * g.dw;
  return off;
}

// y = conv(x, w) + bias by the table's direct tile (conv/conv_direct.h): per (image,
// group), the image's channels are copied once into a zero-bordered per-thread buffer
// (Cg × Hp × Wp) and every output row is cut into tiles of mr positions × nr channels.
// Returns false (nothing written) where it does not apply.
bool forward_direct(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y) {
  const ConvDirectKernels& kd = kernels().conv_direct;
  if (!kd.tile || !direct_enabled() || g.sh != 1 || g.sw != 1 || g.ph < 0 || g.pw < 0) return false;
  const int64_t NR = kd.nr;
  const int64_t Kg = g.K / g.G, Cg = g.C / g.G, CRS = Cg * g.R * g.S, PQ = g.P * g.Q;
  // An avx512 32-channel panel for fewer than 8 output channels wastes most of it: K = 3
  // (N32 C64 56×56 p1) ran 1.16× the implicit GEMM's time, K = 8 and 16 level, 24 faster.
  if (Kg < 8) return false;
  const int64_t Hp = g.P + (g.R - 1) * g.dh, Wp = g.Q + (g.S - 1) * g.dw, plane = Hp * Wp;
  const int64_t nkb = ceil_div(Kg, NR), MR = kd.mr;

  // Weights k-major, NR output channels a panel, zero-padded: panel (gi, kb) element
  // (t, i) = w[gi·Kg + kb·NR + i, tap t], the taps in (r, c, s) order so that the filter
  // rows an output row needs are one run of them; bias likewise (NR per panel).
  Scratch wbuf, bbuf;
  float* wpk = wbuf.get<float>(size_t(g.G * nkb * CRS * NR));
  float* bpk = bias ? bbuf.get<float>(size_t(g.G * nkb * NR)) : nullptr;
  for (int64_t gi = 0; gi < g.G; ++gi)
    for (int64_t kb = 0; kb < nkb; ++kb) {
      float* d = wpk + (gi * nkb + kb) * CRS * NR;
      const int64_t nc = std::min<int64_t>(NR, Kg - kb * NR);
      const float* src = w + (gi * Kg + kb * NR) * CRS;
      for (int64_t t = 0; t < CRS; ++t) {
        const int64_t r = t / (Cg * g.S), c = t / g.S % Cg, ws = (c * g.R + r) * g.S + t % g.S;
        for (int64_t i = 0; i < nc; ++i) d[t * NR + i] = src[i * CRS + ws];
        for (int64_t i = nc; i < NR; ++i) d[t * NR + i] = 0.0f;
      }
      if (bpk)
        for (int64_t i = 0; i < NR; ++i) bpk[(gi * nkb + kb) * NR + i] = i < nc ? bias[gi * Kg + kb * NR + i] : 0.0f;
    }
  const std::vector<int64_t> off = tap_offsets(g, Hp, Wp, CRS, true);
  // Filter rows [r0, r1) of output row p read image rows (p + r·dh − ph in [0, H)); the
  // others read the zero border and are skipped: 2 of 3 at the edge rows of 'same' 3×3,
  // 1 or 2 of 3 on two rows at each edge of grad x's full padding. A/B on N64 C32 13×13
  // K64 (time ratio, min of 5 alternating processes, 2 threads): forward p1 0.95, grad x
  // p0 0.90, p1 0.97.
  const int64_t CS = Cg * g.S;
  auto filter_rows = [&](int64_t p, int64_t& r0, int64_t& r1) {
    r0 = 0, r1 = g.R;
    while (r0 < r1 && p + r0 * g.dh < g.ph) ++r0;
    while (r1 > r0 && p + (r1 - 1) * g.dh - g.ph >= g.H) --r1;
  };

  // Taps per pass over the rows: blocks of at most 320 taps (40 KiB of a panel's weights,
  // equal blocks: 1152 = 4 × 288) stay in L1 while every tile of the rows reads them; the
  // passes after the first add into y. A/B against one pass (time ratio, min of 4-5
  // alternating processes, 2 threads): N8 C128 28×28 K128 forward p1 0.82, p0 0.96, grad x
  // p1 0.81; N32 C64 56×56 (576 taps, two blocks) 1.0; blocks of 160 taps 0.90 on C128.
  const int64_t DC = ceil_div(CRS, ceil_div(CRS, int64_t(320)));
  const size_t padded = size_t(Cg * plane);  // a tile of m positions reads m floats a tap
  auto pad = [&](int64_t it, float* buf) { pad_item(g, x, it, Hp, Wp, buf, padded); };
  // Output rows [p0, p1) of channel panel kb of item it, from its padded image buf.
  auto rows = [&](int64_t it, const float* buf, int64_t kb, int64_t p0, int64_t p1) {
    const int64_t n = it / g.G, gi = it % g.G;
    const float* wp = wpk + (gi * nkb + kb) * CRS * NR;
    const float* bp = bpk ? bpk + (gi * nkb + kb) * NR : nullptr;
    float* yk = y + (n * g.K + gi * Kg + kb * NR) * PQ;
    const int nc = int(std::min<int64_t>(NR, Kg - kb * NR));
    for (int64_t c0 = 0; c0 < CRS; c0 += DC)
      for (int64_t p = p0; p < p1; ++p) {
        int64_t r0, r1;
        filter_rows(p, r0, r1);
        // This block's share [t0, t1) of the row's taps; the row's first block writes (bias
        // included, also when the row has no taps at all), the later ones add.
        const int64_t t0 = std::max(c0, r0 * CS), t1 = std::min(c0 + DC, r1 * CS);
        const bool first = t0 == r0 * CS;
        if (t1 <= t0 && !(first && c0 == 0)) continue;
        for (int64_t q0 = 0; q0 < g.Q; q0 += MR)
          kd.tile(std::max<int64_t>(0, t1 - t0), wp + t0 * NR, buf + p * Wp + q0, off.data() + t0, bp,
                  yk + p * g.Q + q0, PQ, int(std::min<int64_t>(MR, g.Q - q0)), nc, !first);
      }
  };
  const int64_t items = g.N * g.G;
  const int nt = threads_for(double(g.N) * g.K * PQ * CRS);
  if (over_items(items, nt)) {
    parallel_for_each_dynamic(items, nt, [&](int64_t it) {
      float* buf = tl_pad.get<float>(padded);
      pad(it, buf);
      for (int64_t kb = 0; kb < nkb; ++kb) rows(it, buf, kb, 0, g.P);
    });
  } else {
    // Few items: pad each once, then split its (panel, row) pairs over the threads.
    float* buf = tl_pad.get<float>(padded);
    for (int64_t it = 0; it < items; ++it) {
      pad(it, buf);
      parallel_for_each_dynamic(nkb * g.P, nt, [&](int64_t u) { rows(it, buf, u / g.P, u % g.P, u % g.P + 1); });
    }
  }
  return true;
}

// Stride-1 grad x as a direct forward conv: gx = conv(gy, w'), w'[c, k, r, s] =
// w[k, c, R−1−r, S−1−s] (per group), padding (R−1)·dh − ph, (S−1)·dw − pw, same dilation:
// no col buffer, no col2im. Returns false (nothing written) where it does not apply
// (1×1 stays the plain GEMM that writes gx; a padding larger than the filter's reach; fewer
// than 32 input channels per group, where the 32-channel panels of gx run part empty: A/B
// against the GEMM + col2im, time ratio 5.9× at C = 3, 3.8× at 8, 1.7× at 16 (56×56 and
// 28×28, K = 64); 0.68–0.97 on the BENCH layers with C = 32, 64, 128).
bool backward_data_direct(const ConvGeom& g, const float* gy, const float* w, float* gx) {
  if (!kernels().conv_direct.tile || !direct_enabled() || g.sh != 1 || g.sw != 1 || pointwise(g) ||
      g.C / g.G < 32)
    return false;
  const ConvGeom gt{g.N, g.K, g.P, g.Q, g.C, g.R, g.S, g.H, g.W, 1, 1,
                    (g.R - 1) * g.dh - g.ph, (g.S - 1) * g.dw - g.pw, g.dh, g.dw, g.G};
  if (gt.ph < 0 || gt.pw < 0) return false;
  const int64_t Kg = g.K / g.G, Cg = g.C / g.G, R = g.R, S = g.S;
  std::vector<float> wt(size_t(g.C * Kg * R * S));
  for (int64_t gi = 0; gi < g.G; ++gi)
    for (int64_t k = 0; k < Kg; ++k)
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t r = 0; r < R; ++r)
          for (int64_t s = 0; s < S; ++s)
            wt[size_t((((gi * Cg + c) * Kg + k) * R + (R - 1 - r)) * S + (S - 1 - s))] =
                w[(((gi * Kg + k) * Cg + c) * R + r) * S + s];
  return forward_direct(gt, gy, wt.data(), nullptr, gx);
}

// Stride-1 grad w by the table's direct gw tile (conv/conv_direct.h): gWᵀ[taps, channels]
// = sum over images of windows(X)ᵀ · gYᵀ, with each window read straight from the image's
// zero-bordered copy and gY transposed once per image (position-major, nr channels a
// panel). Sums go to acc[G][panels][CRS rounded up to gw_mr][nr]: with enough (image,
// group) items each thread sums its share of them into its own acc (added up at the end);
// else the items run one by one and the threads split their (panel, tap tile) pairs.
// Returns false (nothing written) where it does not apply: 1×1 (a plain GEMM) and fewer
// than 8 output channels per group (as forward_direct).
bool backward_weight_direct(const ConvGeom& g, const float* gy, const float* x, float* gw) {
  const ConvDirectKernels& kd = kernels().conv_direct;
  if (!kd.gw || !direct_enabled() || g.sh != 1 || g.sw != 1 || g.ph < 0 || g.pw < 0 || pointwise(g))
    return false;
  const int64_t NR = kd.nr;
  const int64_t Kg = g.K / g.G, Cg = g.C / g.G, CRS = Cg * g.R * g.S, PQ = g.P * g.Q;
  if (Kg < 8) return false;
  const int64_t Hp = g.P + (g.R - 1) * g.dh, Wp = g.Q + (g.S - 1) * g.dw;
  const int64_t MR = kd.gw_mr, nkb = ceil_div(Kg, NR), ntile = ceil_div(CRS, MR), CRSp = ntile * MR;
  const std::vector<int64_t> off = tap_offsets(g, Hp, Wp, CRSp, false);
  const size_t padded = size_t(Cg * Hp * Wp), accsize = size_t(g.G * nkb * CRSp * NR);
  const int64_t items = g.N * g.G;
  const int nt = threads_for(double(g.N) * g.K * PQ * CRS);

  // Item it's image padded into xb and its gY transposed into gyt (nkb panels of PQ × NR);
  // both in this thread's scratch, gyt 64-byte aligned after xb.
  auto buffers = [&](float*& xb, float*& gyt) {
    xb = tl_pad.get<float>(padded + size_t(nkb * PQ * NR) + 16);
    gyt = xb + round_up(int64_t(padded), 16);
  };
  auto prepare = [&](int64_t it, float* xb, float* gyt) {
    pad_item(g, x, it, Hp, Wp, xb, padded);
    const float* gyi = gy + (it / g.G * g.K + it % g.G * Kg) * PQ;
    for (int64_t kb = 0; kb < nkb; ++kb)
      kd.pack_gyt(gyi + kb * NR * PQ, PQ, PQ, int(std::min<int64_t>(NR, Kg - kb * NR)), gyt + kb * PQ * NR);
  };
  // Tile u = (panel, tap tile) of item it, added into acc.
  auto tile = [&](int64_t it, const float* xb, const float* gyt, int64_t u, float* acc) {
    const int64_t kb = u / ntile, tt = u % ntile;
    kd.gw(g.P, g.Q, Wp, xb, off.data() + tt * MR, gyt + kb * PQ * NR,
          acc + ((it % g.G * nkb + kb) * CRSp + tt * MR) * NR);
  };
  Scratch accs;
  const int nacc = over_items(items, nt) ? nt : 1;
  float* acc = accs.get<float>(accsize * size_t(nacc));
  std::fill(acc, acc + accsize * size_t(nacc), 0.0f);
  if (nacc > 1) {
    parallel_region(nt, [&](Team& team) {
      const int t = team.tid(), tn = team.size();
      float *xb, *gyt;
      buffers(xb, gyt);
      for (int64_t it = items * t / tn; it < items * (t + 1) / tn; ++it) {
        prepare(it, xb, gyt);
        for (int64_t u = 0; u < nkb * ntile; ++u) tile(it, xb, gyt, u, acc + size_t(t) * accsize);
      }
    }, 2.0 * double(g.N) * double(g.K) * double(PQ) * double(CRS));
  } else {
    float *xb, *gyt;
    buffers(xb, gyt);
    for (int64_t it = 0; it < items; ++it) {
      prepare(it, xb, gyt);
      parallel_for_each_dynamic(nkb * ntile, nt, [&](int64_t u) { tile(it, xb, gyt, u, acc); });
    }
  }
  // gw[gi·Kg + k, t] = sum of the accs at (gi, k / NR, t, k % NR).
  parallel_for_each(g.G * Kg, nacc, [&](int64_t gk) {
    const int64_t gi = gk / Kg, k = gk % Kg;
    const size_t base = size_t(((gi * nkb + k / NR) * CRSp) * NR + k % NR);
    for (int64_t t = 0; t < CRS; ++t) {
      float v = 0.0f;
      for (int a = 0; a < nacc; ++a) v += acc[size_t(a) * accsize + base + size_t(t * NR)];
      gw[gk * CRS + t] = v;
    }
  });
  return true;
}

}  // namespace

template <typename T>
void conv2d_forward(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t Kg = g.K / g.G, Cg = g.C / g.G, CRS = Cg * g.R * g.S, PQ = g.P * g.Q, HW = g.H * g.W;
  if (g.N == 0 || g.K == 0 || PQ == 0) return;
  if constexpr (std::is_same_v<T, float>)
    if (forward_direct(g, x, w, bias, y)) return;
  std::vector<T> wp;
  const int64_t per = prepack(wp, w, g.G, Kg * CRS, Kg, CRS, CRS, 1);
  const bool pw1 = pointwise(g);
  const int64_t items = g.N * g.G;
  const int nt = threads_for(double(g.N) * g.K * PQ * CRS);

  const bool wide = wide_rows(g);
  const int NR = gemm_config<T>().NR;
  // Column tiles: the GEMM's packed B panel (≤ KC × TN) stays in L2 beside the A block.
  const int64_t TN = tile_cols<T>(CRS, NR);
  // Wide rows with Q < W: the GEMM writes whole wide rows into a tile, the junk is dropped.
  const int64_t rows_per_tile = std::max<int64_t>(1, TN / std::max<int64_t>(g.W, 1));

  const bool rows_tiled = wide && g.Q < g.W;
  const int64_t ntiles = rows_tiled ? ceil_div(g.P, rows_per_tile) : ceil_div(PQ, TN);

  // One tile of one (image, group): output rows [p0, p0 + np) or positions [j0, j0 + nj).
  auto unit = [&](int64_t it, int64_t tl, int threads) {
    const int64_t n = it / g.G, gi = it % g.G;
    T* yc = y + (n * g.K + gi * Kg) * PQ;
    const T* xc = x + (n * g.C + gi * Cg) * HW;
    PrepackedA<T> A(wp.data() + gi * per, CRS);
    if (rows_tiled) {
      // Whole NR-strips (the junk past the tile's last row is cheaper than a ragged strip).
      // Rows too: the packed weights are zero-padded to MR rows, so every micro-tile is
      // whole and stores with vector moves (no edge path).
      const int64_t Mp = round_up(Kg, gemm_config<T>().MR);
      T* tile = tl_col.get<T>(size_t(Mp * round_up(rows_per_tile * g.W, NR)));
      const int64_t p0 = tl * rows_per_tile, np = std::min(rows_per_tile, g.P - p0);
      const int64_t ncols = round_up((np - 1) * g.W + g.Q, NR);
      WrapPacker<T> B(xc, g, p0 * g.W);
      gemm_packed<T>(Mp, ncols, CRS, T(1), A, B, T(0), tile, ncols, threads);
      for (int64_t k = 0; k < Kg; ++k)
        drop_junk(yc + k * PQ + p0 * g.Q, tile + k * ncols, np, g.Q, g.W, bias ? bias[gi * Kg + k] : T(0));
      return;
    }
    const int64_t j0 = tl * TN, nj = std::min(TN, PQ - j0);
    T beta = T(0);
    if (bias) {
      for (int64_t k = 0; k < Kg; ++k) std::fill(yc + k * PQ + j0, yc + k * PQ + j0 + nj, bias[gi * Kg + k]);
      beta = T(1);
    }
    if (wide) {  // Q == W: y's rows are the wide rows
      WrapPacker<T> B(xc, g, j0);
      gemm_packed<T>(Kg, nj, CRS, T(1), A, B, beta, yc + j0, PQ, threads);
    } else if (pw1) {
      RowsB<T> B(xc + j0, HW);
      gemm_packed<T>(Kg, nj, CRS, T(1), A, B, beta, yc + j0, PQ, threads);
    } else {
      Im2colPacker<T> B(xc, g, j0);
      gemm_packed<T>(Kg, nj, CRS, T(1), A, B, beta, yc + j0, PQ, threads);
    }
  };
  // Enough items: one thread per item. Else enough tiles: one thread per tile (tiles
  // write disjoint outputs). Else each GEMM uses every thread.
  if (over_items(items, nt)) {
    parallel_for_each_dynamic(items, nt, [&](int64_t it) {
      for (int64_t tl = 0; tl < ntiles; ++tl) unit(it, tl, 1);
    });
  } else if (nt > 1 && items * ntiles >= 2 * nt) {
    parallel_for_each_dynamic(items * ntiles, nt, [&](int64_t u) { unit(u / ntiles, u % ntiles, 1); });
  } else {
    for (int64_t it = 0; it < items; ++it)
      for (int64_t tl = 0; tl < ntiles; ++tl) unit(it, tl, nt);
  }
}

template <typename T>
void conv2d_backward_data(const ConvGeom& g, const T* gy, const T* w, T* gx) {
  const int64_t Kg = g.K / g.G, Cg = g.C / g.G, CRS = Cg * g.R * g.S, PQ = g.P * g.Q, HW = g.H * g.W;
  if (g.N == 0 || g.C == 0 || HW == 0) return;
  if (Kg == 0 || PQ == 0) {
    std::memset(gx, 0, sizeof(T) * size_t(g.N * g.C * HW));
    return;
  }
  if constexpr (std::is_same_v<T, float>)
    if (backward_data_direct(g, gy, w, gx)) return;
  std::vector<T> wp;  // W^T per group: A(i = crs, k) = w[k, crs]
  const int64_t per = prepack(wp, w, g.G, Kg * CRS, CRS, Kg, 1, CRS);
  const bool pw1 = pointwise(g);
  const int64_t items = g.N * g.G;
  const int nt = threads_for(double(g.N) * g.K * PQ * CRS);
  const int NR = gemm_config<T>().NR;
  // Column tile: ~COL KiB of col, a multiple of NR, at least 8·NR (narrower tiles spend
  // more on copying W^T into the GEMM's A buffer than the col2im gains from L2).
  static const int64_t col_kib = [] {
    const char* e = std::getenv("NK_CONV_COL_KIB");
    return e ? std::max(16L, std::atol(e)) : 512L;
  }();
  const int64_t TJ =
      std::min(PQ, std::max<int64_t>(8 * NR, (col_kib * 1024 / int64_t(sizeof(T)) / CRS) / NR * NR));

  auto item = [&](int64_t it, int threads) {
    const int64_t n = it / g.G, gi = it % g.G;
    const T* gyc = gy + (n * g.K + gi * Kg) * PQ;
    T* gxc = gx + (n * g.C + gi * Cg) * HW;
    PrepackedA<T> A(wp.data() + gi * per, Kg);
    if (pw1) {
      RowsB<T> B(gyc, PQ);
      gemm_packed<T>(CRS, PQ, Kg, T(1), A, B, T(0), gxc, HW, threads);
      return;
    }
    std::memset(gxc, 0, sizeof(T) * size_t(Cg * HW));
    T* col = tl_col.get<T>(size_t(CRS * TJ));
    for (int64_t j0 = 0; j0 < PQ; j0 += TJ) {
      const int64_t nj = std::min(TJ, PQ - j0);
      RowsB<T> B(gyc + j0, PQ);
      gemm_packed<T>(CRS, nj, Kg, T(1), A, B, T(0), col, nj, threads);
      if (threads == 1) {
        col2im_add<T>(g, col, nj, j0, nj, gxc, 0, Cg);
      } else {
        parallel_for_each(Cg, threads, [&](int64_t c) { col2im_add<T>(g, col, nj, j0, nj, gxc, c, c + 1); });
      }
    }
  };
  if (over_items(items, nt)) {
    parallel_for_each_dynamic(items, nt, [&](int64_t it) { item(it, 1); });
  } else {
    for (int64_t it = 0; it < items; ++it) item(it, nt);
  }
}

template <typename T>
void conv2d_backward_weight(const ConvGeom& g, const T* gy, const T* x, T* gw) {
  const int64_t Kg = g.K / g.G, Cg = g.C / g.G, CRS = Cg * g.R * g.S, PQ = g.P * g.Q, HW = g.H * g.W;
  const int64_t wsize = g.K * CRS;
  if (wsize == 0) return;
  if (g.N == 0 || PQ == 0) {
    std::memset(gw, 0, sizeof(T) * size_t(wsize));
    return;
  }
  if constexpr (std::is_same_v<T, float>)
    if (backward_weight_direct(g, gy, x, gw)) return;
  // 1×1 stride-1 unpadded is a wide-row conv without junk: the same packers serve it.
  const bool pw1 = pointwise(g), wide = wide_rows(g) || pw1;
  const int nt = threads_for(double(g.N) * g.K * PQ * CRS);

  // gW_g (+)= gY_g[images n0..n1) · im2col(X_g)^T over the same images.
  auto product = [&](int64_t gi, int64_t n0, int64_t n1, T* out, int threads) {
    ImagesA<T> A(gy + (n0 * g.K + gi * Kg) * PQ, PQ, PQ, g.K * PQ);
    const T* xc = x + (n0 * g.C + gi * Cg) * HW;
    const int64_t depth = (n1 - n0) * PQ;
    T* o = out + gi * Kg * CRS;
    if (wide) {
      WrapImagesA<T> Aw(gy + (n0 * g.K + gi * Kg) * PQ, g, g.K * PQ);
      WrapTPacker<T> B(xc, g);
      gemm_packed<T>(Kg, CRS, (n1 - n0) * ((g.P - 1) * g.W + g.Q), T(1), Aw, B, T(0), o, CRS, threads);
    } else {
      Im2colTPacker<T> B(xc, g);
      gemm_packed<T>(Kg, CRS, depth, T(1), A, B, T(0), o, CRS, threads);
    }
  };

  if (nt > 1 && g.N >= nt) {
    // Split the batch: thread t sums images [n0, n1) into its own partial.
    std::vector<T> part(size_t(wsize) * size_t(nt - 1));
    parallel_region(nt, [&](Team& team) {
      const int t = team.tid(), tn = team.size();
      const int64_t n0 = g.N * t / tn, n1 = g.N * (t + 1) / tn;
      T* out = t == 0 ? gw : part.data() + (t - 1) * wsize;
      for (int64_t gi = 0; gi < g.G; ++gi) product(gi, n0, n1, out, 1);
      team.barrier();
      const int64_t i0 = wsize * t / tn, i1 = wsize * (t + 1) / tn;
      for (int64_t i = i0; i < i1; ++i) {
        T acc = gw[i];
        for (int u = 1; u < tn; ++u) acc += part[size_t((u - 1) * wsize + i)];
        gw[i] = acc;
      }
    }, 2.0 * double(g.N) * double(g.K) * double(PQ) * double(CRS));
  } else if (nt > 1 && g.G >= nt) {
    parallel_for_each_dynamic(g.G, nt, [&](int64_t gi) { product(gi, 0, g.N, gw, 1); });
  } else {
    for (int64_t gi = 0; gi < g.G; ++gi) product(gi, 0, g.N, gw, nt);
  }
}

template <typename T>
void channel_sum(int64_t N, int64_t C, int64_t L, const T* a, T* out) {
  const int nt = double(N) * C * L < 1e5 ? 1 : num_threads();
  parallel_for_each(C, nt, [&](int64_t c) {
    double acc = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const T* p = a + (n * C + c) * L;
      T part = T(0);
      T lanes[8] = {};
      int64_t l = 0;
      for (; l + 8 <= L; l += 8)
        for (int u = 0; u < 8; ++u) lanes[u] += p[l + u];
      for (int u = 0; u < 8; ++u) part += lanes[u];
      for (; l < L; ++l) part += p[l];
      acc += double(part);
    }
    out[c] = T(acc);
  });
}

#define NK_INSTANTIATE(T)                                                                  \
  template void conv2d_forward<T>(const ConvGeom&, const T*, const T*, const T*, T*);      \
  template void conv2d_backward_data<T>(const ConvGeom&, const T*, const T*, T*);          \
  template void conv2d_backward_weight<T>(const ConvGeom&, const T*, const T*, T*);        \
  template void channel_sum<T>(int64_t, int64_t, int64_t, const T*, T*);                   \
  template void conv2d_forward_ref<T>(const ConvGeom&, const T*, const T*, const T*, T*);  \
  template void conv2d_backward_data_ref<T>(const ConvGeom&, const T*, const T*, T*);      \
  template void conv2d_backward_weight_ref<T>(const ConvGeom&, const T*, const T*, T*);
NK_INSTANTIATE(float)
NK_INSTANTIATE(double)
#undef NK_INSTANTIATE

}  // namespace nk
