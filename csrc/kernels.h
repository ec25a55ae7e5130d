// The kernel table: one per CPU path (BLIS's cntx as the model). Each csrc/isa/<isa>_table.cpp
// fills one CpuKernels with every family's micro-kernels and block sizes; a family asks
// kernels() for what it needs and never compares ISAs itself. A new path (AVX10, NEON,
// SVE) is one new table plus its kernel files, and one line in kernels(Isa).
//
// Generic code only: the *_avx2.cpp / *_avx512.cpp files include just their family's
// declaration header, never this one (its inline templates would be compiled with their
// flags and could become the copy generic callers link to).
//
// Optional entries (marked "null: ...") are fast paths a family takes when present and
// replaces with its portable loop when null.
#pragma once
#include <cstdint>

#include "attention/attention_kernels.h"
#include "common.h"
#include "gemm/gemm.h"

namespace nk {

// Attention tile kernels (contracts in attention/attention_kernels.h).
template <typename T>
struct AttnKernels {
  const char* name;
  void (*tile)(int64_t, const T*, int64_t, int64_t, int, const T*, int64_t, int, T*, int64_t,
               const T*, bool);
  void (*softmax_update)(int64_t, int64_t, T*, int64_t, T, T*, T*, T*);
  void (*probs)(int64_t, int64_t, T*, int64_t, T, const T*);
  void (*dscores)(int64_t, int64_t, const T*, int64_t, T*, int64_t, const T*, T);
  void (*transpose)(int64_t, int64_t, const T*, int64_t, T*, int64_t);
  // Register tile of `tile` (mr × nr; callers pass n <= nr columns), the drivers' q-block
  // bq (a multiple of mr and nr) and kv-block bk (a multiple of mr).
  int mr = kAttnMR, nr = kAttnNR;
  int64_t bq = kAttnBQ, bk = kAttnBK;
};

// LSTM / GRU fused gate passes (contracts in rnn/rnn_gates.h).
template <typename T>
struct RnnGateKernels {
  const char* name;
  void (*lstm_fwd)(int64_t, int64_t, int64_t, int64_t, T*, const T*, const T*, T*, T*);
  void (*lstm_bwd)(int64_t, int64_t, int64_t, int64_t, const T*, const T*, const T*, const T*, T*, T*);
  void (*gru_fwd)(int64_t, int64_t, int64_t, int64_t, T*, const T*, const T*, const T*, const T*, T*, T*);
  void (*gru_bwd)(int64_t, int64_t, int64_t, int64_t, const T*, const T*, const T*, T*, T*, T*);
};

// Float32 softmax / cross-entropy row and column kernels (contracts in softmax/softmax.h).
// All null: softmax.cpp's portable loops.
struct SoftmaxKernels {
  const char* name;
  float (*row_max)(const float*, int64_t);
  double (*row_sumexp)(const float*, int64_t, float, float*, double*);
  void (*row_scale)(float*, int64_t, float);
  void (*row_shift)(float*, const float*, int64_t, float, float);
  double (*row_dot)(const float*, const float*, int64_t);
  double (*row_sum)(const float*, int64_t);
  void (*row_bwd)(float*, const float*, const float*, int64_t, float);
  void (*lsm_row_bwd)(float*, const float*, const float*, int64_t, float);
  void (*ce_row_grad)(float*, const float*, int64_t, float, float, float, float);
  void (*cols)(float*, const float*, int64_t, int64_t, int64_t, int64_t, bool);
  void (*cols_bwd)(float*, const float*, const float*, int64_t, int64_t, int64_t, int64_t, bool);
};

// Float32 pooling kernels (contracts in pool/pool.h). Null: pool.cpp's portable loops.
struct PoolKernels {
  const char* name;
  void (*row)(float*, int64_t*, const float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
              int64_t, int64_t, int64_t, int, float);
  float (*sum_run)(const float*, int64_t);
};

// Float32 activation spans (contracts in elementwise/elementwise.h). Null: portable loops.
enum class Act : int;
struct ActKernels {
  const char* name;
  void (*forward)(float*, const float*, int64_t, Act, float, const float*, float, bool);
  void (*backward)(float*, const float*, const float*, int64_t, Act, float);
};

// Float32 direct stride-1 conv2d tiles (contracts in conv/conv_direct.h): forward, mr output
// positions × nr output channels; grad w, gw_mr taps × nr output channels over one image,
// with its gY packer. Null: conv2d.cpp's implicit GEMM.
struct ConvDirectKernels {
  const char* name;
  int nr;
  void (*tile)(int64_t, const float*, const float*, const int64_t*, const float*, float*, int64_t, int, int, bool);
  int mr;
  void (*gw)(int64_t, int64_t, int64_t, const float*, const int64_t*, const float*, float*);
  void (*pack_gyt)(const float*, int64_t, int64_t, int, float*);
  int gw_mr;
};

struct CpuKernels {
  Isa isa;
  GemmConfig<float> sgemm;
  GemmConfig<double> dgemm;
  // Pack one full sgemm.MR-row panel of row-major float A. Null: interleave_rows when MR is
  // a multiple of 8, else the strided loop.
  void (*sgemm_pack_a)(const float* src, int64_t lda, int64_t kc, float* dst);
  // Pack one sgemm.NR-column strip (n <= NR columns, zeros after) of a float B whose rows
  // are contiguous. Null: the generic row loop.
  void (*sgemm_pack_b)(const float* src, int64_t ldb, int64_t kc, int n, float* dst);
  // dst[t·nr + j] = src[j][t] for nr rows (nr % 8 == 0): A panels, conv grad-w B panels.
  void (*interleave_rows)(const float* const* src, int nr, int64_t len, float* dst);
  AttnKernels<float> attn_f32;
  AttnKernels<double> attn_f64;
  RnnGateKernels<float> rnn_f32;
  RnnGateKernels<double> rnn_f64;
  SoftmaxKernels softmax;
  PoolKernels pool;
  ActKernels act;
  ConvDirectKernels conv_direct;
};

const CpuKernels& generic_kernels();
const CpuKernels& avx2_kernels();
const CpuKernels& avx512_kernels();

// The table of path `isa`, and of the path in use now.
const CpuKernels& kernels(Isa isa);
inline const CpuKernels& kernels() { return kernels(current_isa()); }

// Typed accessors for the families' templates.
template <typename T> const GemmConfig<T>& gemm_config_of(const CpuKernels& k);
template <> inline const GemmConfig<float>& gemm_config_of<float>(const CpuKernels& k) { return k.sgemm; }
template <> inline const GemmConfig<double>& gemm_config_of<double>(const CpuKernels& k) { return k.dgemm; }
template <typename T> const AttnKernels<T>& attn_kernels_of(const CpuKernels& k);
template <> inline const AttnKernels<float>& attn_kernels_of<float>(const CpuKernels& k) { return k.attn_f32; }
template <> inline const AttnKernels<double>& attn_kernels_of<double>(const CpuKernels& k) { return k.attn_f64; }
template <typename T> const RnnGateKernels<T>& rnn_kernels_of(const CpuKernels& k);
template <> inline const RnnGateKernels<float>& rnn_kernels_of<float>(const CpuKernels& k) { return k.rnn_f32; }
template <> inline const RnnGateKernels<double>& rnn_kernels_of<double>(const CpuKernels& k) { return k.rnn_f64; }

}  // namespace nk
