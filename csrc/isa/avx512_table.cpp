// Kernel table of the avx512 path (AVX-512F/BW/VL/DQ: Intel Skylake-SP and later, AMD
// Zen 4/5). GEMM: 12×32 sgemm / 12×16 dgemm zmm tiles; KC keeps a B micro-panel (KC·32·4 B
// = 32 KiB) in a 48 KiB L1d, MC·KC·4 B = 480 KiB of A in a 1-2 MiB L2 (BLIS zen4: MC/KC/NC
// 512/480/6144, skx 480/384/3072). Families without an AVX-512 kernel yet use the AVX2
// one (the entry's name says which), as BLIS's zen4 configuration reuses Haswell kernels.
// Compiled without ISA flags: it only points at the kernels.
#include "attention/attention_kernels.h"
#include "conv/conv_kernels.h"
#include "elementwise/elementwise.h"
#include "gemm/ukernels.h"
#include "kernels.h"
#include "pool/pool.h"
#include "rnn/rnn_gates.h"
#include "softmax/softmax.h"

namespace nk {

const CpuKernels& avx512_kernels() {
  static const CpuKernels k{
      Isa::avx512,
      {"sgemm_avx512_12x32", 12, 32, 480, 256, 4096, sgemm_avx512_12x32},
      {"dgemm_avx512_12x16", 12, 16, 240, 256, 4096, dgemm_avx512_12x16},
      nullptr,  // sgemm_pack_a: the strided loop
      nullptr,  // conv_transpose: the loop (NR = 32)
      {"attn_avx512_12x32", attn_tile_avx512, attn_softmax_update_avx512, attn_probs_avx512,
       attn_dscores_avx512, attn_transpose_avx512, kAttnMR512, kAttnNR512, kAttnBQ512, kAttnBK512},
      {"attn_generic_6x16", attn_tile_generic<double>, attn_softmax_update_generic<double>,
       attn_probs_generic<double>, attn_dscores_generic<double>, attn_transpose_generic<double>},
      {"rnn_gates_avx2", lstm_fwd_gates_avx2, lstm_bwd_gates_avx2, gru_fwd_gates_avx2, gru_bwd_gates_avx2},
      {"rnn_gates_avx2", lstm_fwd_gates_avx2, lstm_bwd_gates_avx2, gru_fwd_gates_avx2, gru_bwd_gates_avx2},
      {"softmax_avx2", sm_row_max_avx2, sm_row_sumexp_avx2, sm_row_scale_avx2, sm_row_shift_avx2,
       sm_row_dot_avx2, sm_row_sum_avx2, sm_row_bwd_avx2, lsm_row_bwd_avx2, ce_row_grad_avx2, sm_cols_avx2,
       sm_cols_bwd_avx2},
      {"pool_avx2", pool_row_avx2, sum_run_avx2},
      {"act_avx2", act_span_avx2, act_backward_span_avx2},
  };
  return k;
}

}  // namespace nk
