// The thread pool behind parallel_region / parallel_for (see threads.h for the rules).
//
// One job at a time: the caller fills the job, then publishes it by storing one 64-bit
// word (generation | wanted threads | closed bit | joined count) and bumping a 32-bit
// sequence that parked workers futex-wait on. A worker joins by a compare-and-swap on
// that word, which fails once the caller has moved on to a later job or closed this
// one, so a late worker never touches a job it is not counted in. The caller waits for
// every counted member before it returns; workers beyond the wanted count stay idle.
#include "runtime/threads.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace nk {
namespace {

constexpr int kMaxThreads = 512;

std::atomic<int> g_threads{0};
std::atomic<int> g_spin_us{-1};
thread_local bool tl_in_region = false;

// The integer at the start of environment variable `name` when it lies in [lo, hi], else
// `fallback` ("4,2", an OpenMP nesting list, reads as 4).
int env_int(const char* name, long lo, long hi, int fallback) {
  const char* s = std::getenv(name);
  if (!s || !*s) return fallback;
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  return (end != s && v >= lo && v <= hi) ? int(v) : fallback;
}

int default_threads() {
  int n = env_int("NNKERNELS_NUM_THREADS", 1, kMaxThreads, 0);
  if (n <= 0) n = env_int("OMP_NUM_THREADS", 1, kMaxThreads, 0);
  if (n <= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
  }
  if (n <= 0) n = int(std::thread::hardware_concurrency());
  return std::clamp(n, 1, kMaxThreads);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  asm volatile("" ::: "memory");
#endif
}

using Clock = std::chrono::steady_clock;

// Spins on `pause` for about `spin_ns`, then polls with sched_yield until done() holds.
// Used where the wait is bounded by other team members' progress (barriers, joins).
template <typename Done>
void wait_until(Done done, int64_t spin_ns = 4000) {
  const auto t0 = Clock::now();
  for (int i = 0;; ++i) {
    if (done()) return;
    if ((i & 31) == 31 && (Clock::now() - t0).count() > spin_ns) break;
    cpu_relax();
  }
  while (!done()) sched_yield();
}

void futex_wait(std::atomic<uint32_t>* word, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}
void futex_wake_all(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, 1 << 30, nullptr,
          nullptr, 0);
}

struct alignas(64) BarrierState {
  std::atomic<int> count{0};
  std::atomic<uint32_t> phase{0};
};

// join word: [63:32] generation, [31:17] wanted members besides the caller,
// [16] closed, [15:0] members joined.
constexpr uint64_t kClosed = uint64_t(1) << 16;
constexpr uint64_t kCountMask = kClosed - 1;
inline uint32_t word_gen(uint64_t w) { return uint32_t(w >> 32); }
inline int word_want(uint64_t w) { return int((w >> 17) & 0x7fff); }
inline int word_count(uint64_t w) { return int(w & kCountMask); }

int64_t now_ns() { return Clock::now().time_since_epoch().count(); }

int64_t thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Until when regions run on their calling thread alone (a busy core, see Pool::judge).
std::atomic<int64_t> g_solo_until_ns{0};

// What the pool did since the last read (callers only touch these; tests and the
// coexistence benchmark read them through _C._thread_stats()).
struct Stats {
  std::atomic<int64_t> regions{0}, loops{0}, wanted{0}, joined{0}, join_wait_ns{0}, wakes{0}, same_cpu{0}, backoffs{0}, solo{0};
} g_stats;

}  // namespace

ThreadStats take_thread_stats() {
  ThreadStats s;
  s.regions = g_stats.regions.exchange(0);
  s.loops = g_stats.loops.exchange(0);
  s.wanted = g_stats.wanted.exchange(0);
  s.joined = g_stats.joined.exchange(0);
  s.join_wait_ns = g_stats.join_wait_ns.exchange(0);
  s.wakes = g_stats.wakes.exchange(0);
  s.same_cpu = g_stats.same_cpu.exchange(0);
  s.backoffs = g_stats.backoffs.exchange(0);
  s.solo = g_stats.solo.exchange(0);
  return s;
}

class Pool {
 public:
  // The caller's share is tid 0; `want` counts the other members.
  // strict: wait for every member (jobs that wait on each other, like OpenBLAS's).
  void run_region(int nt, detail::FnRef<Team&> body, double flops, bool strict = false);
  void run_for(int64_t n, int nt, int64_t chunk, detail::FnRef<int64_t, int64_t> body);

  std::atomic<bool> busy{false};

 private:
  uint32_t publish(int want);  // returns the generation; workers may join from now on
  int close();                 // no more joins; returns members joined
  void wait_done(int members);
  void judge(Clock::time_point t_start);  // after a job: was a member kept off its CPU?
  static constexpr int64_t kMinBackoffNs = 4000000, kMaxBackoffNs = 512000000;
  int64_t backoff_ns_ = kMinBackoffNs;
  void grow(int workers);
  void worker_main(int idx, uint32_t seen);
  void work_chunks();

  // the job (written by the caller before publish, read by members after joining)
  bool is_for_ = false;
  detail::FnRef<Team&> region_{};
  detail::FnRef<int64_t, int64_t> body_{};
  int64_t n_ = 0, chunk_ = 1;
  int caller_cpu_ = -1;
  alignas(64) std::atomic<int64_t> next_{0};
  alignas(64) std::atomic<uint64_t> team_word_{0};  // [63:32] generation, [31:0] team size
  alignas(64) std::atomic<int> done_{0};
  std::atomic<int64_t> stolen_ns_{0};  // members' time off the CPU during this job
  BarrierState bar_;

  alignas(64) std::atomic<uint64_t> join_{0};
  alignas(64) std::atomic<uint32_t> seq_{0};  // futex word: the generation
  alignas(64) std::atomic<int> parked_{0};
  uint32_t gen_ = 0;
  std::vector<std::thread> workers_;
};

namespace {

Pool* g_pool = nullptr;
std::mutex g_pool_mu;

void after_fork_in_child() {
  // The workers did not survive the fork: start a fresh pool on first use (the old one
  // is left allocated; its memory may be in any state).
  g_pool = nullptr;
  new (&g_pool_mu) std::mutex();
}

Pool& pool() {
  Pool* p = __atomic_load_n(&g_pool, __ATOMIC_ACQUIRE);
  if (p) return *p;
  std::lock_guard<std::mutex> lock(g_pool_mu);
  if (!g_pool) {
    static bool hooked = (pthread_atfork(nullptr, nullptr, after_fork_in_child), true);
    (void)hooked;
    __atomic_store_n(&g_pool, new Pool(), __ATOMIC_RELEASE);  // never freed: workers may
  }                                                          // outlive static destructors
  return *g_pool;
}

}  // namespace

void Pool::grow(int workers) {
  while (int(workers_.size()) < workers) {
    const int idx = int(workers_.size());
    // The worker starts from the generation before the job being published (it may start
    // running only after publish(), and must still see that job as new).
    const uint32_t seen = gen_;
    workers_.emplace_back([this, idx, seen] { worker_main(idx, seen); });
    workers_.back().detach();
  }
}

uint32_t Pool::publish(int want) {
  const uint32_t gen = ++gen_;
  caller_cpu_ = sched_getcpu();
  done_.store(0, std::memory_order_relaxed);
  stolen_ns_.store(0, std::memory_order_relaxed);
  bar_.count.store(0, std::memory_order_relaxed);
  join_.store((uint64_t(gen) << 32) | (uint64_t(want) << 17), std::memory_order_release);
  seq_.store(gen, std::memory_order_seq_cst);
  if (parked_.load(std::memory_order_seq_cst) > 0) {
    futex_wake_all(&seq_);
    g_stats.wakes.fetch_add(1, std::memory_order_relaxed);
  }
  g_stats.wanted.fetch_add(want, std::memory_order_relaxed);
  return gen;
}

int Pool::close() { return word_count(join_.fetch_or(kClosed, std::memory_order_acq_rel)); }

void Pool::wait_done(int members) {
  if (members > 0)
    wait_until([&] { return done_.load(std::memory_order_acquire) >= members; });
}

void Pool::work_chunks() {
  for (;;) {
    const int64_t b = next_.fetch_add(chunk_, std::memory_order_relaxed);
    if (b >= n_) return;
    body_(b, std::min(n_, b + chunk_));
  }
}

void Pool::worker_main(int idx, uint32_t seen) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);  // signals belong to the Python thread
  tl_in_region = true;                        // a worker never opens a team of its own
  cpu_set_t allowed;                          // the CPUs this process may use
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) CPU_SET(0, &allowed);
  int64_t last_gap_ns = 0;  // how long the last idle spell lasted
  for (;;) {
    // Idle: spin on `pause` through the spin window, then park. No sched_yield here: on
    // EEVDF kernels (Linux >= 6.6) each yield pushes the thread's deadline a slice later,
    // so a worker that yielded while OpenBLAS's idle workers (which spin on sched_yield)
    // shared its core ran last when work came; a parked worker woken by the futex runs
    // at once. Measured: a worker in a yield loop joined 45 % of the regions in the
    // alternating NumPy loop, a parked one 99 % (benchmarks/coexist.py, pool counts).
    //
    // The window adapts to the calls: twice the last idle gap when that was shorter than
    // the spin limit (back-to-back calls find the worker awake), none when it was longer
    // (a loop that runs other code between calls, e.g. NumPy's matmul, finds it parked,
    // and on EEVDF a thread that slept without spinning preempts at once when woken,
    // while one that spun has used up its lag and waits for the running thread's slice).
    const auto idle_t0 = Clock::now();
    if (seq_.load(std::memory_order_acquire) == seen) {
      const int64_t limit_ns = int64_t(spin_us()) * 1000;
      const int64_t window_ns = last_gap_ns < limit_ns ? std::min(limit_ns, 2 * last_gap_ns + 2000) : 0;
      for (int i = 0; seq_.load(std::memory_order_acquire) == seen; ++i) {
        if ((i & 15) == 15 && (Clock::now() - idle_t0).count() >= window_ns) {
          parked_.fetch_add(1, std::memory_order_seq_cst);
          futex_wait(&seq_, seen);
          parked_.fetch_sub(1, std::memory_order_seq_cst);
        } else {
          cpu_relax();
        }
      }
    }
    last_gap_ns = (Clock::now() - idle_t0).count();
    seen = seq_.load(std::memory_order_acquire);

    uint64_t w = join_.load(std::memory_order_acquire);
    bool joined = false;
    while (word_gen(w) == seen && !(w & kClosed) && idx < word_want(w) &&
           word_count(w) < word_want(w)) {
      if (join_.compare_exchange_weak(w, w + 1, std::memory_order_acq_rel)) {
        joined = true;
        break;
      }
    }
    if (!joined) continue;
    const int tid = word_count(w) + 1;
    if (caller_cpu_ >= 0 && sched_getcpu() == caller_cpu_) {
      // Woken onto the caller's CPU (the scheduler does that when the other CPUs are
      // busy, e.g. with another pool's spinning workers): move off it, or the two halves
      // of this team would take turns on one core.
      g_stats.same_cpu.fetch_add(1, std::memory_order_relaxed);
      cpu_set_t away = allowed;
      CPU_CLR(caller_cpu_, &away);
      if (CPU_COUNT(&away) > 0) sched_setaffinity(0, sizeof(away), &away);
    }
    const auto t_join = Clock::now();
    const int64_t cpu_join = thread_cpu_ns();
    if (is_for_) {
      work_chunks();
    } else {
      uint64_t tw;
      wait_until([&] {
        tw = team_word_.load(std::memory_order_acquire);
        return word_gen(tw) == seen;
      });
      Team team(tid, int(tw & 0xffffffffu), &bar_);
      region_(team);
    }
    // Time this member was kept off the CPU during the job (another thread ran on its core).
    const int64_t off_cpu = (Clock::now() - t_join).count() - (thread_cpu_ns() - cpu_join);
    if (off_cpu > 50000) stolen_ns_.fetch_add(off_cpu, std::memory_order_relaxed);
    done_.fetch_add(1, std::memory_order_release);
  }
}

void Pool::run_region(int nt, detail::FnRef<Team&> body, double flops, bool strict) {
  const auto t_start = Clock::now();
  grow(nt - 1);
  is_for_ = false;
  region_ = body;
  const uint32_t gen = publish(nt - 1);
  // Give the workers a window to join; whoever has not by then stays out. The window is
  // an eighth of the region's time at a modest 25 GFLOP/s a thread, within [60 µs, 4 ms].
  const auto t0 = Clock::now();
  const int64_t window_ns =
      int64_t(std::clamp(flops / (25.0 * nt) / 8.0, 60000.0, 4000000.0));
  for (int i = 0; word_count(join_.load(std::memory_order_acquire)) < nt - 1; ++i) {
    if (!strict && (i & 15) == 15 && (Clock::now() - t0).count() > window_ns) break;
    if (i > 2048) sched_yield(); else cpu_relax();
  }
  const int members = close();
  g_stats.regions.fetch_add(1, std::memory_order_relaxed);
  g_stats.joined.fetch_add(members, std::memory_order_relaxed);
  g_stats.join_wait_ns.fetch_add((Clock::now() - t0).count(), std::memory_order_relaxed);
  team_word_.store((uint64_t(gen) << 32) | uint32_t(members + 1), std::memory_order_release);
  Team team(0, members + 1, &bar_);
  body(team);
  wait_done(members);
  if (!strict) judge(t_start);
}

void Pool::run_for(int64_t n, int nt, int64_t chunk, detail::FnRef<int64_t, int64_t> body) {
  grow(nt - 1);
  is_for_ = true;
  body_ = body;
  n_ = n;
  chunk_ = chunk;
  next_.store(0, std::memory_order_relaxed);
  const auto t_start = Clock::now();
  publish(nt - 1);
  work_chunks();  // the caller starts at once; workers that join help
  const int members = close();
  g_stats.loops.fetch_add(1, std::memory_order_relaxed);
  g_stats.joined.fetch_add(members, std::memory_order_relaxed);
  wait_done(members);
  judge(t_start);
}

void Pool::judge(Clock::time_point t_start) {
  const int64_t total = (Clock::now() - t_start).count();
  const int64_t stolen = stolen_ns_.load(std::memory_order_relaxed);
  if (stolen > 200000 && 4 * stolen > total) {
    // A member lost a scheduler slice to another thread on its core and the team waited
    // for it: run alone for a while (doubling while it keeps happening), then try again.
    g_solo_until_ns.store(now_ns() + backoff_ns_, std::memory_order_relaxed);
    backoff_ns_ = std::min<int64_t>(2 * backoff_ns_, kMaxBackoffNs);
    g_stats.backoffs.fetch_add(1, std::memory_order_relaxed);
  } else if (total > 200000) {  // a real test passed: shorten the next back-off a little
    backoff_ns_ = std::max<int64_t>(backoff_ns_ - backoff_ns_ / 32, kMinBackoffNs);
  }
}

void Team::barrier() {
  if (size_ <= 1) return;
  auto* b = static_cast<BarrierState*>(shared_);
  const uint32_t ph = b->phase.load(std::memory_order_acquire);
  if (b->count.fetch_add(1, std::memory_order_acq_rel) == size_ - 1) {
    b->count.store(0, std::memory_order_relaxed);
    b->phase.store(ph + 1, std::memory_order_release);
  } else {
    wait_until([&] { return b->phase.load(std::memory_order_acquire) != ph; });
  }
}

namespace {
// Holds the pool for one region, or fails (nested region, or another thread has it).
struct PoolLease {
  Pool* p = nullptr;
  explicit PoolLease(int nt, bool strict = false) {
    if (nt <= 1 || tl_in_region) return;
    if (!strict && g_solo_until_ns.load(std::memory_order_relaxed) > now_ns()) {
      g_stats.solo.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    Pool& candidate = pool();
    bool expected = false;
    if (candidate.busy.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
      p = &candidate;
      tl_in_region = true;
    }
  }
  ~PoolLease() {
    if (p) {
      tl_in_region = false;
      p->busy.store(false, std::memory_order_release);
    }
  }
};
}  // namespace

namespace detail {

void run_region(int nt, FnRef<Team&> body, double flops) {
  nt = std::min(nt, kMaxThreads);
  PoolLease lease(nt);
  if (!lease.p) {
    Team alone(0, 1, nullptr);
    body(alone);
    return;
  }
  lease.p->run_region(nt, body, flops);
}

void run_for(int64_t n, int nt, int64_t chunk, FnRef<int64_t, int64_t> body) {
  if (n <= 0) return;
  nt = int(std::min<int64_t>({int64_t(nt), int64_t(kMaxThreads), n}));
  PoolLease lease(nt);
  if (!lease.p) {
    body(0, n);
    return;
  }
  if (chunk <= 0) chunk = (n + 4 * nt - 1) / (4 * int64_t(nt));
  lease.p->run_for(n, nt, chunk, body);
}

void run_concurrently(int n, FnRef<int> job) {
  if (n <= 0) return;
  if (n == 1) {
    job(0);
    return;
  }
  auto as_team = [&](Team& team) { job(team.tid()); };
  PoolLease lease(n, /*strict=*/true);
  if (lease.p) {
    lease.p->run_region(n, FnRef<Team&>::of(as_team), 0, /*strict=*/true);
    return;
  }
  // The pool is taken (a region of ours, or another thread's call): threads of their own.
  std::vector<std::thread> extra;
  extra.reserve(size_t(n - 1));
  for (int i = 1; i < n; ++i) extra.emplace_back([&job, i] { job(i); });
  job(0);
  for (auto& t : extra) t.join();
}

}  // namespace detail

// Exercises the thread runtime: each round runs a team region whose members write their
// tid into a phase table between barriers (every member must see every other's write
// after each barrier), then a loop that must visit each index exactly once.
int64_t runtime_check(int rounds, int threads) {
  int64_t bad = 0;
  std::vector<int> seen(4096);
  std::vector<int64_t> hits(10007);
  for (int r = 0; r < rounds; ++r) {
    std::atomic<int64_t> errors{0};
    parallel_region(threads, [&](Team& team) {
      if (team.size() < 1 || team.size() > threads || team.tid() >= team.size()) ++errors;
      for (int phase = 1; phase <= 3; ++phase) {
        seen[size_t(team.tid())] = phase * 1000 + r % 1000;
        team.barrier();
        for (int t = 0; t < team.size(); ++t)
          if (seen[size_t(t)] != phase * 1000 + r % 1000) ++errors;
        team.barrier();
      }
    });
    const int64_t n = 1 + (r * 7919) % int64_t(hits.size());
    std::fill(hits.begin(), hits.end(), 0);
    parallel_for(n, threads, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) ++hits[size_t(i)];
    });
    for (int64_t i = 0; i < int64_t(hits.size()); ++i)
      if (hits[size_t(i)] != (i < n ? 1 : 0)) ++errors;
    bad += errors.load();
  }
  return bad;
}

int num_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  if (n <= 0) {
    n = default_threads();
    g_threads.store(n);
  }
  return n;
}

void set_num_threads(int n) { g_threads.store(std::clamp(n, 1, kMaxThreads)); }

int spin_us() {
  int us = g_spin_us.load(std::memory_order_relaxed);
  if (us < 0) {
    us = env_int("NNKERNELS_SPIN_US", 0, 1000000, 100);
    g_spin_us.store(us);
  }
  return us;
}

void set_spin_us(int us) { g_spin_us.store(std::clamp(us, 0, 1000000)); }

}  // namespace nk

// C entry points for threadpoolctl (nnkernels/_threadpool.py finds the loaded _C by these
// symbols and limits it the way it limits OpenBLAS or OpenMP).
extern "C" __attribute__((visibility("default"))) int nnkernels_get_num_threads() {
  return nk::num_threads();
}
extern "C" __attribute__((visibility("default"))) void nnkernels_set_num_threads(int n) {
  nk::set_num_threads(n);
}

// OpenBLAS's threading callback (openblas_set_threads_callback_function, OpenBLAS >= 0.3.27):
// OpenBLAS hands over `numjobs` jobs that must run at the same time (its GEMM threads wait
// on each other), and we run them on this pool, so NumPy's BLAS keeps no idle threads of
// its own spinning. nnkernels/_threadpool.py installs it (nk.share_threads_with_blas()).
extern "C" __attribute__((visibility("default"))) void nnkernels_openblas_threads_callback(
    int /*sync*/, void (*dojob)(int, void*, int), int numjobs, size_t jobdata_elsize,
    void* jobdata, int dojob_data) {
  auto job = [&](int i) { dojob(i, static_cast<char*>(jobdata) + size_t(i) * jobdata_elsize, dojob_data); };
  nk::detail::run_concurrently(numjobs, nk::detail::FnRef<int>::of(job));
}
