// Micro-kernel declarations only. The *_avx2.cpp / *_avx512.cpp files include nothing else from the
// project: any inline function they pulled in would be compiled with -mavx2 (or AVX-512) and could
// be the copy the linker keeps for generic callers too.
#pragma once
#include <cstdint>

namespace nk {
void sgemm_generic_6x16(int64_t k, const float* Ap, const float* Bp, float* C, int64_t ldc,
                        int m, int n, float alpha, float beta);
void dgemm_generic_6x8(int64_t k, const double* Ap, const double* Bp, double* C, int64_t ldc,
                       int m, int n, double alpha, double beta);
void sgemm_avx2_6x16(int64_t k, const float* Ap, const float* Bp, float* C, int64_t ldc,
                     int m, int n, float alpha, float beta);
void dgemm_avx2_6x8(int64_t k, const double* Ap, const double* Bp, double* C, int64_t ldc,
                    int m, int n, double alpha, double beta);
void sgemm_avx512_8x32(int64_t k, const float* Ap, const float* Bp, float* C, int64_t ldc,
                       int m, int n, float alpha, float beta);
// sgemm_avx512_8x32 reading A in place: rows a + i·lda (i < m), unit stride along k.
void sgemm_avx512_8x32_rows(int64_t k, const float* a, int64_t lda, const float* Bp, float* C,
                            int64_t ldc, int m, int n, float alpha, float beta);
void dgemm_avx512_8x16(int64_t k, const double* Ap, const double* Bp, double* C, int64_t ldc,
                       int m, int n, double alpha, double beta);
// dst[t·nr + j] = src[j][t] for t < len, j < nr (nr source rows interleaved into nr-wide
// packed rows; nr a multiple of 8): A micro-panels of 8k rows, the conv grad-w B panels.
void interleave_rows_f32_generic(const float* const* src, int nr, int64_t len, float* dst);
void interleave_rows_f32_avx2(const float* const* src, int nr, int64_t len, float* dst);
// Pack one full 6-row panel of row-major float A (rows src + i*lda, kc columns) into
// the micro-panel layout (kc groups of 6). AVX2/FMA CPUs only.
void sgemm_pack_a6_avx2(const float* src, int64_t lda, int64_t kc, float* dst);
// The avx512 sgemm's packers: a full 8-row A panel, and a 32-column strip of a B with
// contiguous rows (n <= 32 columns read, the rest zero).
void sgemm_pack_a8_avx512(const float* src, int64_t lda, int64_t kc, float* dst);
void sgemm_pack_b32_avx512(const float* src, int64_t ldb, int64_t kc, int n, float* dst);
}  // namespace nk
