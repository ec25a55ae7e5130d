// pybind11 bindings for pooling. No logic: nnkernels/ops/pool.py checked the arguments,
// computed the output size and passes C-contiguous (planes, H, W) arrays.
#include "bind/array.h"
#include "bind/registry.h"
#include "pool/pool.h"

namespace nk {
namespace {

PoolShape make_shape(const py::tuple& t) {
  // (planes, H, W, P, Q, kh, kw, sh, sw, ph, pw, dh, dw, count_include_pad)
  PoolShape s;
  int64_t* f[] = {&s.planes, &s.H, &s.W, &s.P, &s.Q, &s.kh, &s.kw, &s.sh, &s.sw, &s.ph, &s.pw, &s.dh, &s.dw};
  if (t.size() != 14) throw py::value_error("pool shape: 14 fields expected");
  for (int i = 0; i < 13; ++i) *f[i] = t[i].cast<int64_t>();
  s.count_include_pad = t[13].cast<bool>();
  return s;
}

void bind_pool(py::module_& m) {
  m.def(
      "max_pool2d_forward",
      [](const py::array& x, py::array& y, py::object idx, const py::tuple& shape) {
        const PoolShape s = make_shape(shape);
        dispatch_float(y, "out", [&](auto tag) {
          using T = decltype(tag);
          auto X = array_view<T>(x, "x"), Y = array_view<T>(y, "out", -1, true);
          int64_t* ip = nullptr;
          if (!idx.is_none()) ip = array_view<int64_t>(idx.cast<py::array>(), "indices", -1, true).ptr;
          py::gil_scoped_release nogil;
          max_pool2d_forward<T>(Y.ptr, ip, X.ptr, s);
        });
      },
      "Max pooling of (planes, H, W) into out (planes, P, Q), flat indices optional", py::arg("x"),
      py::arg("out"), py::arg("indices"), py::arg("shape"));
  m.def(
      "max_pool2d_backward",
      [](const py::array& gy, const py::array& idx, py::array& gx, int64_t planes, int64_t HW, int64_t PQ) {
        return dispatch_float(gx, "out", [&](auto tag) {
          using T = decltype(tag);
          auto G = array_view<T>(gy, "grad_out"), O = array_view<T>(gx, "out", -1, true);
          auto I = array_view<int64_t>(idx, "indices");
          py::gil_scoped_release nogil;
          return max_pool2d_backward<T>(O.ptr, G.ptr, I.ptr, planes, HW, PQ);
        });
      },
      "Scatter-add grad_out at the flat indices; returns the count of out-of-range indices",
      py::arg("grad_out"), py::arg("indices"), py::arg("out"), py::arg("planes"), py::arg("HW"), py::arg("PQ"));
  m.def(
      "avg_pool2d_forward",
      [](const py::array& x, py::array& y, const py::tuple& shape) {
        const PoolShape s = make_shape(shape);
        dispatch_float(y, "out", [&](auto tag) {
          using T = decltype(tag);
          auto X = array_view<T>(x, "x"), Y = array_view<T>(y, "out", -1, true);
          py::gil_scoped_release nogil;
          avg_pool2d_forward<T>(Y.ptr, X.ptr, s);
        });
      },
      "Average pooling of (planes, H, W) into out (planes, P, Q)", py::arg("x"), py::arg("out"), py::arg("shape"));
  m.def(
      "avg_pool2d_backward",
      [](const py::array& gy, py::array& gx, const py::tuple& shape) {
        const PoolShape s = make_shape(shape);
        dispatch_float(gx, "out", [&](auto tag) {
          using T = decltype(tag);
          auto G = array_view<T>(gy, "grad_out"), O = array_view<T>(gx, "out", -1, true);
          py::gil_scoped_release nogil;
          avg_pool2d_backward<T>(O.ptr, G.ptr, s);
        });
      },
      "Gradient of average pooling", py::arg("grad_out"), py::arg("out"), py::arg("shape"));
  m.def(
      "adaptive_avg_pool2d_forward",
      [](const py::array& x, py::array& y, int64_t planes, int64_t H, int64_t W, int64_t P, int64_t Q) {
        dispatch_float(y, "out", [&](auto tag) {
          using T = decltype(tag);
          auto X = array_view<T>(x, "x"), Y = array_view<T>(y, "out", -1, true);
          py::gil_scoped_release nogil;
          adaptive_avg_pool2d_forward<T>(Y.ptr, X.ptr, planes, H, W, P, Q);
        });
      },
      "Adaptive average pooling (planes, H, W) -> (planes, P, Q)", py::arg("x"), py::arg("out"),
      py::arg("planes"), py::arg("H"), py::arg("W"), py::arg("P"), py::arg("Q"));
  m.def(
      "adaptive_avg_pool2d_backward",
      [](const py::array& gy, py::array& gx, int64_t planes, int64_t H, int64_t W, int64_t P, int64_t Q) {
        dispatch_float(gx, "out", [&](auto tag) {
          using T = decltype(tag);
          auto G = array_view<T>(gy, "grad_out"), O = array_view<T>(gx, "out", -1, true);
          py::gil_scoped_release nogil;
          adaptive_avg_pool2d_backward<T>(O.ptr, G.ptr, planes, H, W, P, Q);
        });
      },
      "Gradient of adaptive average pooling", py::arg("grad_out"), py::arg("out"), py::arg("planes"),
      py::arg("H"), py::arg("W"), py::arg("P"), py::arg("Q"));
}

}  // namespace

NK_REGISTER_BINDINGS(pool, bind_pool);

}  // namespace nk
