// pybind11 bindings for conv2d. No logic: shapes, groups and padding were checked in
// nnkernels/ops/conv.py; every array arrives C-contiguous. The geometry is read off the
// shapes of the (input image, weight, output image) triple.
#include "bind/array.h"
#include "bind/registry.h"
#include "conv/conv.h"

namespace nk {

namespace {

template <typename T>
ConvGeom geom(const ArrayView<T>& img, const ArrayView<T>& w, const ArrayView<T>& out, int64_t sh,
              int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t groups) {
  return ConvGeom{img.dim(0), img.dim(1), img.dim(2), img.dim(3), w.dim(0), w.dim(2), w.dim(3),
                  out.dim(2), out.dim(3), sh,         sw,         ph,        pw,        dh,
                  dw,         groups};
}

#define NK_CONV_ARGS                                                                       \
  py::arg("stride_h"), py::arg("stride_w"), py::arg("pad_h"), py::arg("pad_w"), py::arg("dil_h"), \
      py::arg("dil_w"), py::arg("groups"), py::arg("reference") = false

void bind_conv(py::module_& m) {
  m.def(
      "conv2d_forward",
      [](const py::array& x, const py::array& w, const py::object& bias, py::array& y, int64_t sh,
         int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t groups, bool ref) {
        dispatch_float(y, "y", [&](auto tag) {
          using T = decltype(tag);
          auto X = array_view<T>(x, "x", 4), Wt = array_view<T>(w, "weight", 4);
          auto Y = array_view<T>(y, "y", 4, true);
          const T* b = nullptr;
          if (!bias.is_none()) b = array_view<T>(bias.cast<py::array>(), "bias", 1).ptr;
          const ConvGeom g = geom(X, Wt, Y, sh, sw, ph, pw, dh, dw, groups);
          py::gil_scoped_release nogil;
          (ref ? conv2d_forward_ref<T> : conv2d_forward<T>)(g, X.ptr, Wt.ptr, b, Y.ptr);
        });
      },
      "y := conv2d(x, weight) + bias, all C-contiguous; y (N, K, P, Q) fixes the output size",
      py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("y"), NK_CONV_ARGS);

  m.def(
      "conv2d_backward_data",
      [](const py::array& gy, const py::array& w, py::array& gx, int64_t sh, int64_t sw, int64_t ph,
         int64_t pw, int64_t dh, int64_t dw, int64_t groups, bool ref) {
        dispatch_float(gx, "grad_x", [&](auto tag) {
          using T = decltype(tag);
          auto GY = array_view<T>(gy, "grad_out", 4), Wt = array_view<T>(w, "weight", 4);
          auto GX = array_view<T>(gx, "grad_x", 4, true);
          const ConvGeom g = geom(GX, Wt, GY, sh, sw, ph, pw, dh, dw, groups);
          py::gil_scoped_release nogil;
          (ref ? conv2d_backward_data_ref<T> : conv2d_backward_data<T>)(g, GY.ptr, Wt.ptr, GX.ptr);
        });
      },
      "grad_x := gradient of conv2d w.r.t. its input (grad_x (N, C, H, W) fixes the input size)",
      py::arg("grad_out"), py::arg("weight"), py::arg("grad_x"), NK_CONV_ARGS);

  m.def(
      "conv2d_backward_weight",
      [](const py::array& gy, const py::array& x, py::array& gw, int64_t sh, int64_t sw, int64_t ph,
         int64_t pw, int64_t dh, int64_t dw, int64_t groups, bool ref) {
        dispatch_float(gw, "grad_weight", [&](auto tag) {
          using T = decltype(tag);
          auto GY = array_view<T>(gy, "grad_out", 4), X = array_view<T>(x, "x", 4);
          auto GW = array_view<T>(gw, "grad_weight", 4, true);
          const ConvGeom g = geom(X, GW, GY, sh, sw, ph, pw, dh, dw, groups);
          py::gil_scoped_release nogil;
          (ref ? conv2d_backward_weight_ref<T> : conv2d_backward_weight<T>)(g, GY.ptr, X.ptr, GW.ptr);
        });
      },
      "grad_weight := gradient of conv2d w.r.t. its weight", py::arg("grad_out"), py::arg("x"),
      py::arg("grad_weight"), NK_CONV_ARGS);

  m.def(
      "channel_sum",
      [](const py::array& a, py::array& out) {
        dispatch_float(out, "out", [&](auto tag) {
          using T = decltype(tag);
          auto A = array_view<T>(a, "a", 4);
          auto O = array_view<T>(out, "out", 1, true);
          py::gil_scoped_release nogil;
          channel_sum<T>(A.dim(0), A.dim(1), A.dim(2) * A.dim(3), A.ptr, O.ptr);
        });
      },
      "out[c] := sum of a[:, c] for a C-contiguous (N, C, H, W) array (the bias gradient)",
      py::arg("a"), py::arg("out"));
}

#undef NK_CONV_ARGS

}  // namespace

NK_REGISTER_BINDINGS(conv, bind_conv);

}  // namespace nk
