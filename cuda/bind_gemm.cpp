// Bindings of gemm_sgemm.cu and gemm_tc.cu.
#include <string>

#include "bind.h"

namespace nkcuda {

namespace {
GemmArgs make_args(int64_t M, int64_t N, int64_t K, double alpha, std::uintptr_t A, int64_t lda, bool ta,
                   int64_t sa, std::uintptr_t B, int64_t ldb, bool tb, int64_t sb, double beta, std::uintptr_t C,
                   int64_t ldc, int64_t sc, int64_t batch) {
  return GemmArgs{M, N, K, alpha, beta, ptr<const void>(A), lda, ta, sa, ptr<const void>(B), ldb, tb, sb,
                  ptr<void>(C), ldc, sc, batch};
}
}  // namespace

void bind_gemm(py::module_& m) {
  const char* args_doc =
      "C[b] := alpha*op(A[b]) @ op(B[b]) + beta*C[b], row-major, b < batch; pointers are device addresses, "
      "ld*/stride_* in elements; beta == 0 never reads C.";
  auto simt = [](int dtype, int64_t M, int64_t N, int64_t K, double alpha, std::uintptr_t A, int64_t lda, bool ta,
                 int64_t sa, std::uintptr_t B, int64_t ldb, bool tb, int64_t sb, double beta, std::uintptr_t C,
                 int64_t ldc, int64_t sc, int64_t batch, std::uintptr_t stream) {
    const GemmArgs g = make_args(M, N, K, alpha, A, lda, ta, sa, B, ldb, tb, sb, beta, C, ldc, sc, batch);
    const DType dt = dtype_of(dtype);
    py::gil_scoped_release nogil;
    gemm_simt(dt, g, stream_of(stream));
  };
  auto reference = [](int dtype, int64_t M, int64_t N, int64_t K, double alpha, std::uintptr_t A, int64_t lda,
                      bool ta, int64_t sa, std::uintptr_t B, int64_t ldb, bool tb, int64_t sb, double beta,
                      std::uintptr_t C, int64_t ldc, int64_t sc, int64_t batch, std::uintptr_t stream) {
    const GemmArgs g = make_args(M, N, K, alpha, A, lda, ta, sa, B, ldb, tb, sb, beta, C, ldc, sc, batch);
    const DType dt = dtype_of(dtype);
    py::gil_scoped_release nogil;
    gemm_reference(dt, g, stream_of(stream));
  };
  auto tc = [](int in_dtype, int out_dtype, int64_t M, int64_t N, int64_t K, double alpha, std::uintptr_t A,
               int64_t lda, bool ta, int64_t sa, std::uintptr_t B, int64_t ldb, bool tb, int64_t sb, double beta,
               std::uintptr_t C, int64_t ldc, int64_t sc, int64_t batch, std::uintptr_t stream) {
    const GemmArgs g = make_args(M, N, K, alpha, A, lda, ta, sa, B, ldb, tb, sb, beta, C, ldc, sc, batch);
    const DType di = dtype_of(in_dtype), dout = dtype_of(out_dtype);
    py::gil_scoped_release nogil;
    gemm_tensorcore(di, dout, g, stream_of(stream));
  };
#define NK_GEMM_ARGS                                                                                          \
  py::arg("M"), py::arg("N"), py::arg("K"), py::arg("alpha"), py::arg("A"), py::arg("lda"), py::arg("trans_a"), \
      py::arg("stride_a"), py::arg("B"), py::arg("ldb"), py::arg("trans_b"), py::arg("stride_b"), py::arg("beta"), \
      py::arg("C"), py::arg("ldc"), py::arg("stride_c"), py::arg("batch"), py::arg("stream") = 0
  m.def("gemm_simt", simt, (std::string("CUDA-core GEMM (fp32 128x128x8 register-tiled; fp64 tiled). ") + args_doc).c_str(),
        py::arg("dtype"), NK_GEMM_ARGS);
  m.def("gemm_reference", reference, (std::string("Naive GEMM, one thread per element (fp32/fp64). ") + args_doc).c_str(),
        py::arg("dtype"), NK_GEMM_ARGS);
  m.def("gemm_tensorcore", tc,
        (std::string("Tensor-core GEMM (mma.sync): in_dtype f32 (TF32), f16, bf16; out_dtype f32 or in_dtype. ") +
         args_doc).c_str(),
        py::arg("in_dtype"), py::arg("out_dtype"), NK_GEMM_ARGS);
#undef NK_GEMM_ARGS
}

}  // namespace nkcuda
