// Kernel table of the avx512 path (AVX-512F/BW/VL/DQ: Intel Skylake-SP and later, AMD
// Zen 4/5). GEMM: 8×32 sgemm / 8×16 dgemm zmm tiles (gemm_ukernel_avx512.cpp says why 8
// rows). sgemm runs the rows_outer loop order (gemm_driver.cpp): an A micro-panel
// (8·KC·4 B = 8 KiB) in L1, the B panel (KC·NC·4 B = 1 MiB) in a 2 MiB L2; NC = 1024 ran
// 1-3 % ahead of 512 at 1024-2048³ here (a 1 MiB L2, Zen 4/5, may want 512: not measured).
// dgemm keeps BLIS's order (a B micro-panel, KC·16·8 B = 32 KiB, in a 48 KiB L1d, MC·KC·8 B
// = 480 KiB of A in L2): the other order measured level with it. (BLIS zen4: MC/KC/NC
// 512/480/6144, skx 480/384/3072.) Attention: 12×32 tiles, 96×96 blocks. The sgemm packers
// are AVX-512 (gemm_pack_avx512.cpp); the conv packers' interleaver is the AVX2 one (8×8
// register transposes serve every multiple of 8), as BLIS's zen4 configuration reuses
// Haswell kernels where wider ones buy nothing.
// Compiled without ISA flags: it only points at the kernels.
#include "attention/attention_kernels.h"
#include "conv/conv_direct.h"
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
      {"sgemm_avx512_8x32", 8, 32, 480, 256, 1024, sgemm_avx512_8x32, true, sgemm_avx512_8x32_rows},
      {"dgemm_avx512_8x16", 8, 16, 240, 256, 4096, dgemm_avx512_8x16},
      sgemm_pack_a8_avx512,
      sgemm_pack_b32_avx512,
      interleave_rows_f32_avx2,  // 8×8 blocks: the conv packers' 8k-row panels and 32-wide strips
      {"attn_avx512_12x32", attn_tile_avx512, attn_softmax_update_avx512, attn_probs_avx512,
       attn_dscores_avx512, attn_transpose_avx512, kAttnMR512, kAttnNR512, kAttnBQ512, kAttnBK512},
      {"attn_generic_6x16", attn_tile_generic<double>, attn_softmax_update_generic<double>,
       attn_probs_generic<double>, attn_dscores_generic<double>, attn_transpose_generic<double>},
      {"rnn_gates_avx512", lstm_fwd_gates_avx512, lstm_bwd_gates_avx512, gru_fwd_gates_avx512,
       gru_bwd_gates_avx512},
      {"rnn_gates_avx512", lstm_fwd_gates_avx512, lstm_bwd_gates_avx512, gru_fwd_gates_avx512,
       gru_bwd_gates_avx512},
      {"softmax_avx512", sm_row_max_avx512, sm_row_sumexp_avx512, sm_row_scale_avx512, sm_row_shift_avx512,
       sm_row_dot_avx512, sm_row_sum_avx512, sm_row_bwd_avx512, lsm_row_bwd_avx512, ce_row_grad_avx512,
       sm_cols_avx512, sm_cols_bwd_avx512},
      {"pool_avx512", pool_row_avx512, sum_run_avx512},
      {"act_avx512", act_span_avx512, act_backward_span_avx512},
      {"conv_direct_avx512_14x32", 32, conv_direct_f32_avx512, kConvDirectMR512, conv_direct_gw_f32_avx512,
       conv_direct_pack_gyt_f32_avx512, kConvDirectGwMR512},
  };
  return k;
}

}  // namespace nk
