// The _cuda extension: device queries and the kernels' bindings. Arrays arrive as
// raw device pointers taken from __cuda_array_interface__ by nnkernels/cuda.py,
// together with CuPy's current stream; no memory is allocated here.
#include <pybind11/pybind11.h>

#include <cstdint>

#include "bind.h"
#include "runtime.h"

namespace py = pybind11;

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "nnkernels CUDA kernels";
  py::register_exception<nkcuda::CudaError>(m, "CudaError", PyExc_RuntimeError);
  m.attr("architectures") = NK_CUDA_ARCHS;
  m.def("device_count", &nkcuda::device_count, "Number of usable CUDA devices (0 without a driver)");
  m.def("device_name", &nkcuda::device_name, py::arg("device") = 0);
  m.def("runtime_version", &nkcuda::runtime_version);
  m.def("driver_version", &nkcuda::driver_version, "CUDA driver version, 0 without a driver");
  m.def(
      "saxpy",
      [](int n, float a, std::uintptr_t x, std::uintptr_t y, std::uintptr_t stream) {
        py::gil_scoped_release nogil;
        nkcuda::saxpy(n, a, reinterpret_cast<const float*>(x), reinterpret_cast<float*>(y),
                      reinterpret_cast<cudaStream_t>(stream));
      },
      "y := a*x + y on device pointers (interop self-test)", py::arg("n"), py::arg("a"),
      py::arg("x"), py::arg("y"), py::arg("stream") = 0);
  nkcuda::bind_gemm(m);
  nkcuda::bind_pool(m);
  nkcuda::bind_softmax(m);
  nkcuda::bind_elementwise(m);
}
