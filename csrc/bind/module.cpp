// The _C extension: registers each kernel family's bindings and the runtime settings.
#include <omp.h>

#include "bind/array.h"
#include "bind/registry.h"
#include "common.h"

PYBIND11_MODULE(_C, m) {
  namespace py = pybind11;
  m.doc() = "nnkernels CPU kernels (C++/OpenMP, AVX2/FMA dispatched at run time)";

  m.def("cpu_isa", [] { return std::string(nk::isa_name(nk::current_isa())); },
        "The CPU code path in use: 'avx2' or 'generic'");
  m.def("cpu_has_avx2_fma", &nk::cpu_has_avx2_fma, "Whether this CPU supports AVX2 and FMA");
  m.def(
      "set_cpu_isa",
      [](const std::string& name) {
        if (name != "avx2" && name != "generic")
          throw py::value_error("cpu path must be 'avx2' or 'generic', got '" + name + "'");
        return nk::set_isa(name == "avx2" ? nk::Isa::avx2 : nk::Isa::generic);
      },
      "Select the CPU code path; returns False if this CPU cannot run it");
  m.def("get_num_threads", &nk::num_threads);
  m.def("set_num_threads", &nk::set_num_threads);
  m.attr("openmp_version") = _OPENMP;
  m.attr("cuda_built") = bool(NK_CUDA_BUILT);

  // Kernel families, each registered from its own bind_*.cpp (see registry.h).
  for (auto& [name, fn] : nk::binding_registry()) fn(m);
}
