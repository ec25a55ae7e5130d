// Kernel table of the generic path: portable C++ that runs on any x86-64 (or other) CPU.
// Compiled without ISA flags, like every table (it holds only pointers and sizes).
#include "attention/attention_kernels.h"
#include "elementwise/elementwise.h"
#include "gemm/ukernels.h"
#include "kernels.h"
#include "pool/pool.h"
#include "rnn/rnn_gates.h"
#include "softmax/softmax.h"

namespace nk {

const CpuKernels& generic_kernels() {
  static const CpuKernels k{
      Isa::generic,
      {"sgemm_generic_6x16", 6, 16, 144, 256, 4080, sgemm_generic_6x16},
      {"dgemm_generic_6x8", 6, 8, 72, 256, 4080, dgemm_generic_6x8},
      nullptr,                  // sgemm_pack_a: the strided loop
      nullptr,                  // sgemm_pack_b: the row loop
      interleave_rows_f32_generic,
      {"attn_generic_6x16", attn_tile_generic<float>, attn_softmax_update_generic<float>,
       attn_probs_generic<float>, attn_dscores_generic<float>, attn_transpose_generic<float>},
      {"attn_generic_6x16", attn_tile_generic<double>, attn_softmax_update_generic<double>,
       attn_probs_generic<double>, attn_dscores_generic<double>, attn_transpose_generic<double>},
      {"rnn_gates_generic", lstm_fwd_gates_generic, lstm_bwd_gates_generic, gru_fwd_gates_generic,
       gru_bwd_gates_generic},
      {"rnn_gates_generic", lstm_fwd_gates_generic, lstm_bwd_gates_generic, gru_fwd_gates_generic,
       gru_bwd_gates_generic},
      {"softmax_generic", nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
       nullptr, nullptr},
      {"pool_generic", nullptr, nullptr},
      {"act_generic", nullptr, nullptr},
      {"conv_direct_none", 0, nullptr, 0, nullptr, nullptr, 0},  // conv2d forward: the implicit GEMM
  };
  return k;
}

}  // namespace nk
