// pybind11 bindings for the recurrent layers (csrc/rnn/). No logic: shapes, dtypes and
// contiguity were checked in nnkernels/ops/rnn.py; every array is C-contiguous here.
#include "bind/array.h"
#include "bind/registry.h"
#include "common.h"
#include "rnn/rnn.h"
#include "rnn/rnn_gates.h"

namespace nk {

namespace {

template <typename T>
T* ptr(const py::array& a, const char* name, bool writable = false) {
  auto v = array_view<T>(a, name, -1, writable);
  if (!(a.flags() & py::array::c_style)) throw py::value_error(std::string(name) + ": must be C-contiguous");
  return v.ptr;
}

template <typename T>
const T* opt_ptr(const py::object& o, const char* name) {
  if (o.is_none()) return nullptr;
  return ptr<T>(o.cast<py::array>(), name);
}

void bind_rnn(py::module_& m) {
  m.def(
      "lstm_forward",
      [](const py::array& x, const py::array& h0, const py::array& c0, const py::array& w_ih,
         const py::array& w_hh, const py::array& bias, py::array& y, py::array& gates, py::array& cs) {
        dispatch_float(y, "y", [&](auto tag) {
          using T = decltype(tag);
          const int64_t T_ = x.shape(0), B = x.shape(1), I = x.shape(2), H = h0.shape(1);
          const T *px = ptr<T>(x, "x"), *ph = ptr<T>(h0, "h0"), *pc = ptr<T>(c0, "c0"),
                  *pwi = ptr<T>(w_ih, "w_ih"), *pwh = ptr<T>(w_hh, "w_hh"), *pb = ptr<T>(bias, "bias");
          T *py_ = ptr<T>(y, "y", true), *pg = ptr<T>(gates, "gates", true), *pcs = ptr<T>(cs, "cs", true);
          py::gil_scoped_release nogil;
          lstm_forward<T>(T_, B, I, H, px, ph, pc, pwi, pwh, pb, py_, pg, pcs);
        });
      },
      "LSTM over a sequence: fills y (T,B,H), gates (T,B,4H) and cell states cs (T,B,H)",
      py::arg("x"), py::arg("h0"), py::arg("c0"), py::arg("w_ih"), py::arg("w_hh"), py::arg("bias"),
      py::arg("y"), py::arg("gates"), py::arg("cs"));

  m.def(
      "lstm_backward",
      [](const py::array& x, const py::array& h0, const py::array& c0, const py::array& w_ih,
         const py::array& w_hh, const py::array& y, const py::array& gates, const py::array& cs,
         const py::object& gy, const py::object& ghT, const py::object& gcT, py::array& gx,
         py::array& gh0, py::array& gc0, py::array& gw_ih, py::array& gw_hh, py::array& gb) {
        dispatch_float(gx, "gx", [&](auto tag) {
          using T = decltype(tag);
          const int64_t T_ = x.shape(0), B = x.shape(1), I = x.shape(2), H = h0.shape(1);
          const T *px = ptr<T>(x, "x"), *ph = ptr<T>(h0, "h0"), *pc = ptr<T>(c0, "c0"),
                  *pwi = ptr<T>(w_ih, "w_ih"), *pwh = ptr<T>(w_hh, "w_hh"), *py_ = ptr<T>(y, "y"),
                  *pg = ptr<T>(gates, "gates"), *pcs = ptr<T>(cs, "cs");
          const T *pgy = opt_ptr<T>(gy, "grad_y"), *pgh = opt_ptr<T>(ghT, "grad_hT"),
                  *pgc = opt_ptr<T>(gcT, "grad_cT");
          T *o1 = ptr<T>(gx, "gx", true), *o2 = ptr<T>(gh0, "gh0", true), *o3 = ptr<T>(gc0, "gc0", true),
            *o4 = ptr<T>(gw_ih, "gw_ih", true), *o5 = ptr<T>(gw_hh, "gw_hh", true), *o6 = ptr<T>(gb, "gb", true);
          py::gil_scoped_release nogil;
          lstm_backward<T>(T_, B, I, H, px, ph, pc, pwi, pwh, py_, pg, pcs, pgy, pgh, pgc, o1, o2, o3,
                           o4, o5, o6);
        });
      },
      "LSTM backward through time from the forward's saved arrays", py::arg("x"), py::arg("h0"),
      py::arg("c0"), py::arg("w_ih"), py::arg("w_hh"), py::arg("y"), py::arg("gates"), py::arg("cs"),
      py::arg("grad_y"), py::arg("grad_hT"), py::arg("grad_cT"), py::arg("gx"), py::arg("gh0"),
      py::arg("gc0"), py::arg("gw_ih"), py::arg("gw_hh"), py::arg("gb"));

  m.def(
      "gru_forward",
      [](const py::array& x, const py::array& h0, const py::array& w_ih, const py::array& w_hh,
         const py::array& b_ih, const py::array& b_hh, py::array& y, py::array& gates, py::array& hn) {
        dispatch_float(y, "y", [&](auto tag) {
          using T = decltype(tag);
          const int64_t T_ = x.shape(0), B = x.shape(1), I = x.shape(2), H = h0.shape(1);
          const T *px = ptr<T>(x, "x"), *ph = ptr<T>(h0, "h0"), *pwi = ptr<T>(w_ih, "w_ih"),
                  *pwh = ptr<T>(w_hh, "w_hh"), *pbi = ptr<T>(b_ih, "b_ih"), *pbh = ptr<T>(b_hh, "b_hh");
          T *py_ = ptr<T>(y, "y", true), *pg = ptr<T>(gates, "gates", true), *phn = ptr<T>(hn, "hn", true);
          py::gil_scoped_release nogil;
          gru_forward<T>(T_, B, I, H, px, ph, pwi, pwh, pbi, pbh, py_, pg, phn);
        });
      },
      "GRU over a sequence: fills y (T,B,H), gates (T,B,3H) and hn (T,B,H)", py::arg("x"),
      py::arg("h0"), py::arg("w_ih"), py::arg("w_hh"), py::arg("b_ih"), py::arg("b_hh"), py::arg("y"),
      py::arg("gates"), py::arg("hn"));

  m.def(
      "gru_backward",
      [](const py::array& x, const py::array& h0, const py::array& w_ih, const py::array& w_hh,
         const py::array& y, const py::array& gates, const py::array& hn, const py::object& gy,
         const py::object& ghT, py::array& gx, py::array& gh0, py::array& gw_ih, py::array& gw_hh,
         py::array& gb_ih, py::array& gb_hh) {
        dispatch_float(gx, "gx", [&](auto tag) {
          using T = decltype(tag);
          const int64_t T_ = x.shape(0), B = x.shape(1), I = x.shape(2), H = h0.shape(1);
          const T *px = ptr<T>(x, "x"), *ph = ptr<T>(h0, "h0"), *pwi = ptr<T>(w_ih, "w_ih"),
                  *pwh = ptr<T>(w_hh, "w_hh"), *py_ = ptr<T>(y, "y"), *pg = ptr<T>(gates, "gates"),
                  *phn = ptr<T>(hn, "hn");
          const T *pgy = opt_ptr<T>(gy, "grad_y"), *pgh = opt_ptr<T>(ghT, "grad_hT");
          T *o1 = ptr<T>(gx, "gx", true), *o2 = ptr<T>(gh0, "gh0", true), *o3 = ptr<T>(gw_ih, "gw_ih", true),
            *o4 = ptr<T>(gw_hh, "gw_hh", true), *o5 = ptr<T>(gb_ih, "gb_ih", true),
            *o6 = ptr<T>(gb_hh, "gb_hh", true);
          py::gil_scoped_release nogil;
          gru_backward<T>(T_, B, I, H, px, ph, pwi, pwh, py_, pg, phn, pgy, pgh, o1, o2, o3, o4, o5, o6);
        });
      },
      "GRU backward through time from the forward's saved arrays", py::arg("x"), py::arg("h0"),
      py::arg("w_ih"), py::arg("w_hh"), py::arg("y"), py::arg("gates"), py::arg("hn"),
      py::arg("grad_y"), py::arg("grad_hT"), py::arg("gx"), py::arg("gh0"), py::arg("gw_ih"),
      py::arg("gw_hh"), py::arg("gb_ih"), py::arg("gb_hh"));

  m.def(
      "rnn_activation",
      [](const py::array& x, py::array& out, const std::string& which, const std::string& path) {
        dispatch_float(out, "out", [&](auto tag) {
          using T = decltype(tag);
          const T* px = ptr<T>(x, "x");
          T* po = ptr<T>(out, "out", true);
          const int64_t n = x.size();
          py::gil_scoped_release nogil;
          rnn_activation<T>(path.c_str(), which.c_str(), n, px, po);
        });
      },
      "The vector sigmoid ('sigmoid') or tanh ('tanh') of the gate passes of CPU path `path` "
      "('avx2', 'avx512'), for accuracy tests",
      py::arg("x"), py::arg("out"), py::arg("which"), py::arg("path"));
}

}  // namespace

NK_REGISTER_BINDINGS(rnn, bind_rnn);

}  // namespace nk
