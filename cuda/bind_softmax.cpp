// Bindings of softmax.cu.
#include "bind.h"

namespace nkcuda {

void bind_softmax(py::module_& m) {
  m.def(
      "softmax_forward",
      [](int dtype, int64_t R, int64_t L, std::uintptr_t x, std::uintptr_t y, bool log, std::uintptr_t stream) {
        const DType dt = dtype_of(dtype);
        py::gil_scoped_release nogil;
        softmax_forward(dt, R, L, ptr<const void>(x), ptr<void>(y), log, stream_of(stream));
      },
      "softmax (or log_softmax) of R contiguous rows of length L", py::arg("dtype"), py::arg("R"), py::arg("L"),
      py::arg("x"), py::arg("y"), py::arg("log"), py::arg("stream") = 0);
  m.def(
      "softmax_backward",
      [](int dtype, int64_t R, int64_t L, std::uintptr_t gy, std::uintptr_t y, std::uintptr_t gx, bool log,
         std::uintptr_t stream) {
        const DType dt = dtype_of(dtype);
        py::gil_scoped_release nogil;
        softmax_backward(dt, R, L, ptr<const void>(gy), ptr<const void>(y), ptr<void>(gx), log, stream_of(stream));
      },
      "grad of softmax (log_softmax when log) from the forward output y", py::arg("dtype"), py::arg("R"),
      py::arg("L"), py::arg("grad_out"), py::arg("y"), py::arg("grad_x"), py::arg("log"), py::arg("stream") = 0);
  m.def(
      "cross_entropy_forward",
      [](int dtype, int64_t N, int64_t C, std::uintptr_t logits, std::uintptr_t target, double eps, int reduction,
         std::uintptr_t row_loss, std::uintptr_t out, std::uintptr_t stream) {
        const DType dt = dtype_of(dtype);
        py::gil_scoped_release nogil;
        cross_entropy_forward(dt, N, C, ptr<const void>(logits), ptr<const int64_t>(target), eps, reduction,
                              ptr<void>(row_loss), ptr<void>(out), stream_of(stream));
      },
      "per-row losses into row_loss (N,); reduction 1 (mean) / 2 (sum) into out (scalar), 0: none",
      py::arg("dtype"), py::arg("N"), py::arg("C"), py::arg("logits"), py::arg("target"),
      py::arg("label_smoothing"), py::arg("reduction"), py::arg("row_loss"), py::arg("out"), py::arg("stream") = 0);
  m.def(
      "cross_entropy_backward",
      [](int dtype, int64_t N, int64_t C, std::uintptr_t gout, int64_t g_stride, double g_scale,
         std::uintptr_t logits, std::uintptr_t target, double eps, std::uintptr_t gx, std::uintptr_t stream) {
        const DType dt = dtype_of(dtype);
        py::gil_scoped_release nogil;
        cross_entropy_backward(dt, N, C, ptr<const void>(gout), g_stride, g_scale, ptr<const void>(logits),
                               ptr<const int64_t>(target), eps, ptr<void>(gx), stream_of(stream));
      },
      "grad_logits = grad_out[i*g_stride]*g_scale * (softmax - (1-eps)*onehot - eps/C)", py::arg("dtype"),
      py::arg("N"), py::arg("C"), py::arg("grad_out"), py::arg("g_stride"), py::arg("g_scale"), py::arg("logits"),
      py::arg("target"), py::arg("label_smoothing"), py::arg("grad_logits"), py::arg("stream") = 0);
}

}  // namespace nkcuda
