// pybind11 bindings for the fused optimizer updates (nnkernels/optim calls them for NumPy
// parameters). The arrays must be C-contiguous, one float dtype, one size.
#include <string>

#include "bind/array.h"
#include "bind/registry.h"
#include "optim/optim.h"

namespace nk {
namespace {

void require_like(const py::array& a, const py::array& p, const char* name) {
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string("adam_step: ") + name + " must be C-contiguous");
  if (a.size() != p.size())
    throw py::value_error(std::string("adam_step: ") + name + " has " + std::to_string(a.size()) +
                          " elements, param has " + std::to_string(p.size()));
}

void bind_optim(py::module_& m) {
  m.def(
      "adam_step",
      [](py::array& p, const py::array& g, py::array& m_, py::array& v, py::object vmax, double lr,
         double beta1, double beta2, double eps, double weight_decay, bool decoupled, int64_t step) {
        if (step < 1) throw py::value_error("adam_step: step must be >= 1, got " + std::to_string(step));
        require_like(p, p, "param");
        require_like(g, p, "grad");
        require_like(m_, p, "exp_avg");
        require_like(v, p, "exp_avg_sq");
        dispatch_float(p, "param", [&](auto tag) {
          using T = decltype(tag);
          auto P = array_view<T>(p, "param", -1, true), G = array_view<T>(g, "grad");
          auto M = array_view<T>(m_, "exp_avg", -1, true), V = array_view<T>(v, "exp_avg_sq", -1, true);
          T* vm = nullptr;
          if (!vmax.is_none()) {
            py::array a = vmax.cast<py::array>();
            require_like(a, p, "max_exp_avg_sq");
            vm = array_view<T>(a, "max_exp_avg_sq", -1, true).ptr;
          }
          const AdamParams hp{lr, beta1, beta2, eps, weight_decay, decoupled, step};
          const int64_t n = p.size();
          py::gil_scoped_release nogil;
          adam_step<T>(P.ptr, G.ptr, M.ptr, V.ptr, vm, n, hp);
        });
      },
      "One fused Adam/AdamW step in place on param, exp_avg, exp_avg_sq (and max_exp_avg_sq)",
      py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq"),
      py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
      py::arg("decoupled"), py::arg("step"));
}

}  // namespace

NK_REGISTER_BINDINGS(optim, bind_optim);

}  // namespace nk
