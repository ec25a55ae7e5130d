// Shared declarations of the _cuda extension.
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace nkcuda {

struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void check(cudaError_t err, const char* what);
int device_count();
std::string device_name(int dev);
int runtime_version();
int driver_version();

// y := a*x + y on `stream` (device pointers). The interop self-test.
void saxpy(int n, float a, const float* x, float* y, cudaStream_t stream);

}  // namespace nkcuda
