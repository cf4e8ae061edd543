// oneDNN dnnl_sgemm vs OpenBLAS cblas_sgemm on the shapes the engine runs, same process, same
// thread count; prints a markdown table of GFLOP/s (the table in docs/gemm.md).
//
//   bench_gemm_libs [--threads 2] [--reps 5]
//   OPENBLAS_CORETYPE=SkylakeX bench_gemm_libs      (OpenBLAS reads the variable at load time)
//
// Timing: each (shape, library) gets a warm-up call, then the best of --reps timed calls (best-of
// because the 2 cores are shared with other processes). The two libraries alternate per shape,
// with a pause in between so one library's spinning worker threads do not steal the other's cores.
//
// Two rates per call: wall clock, and the calling thread's CPU time ("cpu"). Both libraries split
// the work evenly over the threads and the caller does its share, so on a machine shared with
// other jobs the caller's CPU time estimates what the call would take with the cores to itself
// (run with OMP_WAIT_POLICY=passive so idle OpenMP threads sleep rather than spin on the clock).
#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Shape {
  const char* what;  // where the engine runs it
  bool ta, tb;
  int M, N, K;
};

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::string load_average() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  char buf[64] = "?";
  if (f) {
    if (!std::fgets(buf, sizeof(buf), f)) buf[0] = 0;
    std::fclose(f);
  }
  std::string s(buf);
  return s.substr(0, s.find(' '));
}

struct Rate {
  double wall, cpu;  // GFLOP/s
};

// Row-major C[M,N] = op(A) op(B), both libraries called with the same arguments.
void run_onednn(const Shape& s, const float* A, const float* B, float* C) {
  int lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
  if (dnnl_sgemm(s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.M, s.N, s.K, 1.0f, A, lda, B, ldb, 0.0f, C,
                 s.N) != dnnl_success) {
    std::fprintf(stderr, "dnnl_sgemm failed\n");
    std::exit(1);
  }
}

void run_openblas(const Shape& s, const float* A, const float* B, float* C) {
  int lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
  cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans,
              s.M, s.N, s.K, 1.0f, A, lda, B, ldb, 0.0f, C, s.N);
}

template <typename F>
Rate best_gflops(const Shape& s, int reps, F&& call) {
  call();  // warm-up: thread pools, JIT kernels, page faults on C
  double best = 1e30, best_cpu = 1e30;
  for (int r = 0; r < reps; ++r) {
    double t0 = seconds_now(), c0 = thread_cpu_seconds();
    call();
    best_cpu = std::min(best_cpu, thread_cpu_seconds() - c0);
    best = std::min(best, seconds_now() - t0);
  }
  const double gflop = 2.0 * s.M * static_cast<double>(s.N) * s.K * 1e-9;
  return {gflop / best, gflop / best_cpu};
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, reps = 5;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else {
      std::printf("usage: %s [--threads N (default 2)] [--reps R (default 5)]\n", argv[0]);
      return std::strcmp(argv[i], "--help") ? 1 : 0;
    }
  }
  if (threads < 1 || reps < 1) {
    std::fprintf(stderr, "bench_gemm_libs: --threads and --reps must be >= 1\n");
    return 1;
  }
  omp_set_num_threads(threads);       // oneDNN's OpenMP runtime
  openblas_set_num_threads(threads);  // OpenBLAS's own pthread pool

  // Tokens per step M = 2048. Linear layer y = x W^T with W [out, in]: forward NT, backward
  // dx = dy W is NN, dW = dy^T x is TN. (out, in) pairs from the tiny/small presets and the
  // upper end of the brief's range.
  std::vector<Shape> shapes = {{"square", false, false, 2048, 2048, 2048}};
  const int T = 2048;
  struct Lin {
    const char* name;
    int out, in;
  };
  for (Lin l :
       {Lin{"tiny qkv", 512, 256}, Lin{"tiny ffn up", 688, 256}, Lin{"tiny ffn down", 256, 688},
        Lin{"small attn", 512, 512}, Lin{"small qkv", 1536, 512}, Lin{"small ffn up", 1376, 512},
        Lin{"small ffn down", 512, 1376}, Lin{"wide", 4096, 1024}}) {
    shapes.push_back({l.name, false, true, T, l.out, l.in});   // fwd   y  = x W^T
    shapes.push_back({l.name, false, false, T, l.in, l.out});  // bwd  dx = dy W
    shapes.push_back({l.name, true, false, l.out, l.in, T});   // bwd  dW = dy^T x
  }
  // LM head chunk (vocab 8192): logits = x W^T, dx = dlogits W, dW += dlogits^T x.
  shapes.push_back({"lm head chunk", false, true, 256, 8192, 512});
  shapes.push_back({"lm head chunk", false, false, 256, 512, 8192});
  shapes.push_back({"lm head chunk", true, false, 8192, 512, 256});

  const dnnl_version_t* v = dnnl_version();
  const char* core_env = std::getenv("OPENBLAS_CORETYPE");
  std::printf("oneDNN %d.%d.%d | OpenBLAS core %s (OPENBLAS_CORETYPE=%s) | config: %s\n", v->major,
              v->minor, v->patch, openblas_get_corename(), core_env ? core_env : "unset",
              openblas_get_config());
  std::printf("threads %d, best of %d, load average %s\n\n", threads, reps, load_average().c_str());
  std::printf(
      "| use | op | M | N | K | oneDNN wall | OpenBLAS wall | ratio wall "
      "| oneDNN cpu | OpenBLAS cpu | ratio cpu |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");

  double sum_log_ratio = 0, sum_log_ratio_cpu = 0;
  for (const Shape& s : shapes) {
    std::size_t a_n = static_cast<std::size_t>(s.M) * s.K,
                b_n = static_cast<std::size_t>(s.K) * s.N;
    std::vector<float> A(a_n), B(b_n), C(static_cast<std::size_t>(s.M) * s.N);
    for (std::size_t i = 0; i < a_n; ++i) A[i] = static_cast<float>(i % 13) * 0.1f - 0.6f;
    for (std::size_t i = 0; i < b_n; ++i) B[i] = static_cast<float>(i % 7) * 0.1f - 0.3f;
    Rate g1 = best_gflops(s, reps, [&] { run_onednn(s, A.data(), B.data(), C.data()); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    Rate g2 = best_gflops(s, reps, [&] { run_openblas(s, A.data(), B.data(), C.data()); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    sum_log_ratio += std::log(g2.wall / g1.wall);
    sum_log_ratio_cpu += std::log(g2.cpu / g1.cpu);
    std::printf("| %s | %c%c | %d | %d | %d | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f |\n", s.what,
                s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.M, s.N, s.K, g1.wall, g2.wall,
                g2.wall / g1.wall, g1.cpu, g2.cpu, g2.cpu / g1.cpu);
    std::fflush(stdout);
  }
  const double ns = static_cast<double>(shapes.size());
  std::printf("\ngeometric mean OpenBLAS/oneDNN: wall %.2f, cpu %.2f (load average now %s)\n",
              std::exp(sum_log_ratio / ns), std::exp(sum_log_ratio_cpu / ns),
              load_average().c_str());
  return 0;
}
