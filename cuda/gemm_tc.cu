// GEMM on the tensor cores: C := alpha * op(A) @ op(B) + beta * C, row-major, batched,
// fp32 accumulation. Inputs fp32 (multiplied in TF32), fp16 or bf16; C fp32 or the
// input type.
//
// Kernel gemm_tc_128x128<T, Tout, TA, TB> (one kernel, templated):
//   - block tile 128 x 128, K step BK = 16 (tf32) or 32 (fp16/bf16): 64 bytes of K
//     per row either way; 256 threads = 8 warps as 2 (M) x 4 (N), warp tile 64 x 32
//     = 4 x 4 mma tiles of m16n8 (64 fp32 accumulators per thread);
//   - mma.sync.m16n8k8 .tf32 (fp32 inputs rounded with cvt.rna.tf32) or
//     mma.sync.m16n8k16 .f16/.bf16, fragments loaded from shared memory with the
//     PTX ISA register layouts (groupID g = lane/4, t = lane%4): tf32 by scalar
//     loads, fp16/bf16 by ldmatrix.x4 (.trans for the m/n-contiguous tiles): one
//     instruction per m16 A fragment and per two n8 B fragments;
//   - shared tiles keep each operand's memory layout (A as [m][k] or, transposed,
//     [k][m]; B as [k][n] or [n][k]), rows padded (k-rows by 16 bytes, m/n-rows by 8
//     elements) so that every fragment load of a warp hits 32 distinct banks;
//   - two stages filled with cp.async.cg (16-byte chunks, zero-fill for the edge
//     chunks via src-size) when the operand is 16-byte aligned with a leading
//     dimension that is a multiple of the chunk; otherwise (odd ld, unaligned view)
//     a bounds-checked element-wise copy into the same stage. The next stage loads
//     while the current one is multiplied;
//   - any M, N, K: out-of-range rows/cols/K load as zero; the epilogue writes only
//     inside C and reads C only when beta != 0.
// Needs sm_80+ (mma.sync tf32/bf16, cp.async); the build targets 80/86/89/90.
// ptxas -v (CUDA 13.0, sm_80 and sm_90): 122-128 registers, no spills, 40 KB static shared
// memory (2 stages x (A + B) x 10 KB) -> 2 blocks (16 warps) per SM.
// Blocks run in grouped order (8 row tiles sweep the column tiles together, see
// grouped_tile in common.cuh) so that the B panels they share stay in L2.
// Known gaps (next steps): tf32 fragments come from scalar shared loads, 2 stages
// only, no wgmma/TMA on sm_90.
// Expected speed (H100): mma.sync without ldmatrix or wgmma, 2 stages: roughly
// 0.5-0.7x cuBLAS at 4096^3 is what such kernels reach; NOT MEASURED (no GPU on the
// development machine) -- `python benchmarks/gpu_bench.py` measures it.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "common.cuh"

// fp16/bf16 fragments through ldmatrix (1); 0 falls back to scalar shared loads (the
// first version, kept as the reference to bisect with: -DNK_TC_LDMATRIX=0).
#ifndef NK_TC_LDMATRIX
#define NK_TC_LDMATRIX 1
#endif

namespace nkcuda {
namespace {

constexpr int TC_BM = 128, TC_BN = 128, TC_THREADS = 256;
constexpr int TC_STAGE_BYTES = 10240;  // the largest of the four tile layouts, see Tile

template <typename T> struct TcType;
template <> struct TcType<float> {
  static constexpr int BK = 16, KSTEP = 8, PADK = 4, PADMN = 8;
};
template <> struct TcType<__half> {
  static constexpr int BK = 32, KSTEP = 16, PADK = 8, PADMN = 8;
};
template <> struct TcType<__nv_bfloat16> {
  static constexpr int BK = 32, KSTEP = 16, PADK = 8, PADMN = 8;
};

__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T> __device__ __forceinline__ T from_f(float x);
template <> __device__ __forceinline__ float from_f<float>(float x) { return x; }
template <> __device__ __forceinline__ __half from_f<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

__device__ __forceinline__ uint32_t bits16(__half x) { return __half_as_ushort(x); }
__device__ __forceinline__ uint32_t bits16(__nv_bfloat16 x) { return __bfloat16_as_ushort(x); }

__device__ __forceinline__ uint32_t to_tf32(float x) {
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
  return r;
}

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, int src_bytes) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

// d += a * b for one m16n8 tile.
__device__ __forceinline__ void mma(float* d, const uint32_t* a, const uint32_t* b, float) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
__device__ __forceinline__ void mma(float* d, const uint32_t* a, const uint32_t* b, __half) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
__device__ __forceinline__ void mma(float* d, const uint32_t* a, const uint32_t* b, __nv_bfloat16) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Four 8x8 b16 matrices from shared memory into mma fragment registers; lane l gives
// the address of row l%8 of matrix l/8. TRANS: each matrix is transposed on the way.
template <bool TRANS>
__device__ __forceinline__ void ldmatrix_x4(uint32_t* r, const void* smem_row) {
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(smem_row));
  if (TRANS)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
  else
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
}

// Copies a ROWS x COLS tile (COLS contiguous in memory) of an R x Cn row-major matrix
// starting at (r0, c0) into shared memory with row pitch P; zeros outside the matrix.
// 256 threads, ROWS*COLS/CH chunks of 16 bytes.
template <typename T, int ROWS, int COLS, int P>
__device__ __forceinline__ void load_tile(T* s, const T* __restrict__ g, int64_t ld, int64_t r0, int64_t c0,
                                          int64_t R, int64_t Cn, bool aligned) {
  constexpr int CH = 16 / sizeof(T);
  constexpr int PER_ROW = COLS / CH;
  constexpr int CHUNKS = ROWS * PER_ROW;
  static_assert(CHUNKS % TC_THREADS == 0, "tile must split evenly over the block");
#pragma unroll
  for (int i = 0; i < CHUNKS / TC_THREADS; ++i) {
    const int q = threadIdx.x + i * TC_THREADS;
    const int r = q / PER_ROW, cc = (q % PER_ROW) * CH;
    const int64_t gr = r0 + r, gc = c0 + cc;
    int64_t valid = gr < R ? Cn - gc : 0;
    valid = valid < 0 ? 0 : (valid > CH ? CH : valid);
    T* dst = s + r * P + cc;
    if (aligned) {
      const T* src = valid > 0 ? g + gr * ld + gc : g;  // g: any valid address when nothing is read
      cp_async16(dst, src, static_cast<int>(valid * sizeof(T)));
    } else {
      const T* src = g + gr * ld + gc;
#pragma unroll
      for (int e = 0; e < CH; ++e) dst[e] = e < valid ? src[e] : from_f<T>(0.f);
    }
  }
}

template <typename T, typename Tout, bool TA, bool TB>
__global__ void __launch_bounds__(TC_THREADS, 2)
    gemm_tc_128x128(int64_t M, int64_t N, int64_t K, float alpha, const T* __restrict__ A, int64_t lda,
                    int64_t sa, const T* __restrict__ B, int64_t ldb, int64_t sb, float beta, Tout* __restrict__ C,
                    int64_t ldc, int64_t sc, bool al_a, bool al_b) {
  using TT = TcType<T>;
  constexpr int BK = TT::BK, KSTEP = TT::KSTEP;
  // Row pitches (elements): k-contiguous rows hold BK + PADK, m/n-contiguous rows BM + PADMN.
  constexpr int PA = TA ? TC_BM + TT::PADMN : BK + TT::PADK;
  constexpr int PB = TB ? BK + TT::PADK : TC_BN + TT::PADMN;
  static_assert((TA ? BK * PA : TC_BM * PA) * (int)sizeof(T) <= TC_STAGE_BYTES, "A stage too large");
  static_assert((TB ? TC_BN * PB : BK * PB) * (int)sizeof(T) <= TC_STAGE_BYTES, "B stage too large");
  __shared__ __align__(16) unsigned char smem[2][2][TC_STAGE_BYTES];  // [stage][A|B]

  const int64_t bz = blockIdx.z;
  A += bz * sa;
  B += bz * sb;
  C += bz * sc;
  int64_t tile_m, tile_n;
  grouped_tile<8>(tile_m, tile_n);  // L2-friendly block order
  const int64_t m0 = tile_m * TC_BM, n0 = tile_n * TC_BN;

  auto load_stage = [&](int s, int64_t k0) {
    T* sA = reinterpret_cast<T*>(smem[s][0]);
    T* sB = reinterpret_cast<T*>(smem[s][1]);
    if (TA) load_tile<T, BK, TC_BM, PA>(sA, A, lda, k0, m0, K, M, al_a);   // A stored K x M
    else    load_tile<T, TC_BM, BK, PA>(sA, A, lda, m0, k0, M, K, al_a);   // A stored M x K
    if (TB) load_tile<T, TC_BN, BK, PB>(sB, B, ldb, n0, k0, N, K, al_b);   // B stored N x K
    else    load_tile<T, BK, TC_BN, PB>(sB, B, ldb, k0, n0, K, N, al_b);   // B stored K x N
    cp_async_commit();
  };

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;
  const int wr = (warp / 4) * 64;  // warp's first row in the block tile
  const int wc = (warp % 4) * 32;  // warp's first column

  float acc[4][4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.f;

  const int64_t nk = (K + BK - 1) / BK;
  if (nk > 0) load_stage(0, 0);
  for (int64_t kt = 0; kt < nk; ++kt) {
    if (kt + 1 < nk) {
      load_stage((kt + 1) & 1, (kt + 1) * BK);
      cp_async_wait<1>();  // stage kt has landed, kt+1 may still be in flight
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const T* sA = reinterpret_cast<const T*>(smem[kt & 1][0]);
    const T* sB = reinterpret_cast<const T*>(smem[kt & 1][1]);
    // Element accessors: op(A)(m, k) and op(B)(k, n) inside the tile.
    auto a_at = [&](int m, int k) -> T { return TA ? sA[k * PA + m] : sA[m * PA + k]; };
    auto b_at = [&](int k, int n) -> T { return TB ? sB[n * PB + k] : sB[k * PB + n]; };
    // Two consecutive k of one row (m) or column (n), packed low = lower k.
    auto a_pair = [&](int m, int k) -> uint32_t {
      if constexpr (sizeof(T) == 2) {
        if (!TA) return *reinterpret_cast<const uint32_t*>(&sA[m * PA + k]);
        return bits16(a_at(m, k)) | (bits16(a_at(m, k + 1)) << 16);
      } else {
        return 0u;
      }
    };
    auto b_pair = [&](int k, int n) -> uint32_t {
      if constexpr (sizeof(T) == 2) {
        if (TB) return *reinterpret_cast<const uint32_t*>(&sB[n * PB + k]);
        return bits16(b_at(k, n)) | (bits16(b_at(k + 1, n)) << 16);
      } else {
        return 0u;
      }
    };

#pragma unroll
    for (int kk = 0; kk < BK; kk += KSTEP) {
      uint32_t af[4][4], bfr[4][2];
#if NK_TC_LDMATRIX
      if constexpr (sizeof(T) == 2) {
        // ldmatrix: lane l addresses row q = l%8 of 8x8 matrix j = l/8 (16 bytes each).
        const int q = lane % 8, jm = lane / 8;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          // matrices: 0 (m+0, k+0), 1 (m+8, k+0), 2 (m+0, k+8), 3 (m+8, k+8) -> a0..a3
          const int r0 = wr + i * 16;
          if (TA) ldmatrix_x4<true>(af[i], &sA[(kk + q + 8 * (jm >> 1)) * PA + r0 + 8 * (jm & 1)]);
          else    ldmatrix_x4<false>(af[i], &sA[(r0 + q + 8 * (jm & 1)) * PA + kk + 8 * (jm >> 1)]);
        }
#pragma unroll
        for (int jj = 0; jj < 2; ++jj) {
          // matrices: 0 (k+0, n+0), 1 (k+8, n+0), 2 (k+0, n+8), 3 (k+8, n+8) -> b0, b1 of two n8 tiles
          const int c0 = wc + jj * 16;
          uint32_t r[4];
          if (TB) ldmatrix_x4<false>(r, &sB[(c0 + q + 8 * (jm >> 1)) * PB + kk + 8 * (jm & 1)]);
          else    ldmatrix_x4<true>(r, &sB[(kk + q + 8 * (jm & 1)) * PB + c0 + 8 * (jm >> 1)]);
          bfr[2 * jj][0] = r[0];
          bfr[2 * jj][1] = r[1];
          bfr[2 * jj + 1][0] = r[2];
          bfr[2 * jj + 1][1] = r[3];
        }
      } else
#endif
      {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int r = wr + i * 16 + g;
        if constexpr (sizeof(T) == 4) {
          af[i][0] = to_tf32(to_f(a_at(r, kk + t)));
          af[i][1] = to_tf32(to_f(a_at(r + 8, kk + t)));
          af[i][2] = to_tf32(to_f(a_at(r, kk + t + 4)));
          af[i][3] = to_tf32(to_f(a_at(r + 8, kk + t + 4)));
        } else {
          af[i][0] = a_pair(r, kk + 2 * t);
          af[i][1] = a_pair(r + 8, kk + 2 * t);
          af[i][2] = a_pair(r, kk + 2 * t + 8);
          af[i][3] = a_pair(r + 8, kk + 2 * t + 8);
        }
      }
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int c = wc + j * 8 + g;
        if constexpr (sizeof(T) == 4) {
          bfr[j][0] = to_tf32(to_f(b_at(kk + t, c)));
          bfr[j][1] = to_tf32(to_f(b_at(kk + t + 4, c)));
        } else {
          bfr[j][0] = b_pair(kk + 2 * t, c);
          bfr[j][1] = b_pair(kk + 2 * t + 8, c);
        }
      }
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) mma(acc[i][j], af[i], bfr[j], T());
    }
    __syncthreads();  // everyone is done with this stage before it is refilled
  }

  // Epilogue. Accumulator e of tile (i, j): row g (+8 for e >= 2), column 2t (+1 for odd e).
#pragma unroll
  for (int i = 0; i < 4; ++i) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int64_t m = m0 + wr + i * 16 + g + half * 8;
      if (m >= M) continue;
      Tout* crow = C + m * ldc;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int64_t n = n0 + wc + j * 8 + 2 * t + e;
          if (n >= N) continue;
          float v = alpha * acc[i][j][half * 2 + e];
          if (beta != 0.f) v += beta * to_f(crow[n]);
          crow[n] = from_f<Tout>(v);
        }
      }
    }
  }
}

bool aligned16(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15) == 0; }

template <typename T, typename Tout, bool TA, bool TB>
void launch(const GemmArgs& g, cudaStream_t stream) {
  if (ceil_div(g.M, TC_BM) > 65535) throw CudaError("gemm: M too large for the grid (more than 65535 row tiles)");
  constexpr int CH = 16 / sizeof(T);
  const T* A = static_cast<const T*>(g.A);
  const T* B = static_cast<const T*>(g.B);
  Tout* C = static_cast<Tout*>(g.C);
  // cp.async moves 16-byte chunks: every chunk start must be 16-byte aligned, in every batch.
  const bool al_a = aligned16(A) && g.lda % CH == 0 && (g.batch == 1 || g.stride_a % CH == 0);
  const bool al_b = aligned16(B) && g.ldb % CH == 0 && (g.batch == 1 || g.stride_b % CH == 0);
  for (int64_t b0 = 0; b0 < g.batch; b0 += 65535) {
    const int64_t nb = std::min<int64_t>(65535, g.batch - b0);
    dim3 grid((unsigned)ceil_div(g.N, TC_BN), (unsigned)ceil_div(g.M, TC_BM), (unsigned)nb);
    gemm_tc_128x128<T, Tout, TA, TB><<<grid, TC_THREADS, 0, stream>>>(
        g.M, g.N, g.K, (float)g.alpha, A + b0 * g.stride_a, g.lda, g.stride_a, B + b0 * g.stride_b, g.ldb,
        g.stride_b, (float)g.beta, C + b0 * g.stride_c, g.ldc, g.stride_c, al_a, al_b);
    check_launch("gemm_tc_128x128 launch");
  }
}

template <typename T, typename Tout>
void launch_layouts(const GemmArgs& g, cudaStream_t stream) {
  if (!g.trans_a && !g.trans_b) launch<T, Tout, false, false>(g, stream);
  else if (g.trans_a && !g.trans_b) launch<T, Tout, true, false>(g, stream);
  else if (!g.trans_a && g.trans_b) launch<T, Tout, false, true>(g, stream);
  else launch<T, Tout, true, true>(g, stream);
}

}  // namespace

void gemm_tensorcore(DType in, DType out, const GemmArgs& g, cudaStream_t stream) {
  if (g.M <= 0 || g.N <= 0 || g.batch <= 0) return;
  const bool f32_out = out == DType::f32;
  if (!f32_out && out != in) throw CudaError("gemm_tensorcore: out dtype must be float32 or the input dtype");
  switch (in) {
    case DType::f32: return launch_layouts<float, float>(g, stream);
    case DType::f16:
      return f32_out ? launch_layouts<__half, float>(g, stream) : launch_layouts<__half, __half>(g, stream);
    case DType::bf16:
      return f32_out ? launch_layouts<__nv_bfloat16, float>(g, stream)
                     : launch_layouts<__nv_bfloat16, __nv_bfloat16>(g, stream);
    default: throw CudaError("gemm_tensorcore: input dtype must be float32, float16 or bfloat16");
  }
}

}  // namespace nkcuda
