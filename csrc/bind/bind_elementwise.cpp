// pybind11 bindings for the activations. No logic: nnkernels/ops/activations.py checked
// shapes and dtypes and passes C-contiguous arrays of one dtype.
#include "bind/array.h"
#include "bind/registry.h"
#include "elementwise/elementwise.h"

namespace nk {
namespace {

void bind_elementwise(py::module_& m) {
  m.def(
      "act_forward",
      [](const py::array& x, py::array& out, int act, double slope) {
        dispatch_float(out, "out", [&](auto tag) {
          using T = decltype(tag);
          auto X = array_view<T>(x, "x");
          auto Y = array_view<T>(out, "out", -1, true);
          const int64_t n = x.size();
          py::gil_scoped_release nogil;
          act_forward<T>(Y.ptr, X.ptr, n, Act(act), T(slope));
        });
      },
      "out = act(x) over contiguous arrays (act code from ops/activations.py)", py::arg("x"),
      py::arg("out"), py::arg("act"), py::arg("slope"));
  m.def(
      "act_backward",
      [](const py::array& g, const py::array& v, py::array& out, int act, double slope) {
        dispatch_float(out, "out", [&](auto tag) {
          using T = decltype(tag);
          auto G = array_view<T>(g, "grad_out"), V = array_view<T>(v, "x");
          auto O = array_view<T>(out, "out", -1, true);
          const int64_t n = g.size();
          py::gil_scoped_release nogil;
          act_backward<T>(O.ptr, G.ptr, V.ptr, n, Act(act), T(slope));
        });
      },
      "out = grad_out * act'(v), v = x or y per activation", py::arg("grad_out"), py::arg("v"),
      py::arg("out"), py::arg("act"), py::arg("slope"));
  m.def(
      "bias_act",
      [](const py::array& x, const py::array& bias, py::array& out, int64_t outer, int64_t C, int64_t inner,
         int act, double slope) {
        dispatch_float(out, "out", [&](auto tag) {
          using T = decltype(tag);
          auto X = array_view<T>(x, "x"), B = array_view<T>(bias, "bias", 1);
          auto Y = array_view<T>(out, "out", -1, true);
          py::gil_scoped_release nogil;
          bias_act_forward<T>(Y.ptr, X.ptr, B.ptr, outer, C, inner, Act(act), T(slope));
        });
      },
      "out = act(x + bias) with x viewed as (outer, C, inner)", py::arg("x"), py::arg("bias"),
      py::arg("out"), py::arg("outer"), py::arg("C"), py::arg("inner"), py::arg("act"), py::arg("slope"));
}

}  // namespace

NK_REGISTER_BINDINGS(elementwise, bind_elementwise);

}  // namespace nk
