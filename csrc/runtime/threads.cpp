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

int env_int(const char* name) {
  const char* s = std::getenv(name);
  if (!s || !*s) return 0;
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);  // "4,2" (an OpenMP nesting list) reads as 4
  return (end != s && v > 0 && v <= kMaxThreads) ? int(v) : 0;
}

int default_threads() {
  int n = env_int("NNKERNELS_NUM_THREADS");
  if (n <= 0) n = env_int("OMP_NUM_THREADS");
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

}  // namespace

class Pool {
 public:
  // The caller's share is tid 0; `want` counts the other members.
  void run_region(int nt, detail::FnRef<Team&> body);
  void run_for(int64_t n, int nt, int64_t chunk, detail::FnRef<int64_t, int64_t> body);

  std::atomic<bool> busy{false};

 private:
  uint32_t publish(int want);  // returns the generation; workers may join from now on
  int close();                 // no more joins; returns members joined
  void wait_done(int members);
  void grow(int workers);
  void worker_main(int idx);
  void work_chunks();

  // the job (written by the caller before publish, read by members after joining)
  bool is_for_ = false;
  detail::FnRef<Team&> region_{};
  detail::FnRef<int64_t, int64_t> body_{};
  int64_t n_ = 0, chunk_ = 1;
  alignas(64) std::atomic<int64_t> next_{0};
  alignas(64) std::atomic<uint64_t> team_word_{0};  // [63:32] generation, [31:0] team size
  alignas(64) std::atomic<int> done_{0};
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
    workers_.emplace_back([this, idx] { worker_main(idx); });
    workers_.back().detach();
  }
}

uint32_t Pool::publish(int want) {
  const uint32_t gen = ++gen_;
  done_.store(0, std::memory_order_relaxed);
  bar_.count.store(0, std::memory_order_relaxed);
  join_.store((uint64_t(gen) << 32) | (uint64_t(want) << 17), std::memory_order_release);
  seq_.store(gen, std::memory_order_seq_cst);
  if (parked_.load(std::memory_order_seq_cst) > 0) futex_wake_all(&seq_);
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

void Pool::worker_main(int idx) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);  // signals belong to the Python thread
  tl_in_region = true;                        // a worker never opens a team of its own
  uint32_t seen = seq_.load(std::memory_order_acquire);
  for (;;) {
    // Idle: pause a little, then yield, then park once the spin window is over.
    if (seq_.load(std::memory_order_acquire) == seen) {
      const int64_t window_ns = int64_t(spin_us()) * 1000;
      const auto t0 = Clock::now();
      for (int i = 0; seq_.load(std::memory_order_acquire) == seen; ++i) {
        const int64_t el = (i & 15) == 15 || i > 256 ? (Clock::now() - t0).count() : 0;
        if (el >= window_ns) {
          parked_.fetch_add(1, std::memory_order_seq_cst);
          futex_wait(&seq_, seen);
          parked_.fetch_sub(1, std::memory_order_seq_cst);
        } else if (el > 3000) {
          sched_yield();
        } else {
          cpu_relax();
        }
      }
    }
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
    done_.fetch_add(1, std::memory_order_release);
  }
}

void Pool::run_region(int nt, detail::FnRef<Team&> body) {
  grow(nt - 1);
  is_for_ = false;
  region_ = body;
  const uint32_t gen = publish(nt - 1);
  // Give the workers a short window to join; whoever has not by then stays out.
  const auto t0 = Clock::now();
  const int64_t window_ns = 60000;
  for (int i = 0; word_count(join_.load(std::memory_order_acquire)) < nt - 1; ++i) {
    if ((i & 15) == 15 && (Clock::now() - t0).count() > window_ns) break;
    if (i > 2048) sched_yield(); else cpu_relax();
  }
  const int members = close();
  team_word_.store((uint64_t(gen) << 32) | uint32_t(members + 1), std::memory_order_release);
  Team team(0, members + 1, &bar_);
  body(team);
  wait_done(members);
}

void Pool::run_for(int64_t n, int nt, int64_t chunk, detail::FnRef<int64_t, int64_t> body) {
  grow(nt - 1);
  is_for_ = true;
  body_ = body;
  n_ = n;
  chunk_ = chunk;
  next_.store(0, std::memory_order_relaxed);
  publish(nt - 1);
  work_chunks();  // the caller starts at once; workers that join help
  wait_done(close());
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
  explicit PoolLease(int nt) {
    if (nt <= 1 || tl_in_region) return;
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

void run_region(int nt, FnRef<Team&> body) {
  nt = std::min(nt, kMaxThreads);
  PoolLease lease(nt);
  if (!lease.p) {
    Team alone(0, 1, nullptr);
    body(alone);
    return;
  }
  lease.p->run_region(nt, body);
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

}  // namespace detail

bool in_parallel() { return tl_in_region; }

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
    const char* s = std::getenv("NNKERNELS_SPIN_US");
    us = 300;
    if (s && *s) {
      char* end = nullptr;
      long v = std::strtol(s, &end, 10);
      if (end != s && v >= 0 && v <= 1000000) us = int(v);
    }
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
