// Fused optimizer updates (declarations; optim.cpp holds the kernels).
#pragma once
#include <cstdint>

namespace nk {

// Adam hyper-parameters for one step t (1-based), as torch.optim.Adam/AdamW define them.
struct AdamParams {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;  // AdamW: p *= 1 - lr*wd first; else wd*p is added to the gradient
  int64_t step;
};

// One Adam step over n contiguous elements, in place on p, m (exp_avg), v (exp_avg_sq) and,
// with amsgrad, vmax (max_exp_avg_sq; null otherwise). g is read only.
template <typename T>
void adam_step(T* p, const T* g, T* m, T* v, T* vmax, int64_t n, const AdamParams& hp);

}  // namespace nk
