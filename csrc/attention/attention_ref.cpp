// Naive attention reference: one query row at a time, all Lk scores of that row in a
// small buffer, double accumulation. It documents the semantics (attention.h) and is
// what the tests compare the fused kernels with; O(Lk) extra memory, no blocking.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attention/attention_impl.h"

namespace nk {

template <typename T>
void attention_ref(const AttnProblem<T>& p, T* out, T* lse) {
  std::vector<double> s(p.Lk), o(p.Dv);
  for (int64_t b = 0; b < p.nb; ++b) {
    const T* Q = p.q + p.q_off[b];
    const T* K = p.k + p.k_off[b];
    const T* V = p.v + p.v_off[b];
    for (int64_t i = 0; i < p.Lq; ++i) {
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < p.Lk; ++j) {          // s_j = scale q_i·k_j + mask_ij
        double dot = 0;
        for (int64_t d = 0; d < p.D; ++d) dot += double(Q[i * p.ldq + d]) * K[j * p.ldk + d];
        double x = dot * double(p.scale);
        const int64_t mo = p.mask_kind == AttnMask::none ? 0 : p.mask_off[b] + i * p.msi + j * p.msj;
        if (p.mask_kind == AttnMask::boolean && !static_cast<const uint8_t*>(p.mask)[mo])
          x = -std::numeric_limits<double>::infinity();
        if (p.mask_kind == AttnMask::additive) x += static_cast<const T*>(p.mask)[mo];
        if (p.causal && j > i) x = -std::numeric_limits<double>::infinity();
        s[j] = x;
        mx = std::max(mx, x);
      }
      double l = 0;                                 // softmax with the max subtracted
      std::fill(o.begin(), o.end(), 0.0);
      if (mx > -std::numeric_limits<double>::infinity()) {
        for (int64_t j = 0; j < p.Lk; ++j) {
          const double e = std::exp(s[j] - mx);
          l += e;
          for (int64_t d = 0; d < p.Dv; ++d) o[d] += e * V[j * p.ldv + d];
        }
      }
      for (int64_t d = 0; d < p.Dv; ++d) out[(b * p.Lq + i) * p.Dv + d] = T(l > 0 ? o[d] / l : 0.0);
      lse[b * p.Lq + i] = T(l > 0 ? mx + std::log(l) : -std::numeric_limits<double>::infinity());
    }
  }
}

template void attention_ref<float>(const AttnProblem<float>&, float*, float*);
template void attention_ref<double>(const AttnProblem<double>&, double*, double*);

}  // namespace nk
