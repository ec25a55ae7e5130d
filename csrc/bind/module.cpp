// The _C extension: registers each kernel family's bindings and the runtime settings.
#include "bind/array.h"
#include "bind/registry.h"
#include "common.h"
#include "kernels.h"

PYBIND11_MODULE(_C, m) {
  namespace py = pybind11;
  m.doc() = "nnkernels CPU kernels (C++ with its own thread pool; generic, AVX2 or AVX-512 chosen at run time)";

  m.def("cpu_isa", [] { return std::string(nk::isa_name(nk::current_isa())); },
        "The CPU code path in use: 'generic', 'avx2' or 'avx512'");
  m.def(
      "cpu_paths",
      [] {
        py::list out;
        for (int i = 0; i < nk::kNumIsas; ++i)
          if (nk::cpu_supports(static_cast<nk::Isa>(i))) out.append(nk::isa_name(static_cast<nk::Isa>(i)));
        return out;
      },
      "The CPU code paths this CPU can run, lowest first");
  m.def(
      "cpu_features",
      [] {
        const nk::CpuFeatures& f = nk::cpu_features();
        py::dict d;
        d["avx2_fma"] = f.avx2_fma;
        d["avx512"] = f.avx512;
        d["avx512_bf16"] = f.avx512_bf16;
        d["avx512_vnni"] = f.avx512_vnni;
        d["amx"] = f.amx;
        return d;
      },
      "What CPUID and XCR0 report (avx512 = F/BW/VL/DQ with the zmm state enabled)");
  m.def(
      "set_cpu_isa",
      [](const std::string& name) {
        nk::Isa isa;
        if (!nk::isa_from_name(name.c_str(), &isa))
          throw py::value_error("cpu path must be 'generic', 'avx2' or 'avx512', got '" + name + "'");
        return nk::set_isa(isa);
      },
      "Select the CPU code path; returns False if this CPU cannot run it");
  m.def(
      "kernel_names",
      [](const std::string& name) {
        nk::Isa isa = nk::current_isa();
        if (!name.empty() && !nk::isa_from_name(name.c_str(), &isa))
          throw py::value_error("unknown cpu path '" + name + "'");
        const nk::CpuKernels& k = nk::kernels(isa);
        py::dict d;
        d["sgemm"] = k.sgemm.name;
        d["dgemm"] = k.dgemm.name;
        d["attention"] = k.attn_f32.name;
        d["rnn_gates"] = k.rnn_f32.name;
        d["softmax"] = k.softmax.name;
        d["pool"] = k.pool.name;
        d["activations"] = k.act.name;
        d["conv2d_fwd"] = k.conv_direct.tile ? k.conv_direct.name : "implicit GEMM on sgemm";
        return d;
      },
      "Which kernel each family uses on a path (default: the path in use)", py::arg("path") = "");
  m.def("get_num_threads", &nk::num_threads);
  m.def("set_num_threads", &nk::set_num_threads);
  m.def("get_spin_us", &nk::spin_us, "How long idle kernel threads poll before they park (µs)");
  m.def("set_spin_us", &nk::set_spin_us, py::arg("us"));
  m.def("_runtime_check", &nk::runtime_check, py::arg("rounds"), py::arg("threads"),
        py::call_guard<py::gil_scoped_release>(),
        "Runs `rounds` team regions with barriers and loops on the pool and returns how many "
        "checks failed (0 expected); for tests/test_threads.py");
  m.def("_thread_stats", [] {
    const nk::ThreadStats s = nk::take_thread_stats();
    py::dict d;
    d["regions"] = s.regions, d["loops"] = s.loops, d["wanted"] = s.wanted;
    d["joined"] = s.joined, d["join_wait_ns"] = s.join_wait_ns, d["wakes"] = s.wakes, d["same_cpu"] = s.same_cpu;
    d["backoffs"] = s.backoffs, d["solo"] = s.solo;
    return d;
  }, "Thread-pool counts since the last call (and resets them)");
  m.attr("cuda_built") = bool(NK_CUDA_BUILT);

  // Kernel families, each registered from its own bind_*.cpp (see registry.h).
  for (auto& [name, fn] : nk::binding_registry()) fn(m);
}
