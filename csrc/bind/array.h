// The one small C++ helper the bindings share: turn a NumPy array into a raw pointer
// plus shape and strides in elements, after the Python layer (nnkernels.ops) has
// checked shapes and dtypes. Anything still wrong raises ValueError/TypeError here.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nk {
namespace py = pybind11;

template <typename T>
struct ArrayView {
  T* ptr;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // in elements, any sign
  int64_t dim(int i) const { return shape[i < 0 ? shape.size() + i : i]; }
  int64_t stride(int i) const { return strides[i < 0 ? strides.size() + i : i]; }
};

template <typename T>
ArrayView<T> array_view(const py::array& a, const char* name, int ndim = -1, bool writable = false) {
  if (!py::isinstance<py::array_t<T>>(a) || a.dtype().kind() != py::dtype::of<T>().kind() ||
      a.itemsize() != sizeof(T))
    throw py::type_error(std::string(name) + ": expected dtype " +
                         std::string(py::str(py::dtype::of<T>())) + ", got " +
                         std::string(py::str(a.dtype())));
  if (ndim >= 0 && a.ndim() != ndim)
    throw py::value_error(std::string(name) + ": expected a " + std::to_string(ndim) +
                          "-D array, got " + std::to_string(a.ndim()) + "-D");
  if (writable && !a.writeable())
    throw py::value_error(std::string(name) + ": array is read-only");
  ArrayView<T> v;
  v.ptr = static_cast<T*>(const_cast<void*>(a.data()));
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    const py::ssize_t s = a.strides(i);
    if (s % py::ssize_t(sizeof(T)) != 0)
      throw py::value_error(std::string(name) + ": strides must be multiples of the item size");
    v.shape.push_back(a.shape(i));
    v.strides.push_back(s / py::ssize_t(sizeof(T)));
  }
  return v;
}

// Call f<float>() or f<double>() by the dtype of `a`.
template <typename F>
auto dispatch_float(const py::array& a, const char* name, F&& f) {
  const char k = a.dtype().kind();
  if (k == 'f' && a.itemsize() == 4) return f(float{});
  if (k == 'f' && a.itemsize() == 8) return f(double{});
  throw py::type_error(std::string(name) + ": unsupported dtype " + std::string(py::str(a.dtype())) +
                       " (float32 or float64)");
}

}  // namespace nk
