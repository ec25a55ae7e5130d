// pybind11 bindings for GEMM. No logic: shapes were checked in nnkernels/ops/gemm.py.
#include "bind/array.h"
#include "bind/registry.h"
#include "gemm/gemm.h"

namespace nk {

namespace {

void bind_gemm(py::module_& m) {
  m.def(
      "gemm",
      [](const py::array& a, const py::array& b, py::array& c, double alpha, double beta,
         bool trans_a, bool trans_b) {
        dispatch_float(c, "out", [&](auto tag) {
          using T = decltype(tag);
          auto A = array_view<T>(a, "a", 2), B = array_view<T>(b, "b", 2);
          auto C = array_view<T>(c, "out", 2, true);
          const int64_t M = C.dim(0), N = C.dim(1), K = trans_a ? A.dim(0) : A.dim(1);
          if (C.stride(1) != 1 && N > 1) throw py::value_error("out: columns must be contiguous");
          const int64_t rsa = trans_a ? A.stride(1) : A.stride(0), csa = trans_a ? A.stride(0) : A.stride(1);
          const int64_t rsb = trans_b ? B.stride(1) : B.stride(0), csb = trans_b ? B.stride(0) : B.stride(1);
          py::gil_scoped_release nogil;
          gemm<T>(M, N, K, T(alpha), A.ptr, rsa, csa, B.ptr, rsb, csb, T(beta), C.ptr, C.stride(0));
        });
      },
      "out := alpha*op(a) @ op(b) + beta*out (2-D, any strides for a and b)", py::arg("a"),
      py::arg("b"), py::arg("out"), py::arg("alpha"), py::arg("beta"), py::arg("trans_a"),
      py::arg("trans_b"));

  m.def(
      "gemm_batched",
      [](const py::array& a, const py::array_t<int64_t>& a_off, const py::array& b,
         const py::array_t<int64_t>& b_off, py::array& c, double alpha, double beta) {
        dispatch_float(c, "out", [&](auto tag) {
          using T = decltype(tag);
          auto A = array_view<T>(a, "a"), B = array_view<T>(b, "b");
          auto C = array_view<T>(c, "out", 3, true);
          const int64_t batch = C.dim(0), M = C.dim(1), N = C.dim(2), K = A.dim(-1);
          if (a_off.size() != batch || b_off.size() != batch)
            throw py::value_error("offsets: one per batch item expected");
          if (C.stride(2) != 1 && N > 1) throw py::value_error("out: columns must be contiguous");
          const int64_t* ao = a_off.data();
          const int64_t* bo = b_off.data();
          py::gil_scoped_release nogil;
          gemm_batched<T>(batch, M, N, K, T(alpha), A.ptr, ao, A.stride(-2), A.stride(-1), B.ptr, bo,
                          B.stride(-2), B.stride(-1), T(beta), C.ptr, C.stride(0), C.stride(1));
        });
      },
      "Batched out[i] := alpha * a[off_a[i]] @ b[off_b[i]] + beta*out[i]", py::arg("a"),
      py::arg("a_offsets"), py::arg("b"), py::arg("b_offsets"), py::arg("out"), py::arg("alpha"),
      py::arg("beta"));

  m.def(
      "gemm_ref",
      [](const py::array& a, const py::array& b, py::array& c, double alpha, double beta) {
        dispatch_float(c, "out", [&](auto tag) {
          using T = decltype(tag);
          auto A = array_view<T>(a, "a", 2), B = array_view<T>(b, "b", 2);
          auto C = array_view<T>(c, "out", 2, true);
          py::gil_scoped_release nogil;
          gemm_ref<T>(C.dim(0), C.dim(1), A.dim(1), T(alpha), A.ptr, A.stride(0), A.stride(1), B.ptr,
                      B.stride(0), B.stride(1), T(beta), C.ptr, C.stride(0));
        });
      },
      "Naive reference GEMM (double accumulation), for tests", py::arg("a"), py::arg("b"),
      py::arg("out"), py::arg("alpha") = 1.0, py::arg("beta") = 0.0);

  m.def("gemm_kernel_name", [](const py::dtype& dt) {
    return std::string(dt.itemsize() == 8 ? gemm_config<double>().name : gemm_config<float>().name);
  }, "Name of the micro-kernel the current CPU path uses for this dtype");
}

}  // namespace

NK_REGISTER_BINDINGS(gemm, bind_gemm);

}  // namespace nk
