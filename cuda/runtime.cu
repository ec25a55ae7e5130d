// CUDA runtime plumbing for the _cuda extension: device queries and a self-test kernel.
// Kernels proper (GEMM, pooling, softmax, ...) come in their own files, one family each.
#include <cuda_runtime.h>

#include <string>

#include "runtime.h"

namespace nkcuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver / no device" error
    return 0;
  }
  return n;
}

std::string device_name(int dev) {
  cudaDeviceProp prop;
  check(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties");
  return prop.name;
}

int runtime_version() {
  int v = 0;
  cudaRuntimeGetVersion(&v);
  return v;
}

int driver_version() {
  int v = 0;
  if (cudaDriverGetVersion(&v) != cudaSuccess) return 0;
  return v;
}

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw CudaError(std::string(what) + ": " + cudaGetErrorString(err));
}

namespace {
// y[i] = a * x[i] + y[i]; one thread per element.
__global__ void saxpy_kernel(int n, float a, const float* x, float* y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}
}  // namespace

void saxpy(int n, float a, const float* x, float* y, cudaStream_t stream) {
  if (n <= 0) return;
  const int block = 256;
  saxpy_kernel<<<(n + block - 1) / block, block, 0, stream>>>(n, a, x, y);
  check(cudaGetLastError(), "saxpy launch");
}

}  // namespace nkcuda
