// GEMM on the CUDA cores: C := alpha * op(A) @ op(B) + beta * C, row-major, batched.
//
// Variants (picked by gemm_simt / gemm_reference below):
//   0 gemm_naive<T>          one thread per C element, the K loop in registers. The
//                            reference the others are checked against (fp32, fp64).
//   1 gemm_tiled<T>          64x64x16 shared-memory tiles, 4x4 outputs per thread
//                            (256 threads). The fp64 path (no fp64 peer target).
//   2 sgemm_128x128x8<TA,TB> the fp32 kernel: block tile 128x128, K step 8, 256
//                            threads as 8 warps in a 2x4 grid, warp tile 64x32, each
//                            thread 8x8 outputs as four 4x4 quads (rows +0/+32,
//                            cols +0/+16) so shared-memory reads are conflict-free
//                            float4 broadcasts. Global loads are float4 when the
//                            pointer is 16-byte aligned and the leading dimension a
//                            multiple of 4 (scalar, bounds-checked loads otherwise
//                            and at the edges); A and B tiles are stored k-major
//                            (As[k][m], Bs[k][n], rows padded by 4 floats so that the
//                            transposing stores do not conflict), double-buffered in
//                            shared memory with the next tile prefetched into
//                            registers while the current one is multiplied (one
//                            __syncthreads per K step). Transposes are template
//                            arguments: each operand is read in its own layout.
//                            Any M, N, K: out-of-range elements load as 0 and the
//                            epilogue stores only inside C. beta == 0 never reads C.
//
// Shapes: op(A) M x K, op(B) K x N, C M x N (ldc), batch b at ptr + b*stride.
// Expected speed (H100 SXM, fp32 4096^3): this design (siboehm-style warptiling)
// reaches ~0.8-0.9x cuBLAS on A100-class parts; NOT MEASURED here (no GPU on the
// development machine) -- measure with `python benchmarks/gpu_bench.py`.
// ptxas -v (CUDA 13.0, sm_80 and sm_90): sgemm_128x128x8 126-128 registers (capped by
// __launch_bounds__(256, 2)), no spills, 16.9 KB static shared memory -> 2 blocks
// (16 warps) per SM; gemm_tiled<double> 128 registers, 16.6 KB.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "common.cuh"

namespace nkcuda {
namespace {

// ---- variant 0: naive reference ---------------------------------------------------
template <typename T>
__global__ void gemm_naive(int64_t M, int64_t N, int64_t K, T alpha, const T* __restrict__ A, int64_t lda,
                           bool ta, int64_t sa, const T* __restrict__ B, int64_t ldb, bool tb, int64_t sb,
                           T beta, T* __restrict__ C, int64_t ldc, int64_t sc) {
  const int64_t b = blockIdx.z;
  A += b * sa;
  B += b * sb;
  C += b * sc;
  const int64_t n = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  const int64_t m = blockIdx.y * (int64_t)blockDim.y + threadIdx.y;
  if (m >= M || n >= N) return;
  T acc = 0;
  for (int64_t k = 0; k < K; ++k) {
    T a = ta ? A[k * lda + m] : A[m * lda + k];
    T bv = tb ? B[n * ldb + k] : B[k * ldb + n];
    acc += a * bv;
  }
  T* c = C + m * ldc + n;
  *c = beta == T(0) ? alpha * acc : alpha * acc + beta * *c;
}

// ---- variant 1: simple shared-memory tiling (fp64 path) ---------------------------
constexpr int T1_BM = 64, T1_BN = 64, T1_BK = 16;

template <typename T>
__global__ void __launch_bounds__(256) gemm_tiled(int64_t M, int64_t N, int64_t K, T alpha, const T* __restrict__ A,
                                                  int64_t lda, bool ta, int64_t sa, const T* __restrict__ B,
                                                  int64_t ldb, bool tb, int64_t sb, T beta, T* __restrict__ C,
                                                  int64_t ldc, int64_t sc) {
  __shared__ T As[T1_BK][T1_BM + 1];
  __shared__ T Bs[T1_BK][T1_BN + 1];
  const int64_t b = blockIdx.z;
  A += b * sa;
  B += b * sb;
  C += b * sc;
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int64_t m0 = (int64_t)blockIdx.y * T1_BM, n0 = (int64_t)blockIdx.x * T1_BN;
  T acc[4][4] = {};
  for (int64_t k0 = 0; k0 < K; k0 += T1_BK) {
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const int e = tid + 256 * q;  // 0..1023 over a 64 x 16 tile
      // A: when k is contiguous in memory let consecutive threads walk k.
      int mm, kk;
      if (ta) { mm = e % T1_BM; kk = e / T1_BM; } else { kk = e % T1_BK; mm = e / T1_BK; }
      const int64_t gm = m0 + mm, gk = k0 + kk;
      As[kk][mm] = (gm < M && gk < K) ? (ta ? A[gk * lda + gm] : A[gm * lda + gk]) : T(0);
      int nn, kb;
      if (tb) { kb = e % T1_BK; nn = e / T1_BK; } else { nn = e % T1_BN; kb = e / T1_BN; }
      const int64_t gn = n0 + nn, gkb = k0 + kb;
      Bs[kb][nn] = (gn < N && gkb < K) ? (tb ? B[gn * ldb + gkb] : B[gkb * ldb + gn]) : T(0);
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < T1_BK; ++k) {
      T a[4], bv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = As[k][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) bv[j] = Bs[k][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * bv[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t m = m0 + ty + 16 * i;
    if (m >= M) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t n = n0 + tx + 16 * j;
      if (n >= N) continue;
      T* c = C + m * ldc + n;
      *c = beta == T(0) ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *c;
    }
  }
}

// ---- variant 2: fp32 128x128x8, 8x8 per thread, warp tiles 64x32 ------------------
constexpr int S_BM = 128, S_BN = 128, S_BK = 8, S_PAD = 4, S_THREADS = 256;

// Four consecutive elements p[0..valid) (zeros after), as one float4 load when whole
// and `vec` (16-byte aligned).
__device__ __forceinline__ float4 load4(const float* __restrict__ p, int valid, bool vec) {
  if (valid >= 4 && vec) return __ldg(reinterpret_cast<const float4*>(p));
  float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
  if (valid > 0) v.x = __ldg(p + 0);
  if (valid > 1) v.y = __ldg(p + 1);
  if (valid > 2) v.z = __ldg(p + 2);
  if (valid > 3) v.w = __ldg(p + 3);
  return v;
}

// One thread's walk through an operand along K, 4 elements per K tile.
//   KCONT (A, or B^T in memory): a fixed row (m or n) of the matrix, 4 consecutive k
//     starting at kofs; the pointer advances by BK elements per tile.
//   !KCONT (A^T, or B): row k = kofs + tile*BK, 4 consecutive m/n of which `fixed`
//     are inside the matrix; the pointer advances by BK rows.
struct Walk {
  const float* p;
  int64_t step;
  int kofs;   // this thread's k offset inside the tile
  int fixed;  // KCONT: 4 if the row is inside the matrix, else 0; !KCONT: valid m/n (0..4)
};

template <bool KCONT>
__device__ __forceinline__ float4 walk_load(const Walk& w, int64_t k0, int64_t K, bool vec) {
  const int64_t k = k0 + w.kofs;
  int valid;
  if (KCONT) {
    const int64_t left = K - k;
    valid = left >= 4 ? w.fixed : (left > 0 ? min((int)left, w.fixed) : 0);
  } else {
    valid = k < K ? w.fixed : 0;
  }
  return load4(w.p, valid, vec);
}

// TA: A is stored K x M (op(A) = A^T). TB: B is stored N x K.
template <bool TA, bool TB>
__global__ void __launch_bounds__(S_THREADS, 2)
    sgemm_128x128x8(int64_t M, int64_t N, int64_t K, float alpha, const float* __restrict__ A, int64_t lda,
                    int64_t sa, const float* __restrict__ B, int64_t ldb, int64_t sb, float beta,
                    float* __restrict__ C, int64_t ldc, int64_t sc, bool vec_a, bool vec_b, bool vec_c) {
  __shared__ __align__(16) float As[2][S_BK][S_BM + S_PAD];
  __shared__ __align__(16) float Bs[2][S_BK][S_BN + S_PAD];

  const int64_t bz = blockIdx.z;
  A += bz * sa;
  B += bz * sb;
  C += bz * sc;
  const int tid = threadIdx.x;
  // Plain block order (grouped_tile's extra registers made the NN variant spill; at
  // 4096^3 this kernel is compute-bound, the concurrent blocks share B panels in L2).
  const int64_t m0 = (int64_t)blockIdx.y * S_BM, n0 = (int64_t)blockIdx.x * S_BN;

  // Global -> register mapping of this thread's 4 elements of each tile.
  //   k-contiguous operand (A, or B^T): row = tid/2 of the 128, k = (tid%2)*4.
  //   m/n-contiguous operand (A^T, or B): k = tid/32, m/n = (tid%32)*4.
  const int lr_k = tid / 2, lc_k = (tid % 2) * 4;     // k-contiguous
  const int lr_mn = tid / 32, lc_mn = (tid % 32) * 4;  // m/n-contiguous
  auto clamp4 = [](int64_t v) { return (int)(v < 0 ? 0 : (v > 4 ? 4 : v)); };
  Walk wa, wb;
  if (TA) wa = Walk{A + (int64_t)lr_mn * lda + m0 + lc_mn, S_BK * lda, lr_mn, clamp4(M - (m0 + lc_mn))};
  else    wa = Walk{A + (m0 + lr_k) * lda + lc_k, S_BK, lc_k, m0 + lr_k < M ? 4 : 0};
  if (TB) wb = Walk{B + (n0 + lr_k) * ldb + lc_k, S_BK, lc_k, n0 + lr_k < N ? 4 : 0};
  else    wb = Walk{B + (int64_t)lr_mn * ldb + n0 + lc_mn, S_BK * ldb, lr_mn, clamp4(N - (n0 + lc_mn))};

  auto load_a = [&](int64_t k0) -> float4 { return walk_load<!TA>(wa, k0, K, vec_a); };
  auto load_b = [&](int64_t k0) -> float4 { return walk_load<TB>(wb, k0, K, vec_b); };
  auto store_a = [&](int s, float4 v) {
    if (TA) {
      *reinterpret_cast<float4*>(&As[s][lr_mn][lc_mn]) = v;
    } else {
      As[s][lc_k + 0][lr_k] = v.x;
      As[s][lc_k + 1][lr_k] = v.y;
      As[s][lc_k + 2][lr_k] = v.z;
      As[s][lc_k + 3][lr_k] = v.w;
    }
  };
  auto store_b = [&](int s, float4 v) {
    if (TB) {
      Bs[s][lc_k + 0][lr_k] = v.x;
      Bs[s][lc_k + 1][lr_k] = v.y;
      Bs[s][lc_k + 2][lr_k] = v.z;
      Bs[s][lc_k + 3][lr_k] = v.w;
    } else {
      *reinterpret_cast<float4*>(&Bs[s][lr_mn][lc_mn]) = v;
    }
  };

  // Compute mapping: warp (wm, wn) in 2 x 4, lane (tm, tn) in 8 x 4.
  const int warp = tid / 32, lane = tid % 32;
  const int wm = warp / 4, wn = warp % 4;
  const int tm = lane / 4, tn = lane % 4;
  const int rbase = wm * 64 + tm * 4;  // rows rbase+0..3 and rbase+32..35
  const int cbase = wn * 32 + tn * 4;  // cols cbase+0..3 and cbase+16..19

  float acc[8][8];
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[i][j] = 0.f;

  const int64_t nk = (K + S_BK - 1) / S_BK;
  if (nk > 0) {
    store_a(0, load_a(0));
    store_b(0, load_b(0));
  }
  __syncthreads();
  for (int64_t kt = 0; kt < nk; ++kt) {
    const int cur = kt & 1;
    float4 na = make_float4(0.f, 0.f, 0.f, 0.f), nb = na;
    const bool more = kt + 1 < nk;
    if (more) {
      wa.p += wa.step;
      wb.p += wb.step;
      na = load_a((kt + 1) * S_BK);
      nb = load_b((kt + 1) * S_BK);
    }
#pragma unroll
    for (int k = 0; k < S_BK; ++k) {
      const float4 a0 = *reinterpret_cast<const float4*>(&As[cur][k][rbase]);
      const float4 a1 = *reinterpret_cast<const float4*>(&As[cur][k][rbase + 32]);
      const float4 b0 = *reinterpret_cast<const float4*>(&Bs[cur][k][cbase]);
      const float4 b1 = *reinterpret_cast<const float4*>(&Bs[cur][k][cbase + 16]);
      const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], bv[j], acc[i][j]);
    }
    if (more) {
      store_a(cur ^ 1, na);
      store_b(cur ^ 1, nb);
    }
    __syncthreads();
  }

  // Epilogue: C = alpha*acc + beta*C, float4 where the row segment is whole and aligned.
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int64_t m = m0 + rbase + (i < 4 ? i : 32 + i - 4);
    if (m >= M) continue;
    float* crow = C + m * ldc;
#pragma unroll
    for (int jq = 0; jq < 2; ++jq) {
      const int64_t n = n0 + cbase + jq * 16;
      float v[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) v[j] = alpha * acc[i][jq * 4 + j];
      if (vec_c && n + 3 < N) {
        float4* cp = reinterpret_cast<float4*>(crow + n);
        if (beta != 0.f) {
          const float4 old = *cp;
          v[0] += beta * old.x;
          v[1] += beta * old.y;
          v[2] += beta * old.z;
          v[3] += beta * old.w;
        }
        *cp = make_float4(v[0], v[1], v[2], v[3]);
      } else {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          if (n + j < N) crow[n + j] = beta != 0.f ? v[j] + beta * crow[n + j] : v[j];
        }
      }
    }
  }
}

bool aligned16(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15) == 0; }

// Launches `launch(batch_offset, nbatch)` over chunks of at most 65535 batches (the
// grid's z limit).
template <typename F>
void over_batches(int64_t batch, F&& launch) {
  for (int64_t b0 = 0; b0 < batch; b0 += 65535) launch(b0, std::min<int64_t>(65535, batch - b0));
}

void check_grid(int64_t M, int64_t tile) {
  if (ceil_div(M, tile) > 65535) throw CudaError("gemm: M too large for the grid (more than 65535 row tiles)");
}

template <typename T>
void launch_reference(const GemmArgs& g, cudaStream_t stream) {
  check_grid(g.M, 16);
  over_batches(g.batch, [&](int64_t b0, int64_t nb) {
    dim3 block(16, 16), grid((unsigned)ceil_div(g.N, 16), (unsigned)ceil_div(g.M, 16), (unsigned)nb);
    gemm_naive<T><<<grid, block, 0, stream>>>(
        g.M, g.N, g.K, (T)g.alpha, static_cast<const T*>(g.A) + b0 * g.stride_a, g.lda, g.trans_a, g.stride_a,
        static_cast<const T*>(g.B) + b0 * g.stride_b, g.ldb, g.trans_b, g.stride_b, (T)g.beta,
        static_cast<T*>(g.C) + b0 * g.stride_c, g.ldc, g.stride_c);
    check_launch("gemm_naive launch");
  });
}

template <typename T>
void launch_tiled(const GemmArgs& g, cudaStream_t stream) {
  check_grid(g.M, T1_BM);
  over_batches(g.batch, [&](int64_t b0, int64_t nb) {
    dim3 grid((unsigned)ceil_div(g.N, T1_BN), (unsigned)ceil_div(g.M, T1_BM), (unsigned)nb);
    gemm_tiled<T><<<grid, 256, 0, stream>>>(
        g.M, g.N, g.K, (T)g.alpha, static_cast<const T*>(g.A) + b0 * g.stride_a, g.lda, g.trans_a, g.stride_a,
        static_cast<const T*>(g.B) + b0 * g.stride_b, g.ldb, g.trans_b, g.stride_b, (T)g.beta,
        static_cast<T*>(g.C) + b0 * g.stride_c, g.ldc, g.stride_c);
    check_launch("gemm_tiled launch");
  });
}

template <bool TA, bool TB>
void launch_sgemm(const GemmArgs& g, cudaStream_t stream) {
  check_grid(g.M, S_BM);
  const float* A = static_cast<const float*>(g.A);
  const float* B = static_cast<const float*>(g.B);
  float* C = static_cast<float*>(g.C);
  // Vector access needs every batch's matrix aligned too: strides multiples of 4.
  const bool vec_a = aligned16(A) && g.lda % 4 == 0 && (g.batch == 1 || g.stride_a % 4 == 0);
  const bool vec_b = aligned16(B) && g.ldb % 4 == 0 && (g.batch == 1 || g.stride_b % 4 == 0);
  const bool vec_c = aligned16(C) && g.ldc % 4 == 0 && (g.batch == 1 || g.stride_c % 4 == 0);
  over_batches(g.batch, [&](int64_t b0, int64_t nb) {
    dim3 grid((unsigned)ceil_div(g.N, S_BN), (unsigned)ceil_div(g.M, S_BM), (unsigned)nb);
    sgemm_128x128x8<TA, TB><<<grid, S_THREADS, 0, stream>>>(
        g.M, g.N, g.K, (float)g.alpha, A + b0 * g.stride_a, g.lda, g.stride_a, B + b0 * g.stride_b, g.ldb,
        g.stride_b, (float)g.beta, C + b0 * g.stride_c, g.ldc, g.stride_c, vec_a, vec_b, vec_c);
    check_launch("sgemm_128x128x8 launch");
  });
}

}  // namespace

void gemm_reference(DType dtype, const GemmArgs& g, cudaStream_t stream) {
  if (g.M <= 0 || g.N <= 0 || g.batch <= 0) return;
  if (dtype == DType::f32) launch_reference<float>(g, stream);
  else if (dtype == DType::f64) launch_reference<double>(g, stream);
  else throw CudaError("gemm_reference: dtype must be float32 or float64");
}

void gemm_simt(DType dtype, const GemmArgs& g, cudaStream_t stream) {
  if (g.M <= 0 || g.N <= 0 || g.batch <= 0) return;
  if (dtype == DType::f64) return launch_tiled<double>(g, stream);
  if (dtype != DType::f32) throw CudaError("gemm_simt: dtype must be float32 or float64");
  if (!g.trans_a && !g.trans_b) launch_sgemm<false, false>(g, stream);
  else if (g.trans_a && !g.trans_b) launch_sgemm<true, false>(g, stream);
  else if (!g.trans_a && g.trans_b) launch_sgemm<false, true>(g, stream);
  else launch_sgemm<true, true>(g, stream);
}

}  // namespace nkcuda
