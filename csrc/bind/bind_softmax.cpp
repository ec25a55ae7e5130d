// pybind11 bindings for softmax / log_softmax / cross_entropy. No logic: shapes, axis,
// targets and dtypes were checked in nnkernels/ops/softmax.py (C-contiguous arrays).
#include "bind/array.h"
#include "bind/registry.h"
#include "softmax/softmax.h"

namespace nk {
namespace {

void bind_softmax(py::module_& m) {
  m.def(
      "softmax_forward",
      [](const py::array& x, py::array& out, int64_t outer, int64_t C, int64_t inner, bool log) {
        dispatch_float(out, "out", [&](auto tag) {
          using T = decltype(tag);
          auto X = array_view<T>(x, "x");
          auto Y = array_view<T>(out, "out", -1, true);
          py::gil_scoped_release nogil;
          softmax_forward<T>(Y.ptr, X.ptr, outer, C, inner, log);
        });
      },
      "out = (log_)softmax of x viewed as (outer, C, inner) along C", py::arg("x"), py::arg("out"),
      py::arg("outer"), py::arg("C"), py::arg("inner"), py::arg("log"));
  m.def(
      "softmax_backward",
      [](const py::array& g, const py::array& y, py::array& out, int64_t outer, int64_t C, int64_t inner,
         bool log) {
        dispatch_float(out, "out", [&](auto tag) {
          using T = decltype(tag);
          auto G = array_view<T>(g, "grad_out"), Yv = array_view<T>(y, "y");
          auto O = array_view<T>(out, "out", -1, true);
          py::gil_scoped_release nogil;
          softmax_backward<T>(O.ptr, G.ptr, Yv.ptr, outer, C, inner, log);
        });
      },
      "out = gradient of (log_)softmax from grad_out and the forward output y", py::arg("grad_out"),
      py::arg("y"), py::arg("out"), py::arg("outer"), py::arg("C"), py::arg("inner"), py::arg("log"));
  m.def(
      "cross_entropy_forward",
      [](const py::array& x, const py::array_t<int64_t, py::array::c_style>& target, py::array& loss,
         double smoothing) {
        dispatch_float(loss, "loss", [&](auto tag) {
          using T = decltype(tag);
          auto X = array_view<T>(x, "logits", 2);
          auto L = array_view<T>(loss, "loss", 1, true);
          const int64_t* t = target.data();
          py::gil_scoped_release nogil;
          cross_entropy_forward<T>(L.ptr, X.ptr, t, X.dim(0), X.dim(1), T(smoothing));
        });
      },
      "Per-row cross-entropy of logits (N, C) against int64 targets (N)", py::arg("logits"),
      py::arg("target"), py::arg("loss"), py::arg("label_smoothing"));
  m.def(
      "cross_entropy_backward",
      [](const py::array& x, const py::array_t<int64_t, py::array::c_style>& target, const py::array& gscale,
         int64_t gstride, py::array& out, double smoothing) {
        dispatch_float(out, "out", [&](auto tag) {
          using T = decltype(tag);
          auto X = array_view<T>(x, "logits", 2), G = array_view<T>(gscale, "grad_out");
          auto O = array_view<T>(out, "out", 2, true);
          const int64_t* t = target.data();
          py::gil_scoped_release nogil;
          cross_entropy_backward<T>(O.ptr, X.ptr, t, G.ptr, gstride, X.dim(0), X.dim(1), T(smoothing));
        });
      },
      "Gradient of the per-row cross-entropy; row i scaled by grad_out[i * gstride]", py::arg("logits"),
      py::arg("target"), py::arg("grad_out"), py::arg("gstride"), py::arg("out"), py::arg("label_smoothing"));
}

}  // namespace

NK_REGISTER_BINDINGS(softmax, bind_softmax);

}  // namespace nk
