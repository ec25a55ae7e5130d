// Bindings of elementwise.cu.
#include "bind.h"

namespace nkcuda {

void bind_elementwise(py::module_& m) {
  m.def(
      "bias_act_forward",
      [](int dtype, int64_t n, int64_t C, int64_t inner, std::uintptr_t x, std::uintptr_t bias, std::uintptr_t y,
         int act, double slope, std::uintptr_t stream) {
        const DType dt = dtype_of(dtype);
        if (act < 0 || act > 6) throw py::value_error("activation code must be 0..6");
        py::gil_scoped_release nogil;
        bias_act_forward(dt, n, C, inner, ptr<const void>(x), ptr<const void>(bias), ptr<void>(y),
                         static_cast<Act>(act), slope, stream_of(stream));
      },
      "y = act(x + bias[(i/inner)%C]); bias 0 = none; act: 0 none, 1 relu, 2 leaky_relu, 3 sigmoid, 4 tanh, "
      "5 gelu, 6 gelu(tanh)",
      py::arg("dtype"), py::arg("n"), py::arg("C"), py::arg("inner"), py::arg("x"), py::arg("bias"), py::arg("y"),
      py::arg("act"), py::arg("negative_slope") = 0.01, py::arg("stream") = 0);
  m.def(
      "act_backward",
      [](int dtype, int64_t n, std::uintptr_t gy, std::uintptr_t t, std::uintptr_t gx, int act, double slope,
         std::uintptr_t stream) {
        const DType dt = dtype_of(dtype);
        if (act < 0 || act > 6) throw py::value_error("activation code must be 0..6");
        py::gil_scoped_release nogil;
        act_backward(dt, n, ptr<const void>(gy), ptr<const void>(t), ptr<void>(gx), static_cast<Act>(act), slope,
                     stream_of(stream));
      },
      "grad_x = grad_y * act'(t); t is x (relu, leaky_relu, gelu) or y (sigmoid, tanh)", py::arg("dtype"),
      py::arg("n"), py::arg("grad_out"), py::arg("t"), py::arg("grad_x"), py::arg("act"),
      py::arg("negative_slope") = 0.01, py::arg("stream") = 0);
}

}  // namespace nkcuda
