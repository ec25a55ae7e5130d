// pybind11 binding for the embedding gradient (nnkernels/nn/functional.py: embedding).
#include <string>

#include "bind/array.h"
#include "bind/registry.h"
#include "embedding/embedding.h"

namespace nk {
namespace {

void bind_embedding(py::module_& m) {
  m.def(
      "embedding_backward",
      [](const py::array_t<int64_t, py::array::c_style | py::array::forcecast>& idx, const py::array& g,
         int64_t num_embeddings, int64_t padding_idx) {
        if (!(g.flags() & py::array::c_style)) throw py::value_error("embedding_backward: grad must be C-contiguous");
        const int64_t n = idx.size();
        if (num_embeddings < 0)
          throw py::value_error("embedding_backward: num_embeddings must be >= 0, got " + std::to_string(num_embeddings));
        const int64_t D = g.ndim() ? g.shape(g.ndim() - 1) : 0;
        if (g.ndim() < 1 || n * D != g.size())
          throw py::value_error("embedding_backward: grad has " + std::to_string(g.size()) +
                                " elements, not one row of its last axis per index (" + std::to_string(n) +
                                " indices)");
        const int64_t* ip = idx.data();
        for (int64_t i = 0; i < n; ++i)
          if (ip[i] < 0 || ip[i] >= num_embeddings)
            throw py::index_error("embedding_backward: index " + std::to_string(ip[i]) + " out of range [0, " +
                                  std::to_string(num_embeddings) + ")");
        return dispatch_float(g, "grad", [&](auto tag) -> py::array {
          using T = decltype(tag);
          auto G = array_view<T>(g, "grad");
          py::array_t<T> gw({num_embeddings, D});
          T* out = gw.mutable_data();
          {
            py::gil_scoped_release nogil;
            embedding_backward<T>(out, ip, G.ptr, n, num_embeddings, D, padding_idx);
          }
          return gw;
        });
      },
      "grad of an embedding table (num_embeddings x D): rows of grad summed per index",
      py::arg("indices"), py::arg("grad"), py::arg("num_embeddings"), py::arg("padding_idx") = -1);
}

}  // namespace

NK_REGISTER_BINDINGS(embedding, bind_embedding);

}  // namespace nk
