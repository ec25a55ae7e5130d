// Bindings of pool.cu.
#include "bind.h"

namespace nkcuda {

void bind_pool(py::module_& m) {
  auto args = [](int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW, int kh, int kw, int sh, int sw,
                 int ph, int pw, int dh, int dw, bool cip) {
    return Pool2dArgs{N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, cip};
  };
  m.def(
      "max_pool2d_forward",
      [args](int dtype, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW, int kh, int kw, int sh,
             int sw, int ph, int pw, int dh, int dw, std::uintptr_t x, std::uintptr_t y, std::uintptr_t indices,
             std::uintptr_t stream) {
        const Pool2dArgs p = args(N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, true);
        const DType dt = dtype_of(dtype);
        py::gil_scoped_release nogil;
        max_pool2d_forward(dt, p, ptr<const void>(x), ptr<void>(y), ptr<int64_t>(indices), stream_of(stream));
      },
      "x (N,C,H,W) -> y (N,C,OH,OW) and int64 indices flat over H*W", py::arg("dtype"), py::arg("N"), py::arg("C"),
      py::arg("H"), py::arg("W"), py::arg("OH"), py::arg("OW"), py::arg("kh"), py::arg("kw"), py::arg("sh"),
      py::arg("sw"), py::arg("ph"), py::arg("pw"), py::arg("dh"), py::arg("dw"), py::arg("x"), py::arg("y"),
      py::arg("indices"), py::arg("stream") = 0);
  m.def(
      "max_pool2d_backward",
      [](int dtype, int64_t NC, int64_t HW, int64_t OHW, std::uintptr_t gy, std::uintptr_t indices, std::uintptr_t gx,
         std::uintptr_t stream) {
        const DType dt = dtype_of(dtype);
        py::gil_scoped_release nogil;
        max_pool2d_backward(dt, NC, HW, OHW, ptr<const void>(gy), ptr<const int64_t>(indices), ptr<void>(gx),
                            stream_of(stream));
      },
      "gx (NC,HW) := 0, then gx[plane, indices] += gy", py::arg("dtype"), py::arg("NC"), py::arg("HW"),
      py::arg("OHW"), py::arg("grad_out"), py::arg("indices"), py::arg("grad_x"), py::arg("stream") = 0);
  m.def(
      "avg_pool2d_forward",
      [args](int dtype, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW, int kh, int kw, int sh,
             int sw, int ph, int pw, bool cip, std::uintptr_t x, std::uintptr_t y, std::uintptr_t stream) {
        const Pool2dArgs p = args(N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, 1, 1, cip);
        const DType dt = dtype_of(dtype);
        py::gil_scoped_release nogil;
        avg_pool2d_forward(dt, p, ptr<const void>(x), ptr<void>(y), stream_of(stream));
      },
      "x (N,C,H,W) -> y (N,C,OH,OW), torch's divisor", py::arg("dtype"), py::arg("N"), py::arg("C"), py::arg("H"),
      py::arg("W"), py::arg("OH"), py::arg("OW"), py::arg("kh"), py::arg("kw"), py::arg("sh"), py::arg("sw"),
      py::arg("ph"), py::arg("pw"), py::arg("count_include_pad"), py::arg("x"), py::arg("y"), py::arg("stream") = 0);
  m.def(
      "avg_pool2d_backward",
      [args](int dtype, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW, int kh, int kw, int sh,
             int sw, int ph, int pw, bool cip, std::uintptr_t gy, std::uintptr_t gx, std::uintptr_t stream) {
        const Pool2dArgs p = args(N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, 1, 1, cip);
        const DType dt = dtype_of(dtype);
        py::gil_scoped_release nogil;
        avg_pool2d_backward(dt, p, ptr<const void>(gy), ptr<void>(gx), stream_of(stream));
      },
      "gy (N,C,OH,OW) -> gx (N,C,H,W) (every element written)", py::arg("dtype"), py::arg("N"), py::arg("C"),
      py::arg("H"), py::arg("W"), py::arg("OH"), py::arg("OW"), py::arg("kh"), py::arg("kw"), py::arg("sh"),
      py::arg("sw"), py::arg("ph"), py::arg("pw"), py::arg("count_include_pad"), py::arg("grad_out"),
      py::arg("grad_x"), py::arg("stream") = 0);
  m.def(
      "adaptive_avg_pool2d_forward",
      [](int dtype, int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW, std::uintptr_t x, std::uintptr_t y,
         std::uintptr_t stream) {
        const DType dt = dtype_of(dtype);
        py::gil_scoped_release nogil;
        adaptive_avg_pool2d_forward(dt, NC, H, W, OH, OW, ptr<const void>(x), ptr<void>(y), stream_of(stream));
      },
      "x (NC,H,W) -> y (NC,OH,OW)", py::arg("dtype"), py::arg("NC"), py::arg("H"), py::arg("W"), py::arg("OH"),
      py::arg("OW"), py::arg("x"), py::arg("y"), py::arg("stream") = 0);
  m.def(
      "adaptive_avg_pool2d_backward",
      [](int dtype, int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW, std::uintptr_t gy, std::uintptr_t gx,
         std::uintptr_t stream) {
        const DType dt = dtype_of(dtype);
        py::gil_scoped_release nogil;
        adaptive_avg_pool2d_backward(dt, NC, H, W, OH, OW, ptr<const void>(gy), ptr<void>(gx), stream_of(stream));
      },
      "gy (NC,OH,OW) -> gx (NC,H,W)", py::arg("dtype"), py::arg("NC"), py::arg("H"), py::arg("W"), py::arg("OH"),
      py::arg("OW"), py::arg("grad_out"), py::arg("grad_x"), py::arg("stream") = 0);
}

}  // namespace nkcuda
