// Kernel table of the avx2 path (AVX2 + FMA: Haswell and later, AMD Zen 1-3). Block sizes
// as BLIS's Haswell/Zen3 configuration: 6×16 sgemm tile, MC/KC/NC = 144/256/4080.
// Compiled without ISA flags: it only points at the *_avx2.cpp kernels.
#include "attention/attention_kernels.h"
#include "conv/conv_direct.h"
#include "elementwise/elementwise.h"
#include "gemm/ukernels.h"
#include "kernels.h"
#include "pool/pool.h"
#include "rnn/rnn_gates.h"
#include "softmax/softmax.h"

namespace nk {

const CpuKernels& avx2_kernels() {
  static const CpuKernels k{
      Isa::avx2,
      {"sgemm_avx2_6x16", 6, 16, 144, 256, 4080, sgemm_avx2_6x16},
      {"dgemm_avx2_6x8", 6, 8, 72, 256, 4080, dgemm_avx2_6x8},
      sgemm_pack_a6_avx2,
      nullptr,  // sgemm_pack_b: the generic row loop
      interleave_rows_f32_avx2,
      {"attn_avx2_6x16", attn_tile_avx2, attn_softmax_update_avx2, attn_probs_avx2, attn_dscores_avx2,
       attn_transpose_avx2},
      {"attn_generic_6x16", attn_tile_generic<double>, attn_softmax_update_generic<double>,
       attn_probs_generic<double>, attn_dscores_generic<double>, attn_transpose_generic<double>},
      {"rnn_gates_avx2", lstm_fwd_gates_avx2, lstm_bwd_gates_avx2, gru_fwd_gates_avx2, gru_bwd_gates_avx2},
      {"rnn_gates_avx2", lstm_fwd_gates_avx2, lstm_bwd_gates_avx2, gru_fwd_gates_avx2, gru_bwd_gates_avx2},
      {"softmax_avx2", sm_row_max_avx2, sm_row_sumexp_avx2, sm_row_scale_avx2, sm_row_shift_avx2,
       sm_row_dot_avx2, sm_row_sum_avx2, sm_row_bwd_avx2, lsm_row_bwd_avx2, ce_row_grad_avx2, sm_cols_avx2,
       sm_cols_bwd_avx2},
      {"pool_avx2", pool_row_avx2, sum_run_avx2},
      {"act_avx2", act_span_avx2, act_backward_span_avx2},
      {"conv_direct_avx2_6x16", 16, conv_direct_f32_avx2, kConvDirectMR256, conv_direct_gw_f32_avx2,
       conv_direct_pack_gyt_f32_avx2, kConvDirectGwMR256},
  };
  return k;
}

}  // namespace nk
