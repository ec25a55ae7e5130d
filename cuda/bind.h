// Shared helpers of the _cuda bindings (bind_*.cpp). Bindings hold no logic: the
// Python layer (nnkernels/_cuda_ops.py) checks arguments, allocates outputs with
// CuPy and passes raw device pointers (integers), element strides and CuPy's stream.
#pragma once
#include <pybind11/pybind11.h>

#include <cstdint>

#include "kernels.h"

namespace nkcuda {
namespace py = pybind11;

template <typename T = void>
inline T* ptr(std::uintptr_t p) { return reinterpret_cast<T*>(p); }
inline cudaStream_t stream_of(std::uintptr_t s) { return reinterpret_cast<cudaStream_t>(s); }
inline DType dtype_of(int code) {
  if (code < 0 || code > 3) throw py::value_error("dtype code must be 0 (f32), 1 (f64), 2 (f16) or 3 (bf16)");
  return static_cast<DType>(code);
}

void bind_gemm(py::module_& m);
void bind_pool(py::module_& m);
void bind_softmax(py::module_& m);
void bind_elementwise(py::module_& m);

}  // namespace nkcuda
