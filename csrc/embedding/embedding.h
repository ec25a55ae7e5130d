// Embedding lookup gradient (declarations; embedding.cpp holds the kernel).
#pragma once
#include <cstdint>

namespace nk {

// gw (V × D) = 0, then gw[idx[i]] += g[i] for i < n (g is n × D, contiguous); the row
// padding_idx (if in [0, V)) stays 0. Indices must already be in [0, V).
template <typename T>
void embedding_backward(T* gw, const int64_t* idx, const T* g, int64_t n, int64_t V, int64_t D,
                        int64_t padding_idx);

}  // namespace nk
