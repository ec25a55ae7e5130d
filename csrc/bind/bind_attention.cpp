// pybind11 bindings for attention. No logic: shapes, masks and offsets were prepared and
// checked in nnkernels/ops/attention.py.
#include "attention/attention.h"
#include "bind/array.h"
#include "bind/registry.h"

namespace nk {

namespace {

template <typename T>
AttnProblem<T> make_problem(const py::array& q, const py::array_t<int64_t>& q_off,
                            const py::array& k, const py::array_t<int64_t>& k_off,
                            const py::array& v, const py::array_t<int64_t>& v_off,
                            const py::object& mask, const py::array_t<int64_t>& m_off,
                            int64_t nb, int64_t Lq, int64_t Lk, int64_t D, int64_t Dv,
                            bool causal, double scale) {
  auto Q = array_view<T>(q, "q"), K = array_view<T>(k, "k"), V = array_view<T>(v, "v");
  if (q_off.size() != nb || k_off.size() != nb || v_off.size() != nb)
    throw py::value_error("offsets: one per batch item expected");
  AttnProblem<T> p{};
  p.nb = nb; p.Lq = Lq; p.Lk = Lk; p.D = D; p.Dv = Dv;
  p.q = Q.ptr; p.q_off = q_off.data(); p.ldq = Q.stride(-2);
  p.k = K.ptr; p.k_off = k_off.data(); p.ldk = K.stride(-2);
  p.v = V.ptr; p.v_off = v_off.data(); p.ldv = V.stride(-2);
  p.mask_kind = AttnMask::none;
  if (!mask.is_none()) {
    py::array m = mask.cast<py::array>();
    if (m_off.size() != nb) throw py::value_error("attn_mask offsets: one per batch item expected");
    if (m.dtype().kind() == 'u' && m.itemsize() == 1) {
      p.mask_kind = AttnMask::boolean;
      p.mask = m.data();
      p.msi = m.strides(m.ndim() - 2);
      p.msj = m.strides(m.ndim() - 1);
    } else {
      auto M = array_view<T>(m, "attn_mask");
      p.mask_kind = AttnMask::additive;
      p.mask = M.ptr;
      p.msi = M.stride(-2);
      p.msj = M.stride(-1);
    }
    p.mask_off = m_off.data();
  }
  p.causal = causal;
  p.scale = T(scale);
  return p;
}

void bind_attention(py::module_& m) {
  m.def(
      "attention_forward",
      [](const py::array& q, const py::array_t<int64_t>& q_off, const py::array& k,
         const py::array_t<int64_t>& k_off, const py::array& v, const py::array_t<int64_t>& v_off,
         const py::object& mask, const py::array_t<int64_t>& m_off, bool causal, double scale,
         py::array& out, py::array& lse, bool reference) {
        dispatch_float(out, "out", [&](auto tag) {
          using T = decltype(tag);
          auto O = array_view<T>(out, "out", 3, true);
          auto S = array_view<T>(lse, "lse", 2, true);
          const int64_t nb = O.dim(0), Lq = O.dim(1), Dv = O.dim(2);
          const int64_t Lk = k.shape(k.ndim() - 2), D = q.shape(q.ndim() - 1);
          AttnProblem<T> p = make_problem<T>(q, q_off, k, k_off, v, v_off, mask, m_off, nb, Lq, Lk,
                                             D, Dv, causal, scale);
          py::gil_scoped_release nogil;
          if (reference)
            attention_ref<T>(p, O.ptr, S.ptr);
          else
            attention_forward<T>(p, O.ptr, S.ptr);
        });
      },
      "Fused attention forward: out (nb, Lq, Dv) and lse (nb, Lq), both contiguous",
      py::arg("q"), py::arg("q_offsets"), py::arg("k"), py::arg("k_offsets"), py::arg("v"),
      py::arg("v_offsets"), py::arg("mask"), py::arg("mask_offsets"), py::arg("causal"),
      py::arg("scale"), py::arg("out"), py::arg("lse"), py::arg("reference") = false);

  m.def(
      "attention_backward",
      [](const py::array& q, const py::array_t<int64_t>& q_off, const py::array& k,
         const py::array_t<int64_t>& k_off, const py::array& v, const py::array_t<int64_t>& v_off,
         const py::object& mask, const py::array_t<int64_t>& m_off, bool causal, double scale,
         const py::array& dout, const py::array& out, const py::array& lse, py::array& gq,
         py::array& gk, py::array& gv) {
        dispatch_float(gq, "gq", [&](auto tag) {
          using T = decltype(tag);
          auto dO = array_view<T>(dout, "grad_out", 3), O = array_view<T>(out, "out", 3);
          auto S = array_view<T>(lse, "lse", 2);
          auto GQ = array_view<T>(gq, "gq", 3, true), GK = array_view<T>(gk, "gk", 3, true);
          auto GV = array_view<T>(gv, "gv", 3, true);
          const int64_t nb = GQ.dim(0), Lq = GQ.dim(1), D = GQ.dim(2), Lk = GK.dim(1), Dv = GV.dim(2);
          AttnProblem<T> p = make_problem<T>(q, q_off, k, k_off, v, v_off, mask, m_off, nb, Lq, Lk,
                                             D, Dv, causal, scale);
          py::gil_scoped_release nogil;
          attention_backward<T>(p, dO.ptr, O.ptr, S.ptr, GQ.ptr, GK.ptr, GV.ptr);
        });
      },
      "Attention backward from the saved lse; gq must be zero on entry; all outputs contiguous",
      py::arg("q"), py::arg("q_offsets"), py::arg("k"), py::arg("k_offsets"), py::arg("v"),
      py::arg("v_offsets"), py::arg("mask"), py::arg("mask_offsets"), py::arg("causal"),
      py::arg("scale"), py::arg("grad_out"), py::arg("out"), py::arg("lse"), py::arg("gq"),
      py::arg("gk"), py::arg("gv"));
}

}  // namespace

NK_REGISTER_BINDINGS(attention, bind_attention);

}  // namespace nk
