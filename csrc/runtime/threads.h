// The kernels' thread runtime: one small pool of its own, made to share the CPU with
// other pools in the process (NumPy's OpenBLAS, MKL, torch's OpenMP) and with other
// processes.
//
// Why not OpenMP: libgomp's idle workers spin (without yielding) for a long while after
// each region, and OpenBLAS's idle workers do the same after each of its calls; on a
// machine with as many cores as threads, the two pools then take each other's cores in
// whole scheduler slices, and a loop alternating `a @ b` with one nnkernels call ran at
// 4 % of its speed (issue 17; benchmarks/coexist.py measures it).
//
// The rules this runtime keeps:
//   * The calling thread is thread 0 of every region and does its share of the work.
//   * A worker that finishes spins on `pause` for a few microseconds, then keeps polling
//     with sched_yield (which hands the core to any other runnable thread at once), and
//     parks on a futex once the spin window (NNKERNELS_SPIN_US, at most; default 100 µs) has
//     passed. Nothing spins after that window.
//   * A region's team is whoever joins in time: the caller waits a short while for the
//     workers, then closes the team, and a worker that was descheduled (a busy core)
//     stays out of that region instead of stalling it. parallel_for hands out chunks
//     dynamically, so a slow thread does less of the work.
//   * A region opened inside a region, or while another Python thread holds the pool,
//     runs on its calling thread alone (correct, never deadlocks).
//   * Waits at team barriers spin briefly and then yield.
//   * A member kept off its CPU for long during a job (another process, or another
//     pool's spinning thread on its core) sends the pool solo (one thread) for a back-off
//     that doubles while it keeps happening (4 ms .. 0.5 s).
//   * NumPy's OpenBLAS can run its threads here too (nk.share_threads_with_blas, on at
//     import): its jobs, which wait on each other, run as one strict team.
//
// Measured (benchmarks/coexist.py, RESULTS.md "Sharing the CPU", 2-core Xeon VM): the loop
// `a @ b` + one nnkernels call keeps 0.88–1.13 of back-to-back speed (OpenMP: 0.02–0.7),
// a CNN training step with one core busy elsewhere runs 1.75× slower (OpenMP: 3×).
#pragma once
#include <cstdint>
#include <utility>

namespace nk {

// Threads every parallel region of the library may use (one value for the process, so
// a value set from one Python thread holds for calls from all of them). The default is
// NNKERNELS_NUM_THREADS, else OMP_NUM_THREADS, else the CPUs this process may run on.
int num_threads();
void set_num_threads(int n);

// How long an idle worker polls before it parks, in microseconds (0 = park at once).
int spin_us();
void set_spin_us(int us);

// Counts since the last call (for tests and benchmarks/coexist.py): team regions and
// loops run on the pool, workers wanted and joined, the callers' time waiting for joins,
// futex wakes of parked workers, workers woken on the caller's CPU, back-offs to solo
// running after a member was kept off its CPU, and regions run solo because of that.
struct ThreadStats {
  int64_t regions, loops, wanted, joined, join_wait_ns, wakes, same_cpu, backoffs, solo;
};
ThreadStats take_thread_stats();

// Runs `rounds` team regions with barriers and loops on up to `threads` threads and returns
// how many of their checks failed (0 expected); for tests/test_threads.py.
int64_t runtime_check(int rounds, int threads);

// A region's team as seen by one of its threads.
class Team {
 public:
  int tid() const { return tid_; }
  int size() const { return size_; }
  // Every thread of the team waits here until all have arrived.
  void barrier();

  // Made by the runtime (shared: the team's barrier state; null for a team of one).
  Team(int tid, int size, void* shared) : tid_(tid), size_(size), shared_(shared) {}

 private:
  int tid_, size_;
  void* shared_;
};

namespace detail {
// A non-owning reference to a callable (the region body lives on the caller's stack for
// the whole region).
template <typename... Args>
struct FnRef {
  void* obj;
  void (*call)(void*, Args...);
  template <typename F>
  static FnRef of(F& f) {
    return {static_cast<void*>(&f), [](void* o, Args... a) { (*static_cast<F*>(o))(a...); }};
  }
  void operator()(Args... a) const { call(obj, a...); }
};
void run_region(int nt, FnRef<Team&> body, double flops);
// chunk > 0: exactly that many indices per claim; chunk == 0: about four chunks per thread.
void run_for(int64_t n, int nt, int64_t chunk, FnRef<int64_t, int64_t> body);
// job(0) ... job(n-1) all at the same time (they may wait on each other): on the pool when
// it is free, else on threads started for the call.
void run_concurrently(int n, FnRef<int> job);
}  // namespace detail

// body(team) on up to nt threads (the caller is tid 0); the team may be smaller. `flops`
// (a rough count of the region's work, 0 if unknown) sets how long the caller waits for
// parked workers to join: a big region waits longer (up to 4 ms, about an eighth of its
// time), a small one at most 60 µs. Waking a parked thread on an idle vCPU of a VM took
// up to ~0.3 ms here, and a GEMM 2048³ whose worker missed a 60 µs window ran at half
// speed.
template <typename F>
void parallel_region(int nt, F&& body, double flops = 0) {
  detail::run_region(nt, detail::FnRef<Team&>::of(body), flops);
}

// body(begin, end) over [0, n) on up to nt threads, in about four contiguous chunks per
// thread (few enough that each thread's rows stay together, enough that a thread slowed
// by another process does less of the work). Chunks are claimed dynamically, so which
// thread runs which is not fixed.
template <typename F>
void parallel_for(int64_t n, int nt, F&& body) {
  detail::run_for(n, nt, 0, detail::FnRef<int64_t, int64_t>::of(body));
}

// parallel_for with one index per call: body(i).
template <typename F>
void parallel_for_each(int64_t n, int nt, F&& body) {
  parallel_for(n, nt, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) body(i);
  });
}

// The same with one index per claim, for items of uneven or large cost.
template <typename F>
void parallel_for_each_dynamic(int64_t n, int nt, F&& body) {
  auto range = [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) body(i);
  };
  detail::run_for(n, nt, 1, detail::FnRef<int64_t, int64_t>::of(range));
}

}  // namespace nk
