// Decode throughput of infer::Session on a randomly initialised preset: prefill a context of T
// random tokens, then append one token at a time (logits computed each time, as generation does)
// and report tokens/s, achieved GFLOP/s and its ratio to the sgemm GFLOP/s measured in the same
// process (kernels::measure_sgemm_gflops, the `harpe bench train` convention). Both paths are
// timed: the lean single-row path (SessionOptions::lean_decode, the default) and the batched GEMM
// path it replaces (oneDNN projections and LM head, OpenMP kernels; its attention, through
// cached_attention, is now the same per-query kernel as the lean path's).
//
// FLOPs per decoded token at context t: 2 * (matmul parameters, LM head once) + 4 * L * t * H * D
// (q.k and p.v over t keys per head).
//
// Weights are held in fp32 and/or bf16 (infer/inference_model.h; --precisions), and so is the KV
// cache (by default in the weights' precision; WEIGHTS:KV sets it, e.g. bf16:fp32 = bf16 weights
// with an fp32 cache): the models are built side by side with the same parameters, one session
// each, and decode token by token in turn, so load drift on a shared machine hits them alike; the
// summary gives each entry's tok/s ratio to the first entry's for each of --repeats runs, their
// median, and the median ratio of tokens per CPU second.
// --shape replaces the preset's sizes (hidden, MLP width, layers, heads, KV heads), e.g. a GQA
// model whose weights, not its KV cache, dominate the bytes read.
//
//   bench_decode [--preset tiny] [--shape C,F,L,H,KV] [--contexts 512,4096] [--tokens 128]
//                [--self-extend W,G] [--paths lean,gemm] [--precisions fp32,bf16[:fp32]] [--repeats
//                1]
// tok/s is wall clock; tok/cpu_s divides by the process CPU time (robust to a shared machine for
// one thread; with N threads it counts every thread's time, spinning included).
// Threads: OMP_NUM_THREADS (the lean path itself never opens a parallel region).
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "core/precision.h"
#include "core/system.h"
#include "core/timer.h"
#include "eval/model_eval.h"
#include "infer/session.h"
#include "kernels/gemm.h"
#include "model/config.h"
#include "model/model.h"

namespace {

using namespace harpe;

// CPU seconds of the whole process: the machine is shared, so wall-clock rates move with the
// load; tokens per CPU second (single-threaded runs) do much less.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// AnonHugePages of this process (Linux), in MiB; -1 when unknown.
double huge_pages_mib() {
  std::FILE* f = std::fopen("/proc/self/smaps_rollup", "r");
  if (!f) return -1;
  char line[256];
  double kb = -1;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "AnonHugePages: %lf kB", &kb) == 1) break;
  std::fclose(f);
  return kb < 0 ? -1 : kb / 1024;
}

double decode_flops(const model::Model& m, int t) {
  const model::ModelConfig& c = m.config;
  return 2.0 * static_cast<double>(m.layout.matmul_count) +
         4.0 * c.num_hidden_layers * static_cast<double>(t) * c.num_attention_heads * c.head_size();
}

struct Result {
  double tok_s = 0, tok_cpu_s = 0, gflops = 0, prefill_s = 0, huge_mib = 0;
};

// One session per model, each prefilled with the same T random tokens, then `tokens` tokens decoded
// with the models taking turns token by token (the order alternating), so that load drift on a
// shared machine hits every model alike. One Result per model.
// One timed entry of --precisions: the weights and the session's KV cache precision.
struct Entry {
  std::string name;
  const infer::InferenceModel* model = nullptr;
  Precision kv = Precision::fp32;
};

std::vector<Result> run(const std::vector<Entry>& models, const model::Model& shape, int T,
                        int tokens, rope::PositionMap pos, bool lean) {
  const int V = shape.config.vocab_size;
  std::mt19937 gen(11);
  std::uniform_int_distribution<int> tok(0, V - 1);
  std::vector<int32_t> seq(static_cast<std::size_t>(T + tokens));
  for (auto& t : seq) t = tok(gen);
  infer::SessionOptions so;
  so.capacity = T + tokens;
  so.position = pos;
  so.lean_decode = lean;
  const std::size_t n = models.size();
  std::vector<std::unique_ptr<infer::Session>> sessions;
  std::vector<Result> r(n);
  std::vector<double> wall(n), cpu(n);
  std::vector<float> logits(static_cast<std::size_t>(V));
  for (std::size_t k = 0; k < n; ++k) {
    so.kv_cache = models[k].kv;
    sessions.push_back(std::make_unique<infer::Session>(*models[k].model, so));
    Timer pre;
    sessions[k]->append(seq.data(), T, logits.data());
    r[k].prefill_s = pre.seconds();
  }
  double flops = 0;
  for (int i = 0; i < tokens; ++i) {
    flops += decode_flops(shape, T + i + 1);
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t k = i % 2 ? n - 1 - j : j;
      Timer t;
      const double cpu0 = cpu_seconds();
      sessions[k]->append(&seq[static_cast<std::size_t>(T + i)], 1, logits.data());
      cpu[k] += cpu_seconds() - cpu0;
      wall[k] += t.seconds();
    }
  }
  for (std::size_t k = 0; k < n; ++k) {
    r[k].tok_cpu_s = tokens / cpu[k];
    r[k].tok_s = tokens / wall[k];
    r[k].gflops = flops / wall[k] * 1e-9;
    r[k].huge_mib = huge_pages_mib();
  }
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string preset = "tiny", contexts = "512,4096", paths = "lean,gemm", se, shape;
    std::string precisions = "fp32,bf16";
    int tokens = 128, repeats = 1;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      const auto value = [&]() -> std::string {
        check(i + 1 < argc, a, " needs a value");
        return argv[++i];
      };
      if (a == "--preset")
        preset = value();
      else if (a == "--shape")
        shape = value();
      else if (a == "--contexts")
        contexts = value();
      else if (a == "--tokens")
        tokens = std::stoi(value());
      else if (a == "--self-extend")
        se = value();
      else if (a == "--paths")
        paths = value();
      else if (a == "--precisions")
        precisions = value();
      else if (a == "--repeats")
        repeats = std::stoi(value());
      else
        fail("unknown flag ", a,
             " (flags: --preset --shape --contexts --tokens --self-extend --paths --precisions "
             "--repeats)");
    }
    check(tokens >= 1, "--tokens must be >= 1");
    check(repeats >= 1, "--repeats must be >= 1");
    rope::PositionMap pos;
    if (!se.empty()) {
      pos = rope::parse_position_map(se);
    }
    model::ModelConfig cfg = model::preset(preset);
    if (!shape.empty()) {
      const std::vector<int64_t> s = eval::parse_lengths(shape, "--shape");
      check(s.size() == 5, "--shape needs C,F,L,H,KV");
      cfg.hidden_size = s[0];
      cfg.intermediate_size = s[1];
      cfg.num_hidden_layers = s[2];
      cfg.num_attention_heads = s[3];
      cfg.num_key_value_heads = s[4];
      cfg.head_dim = s[0] / s[3];
      cfg.rot_dims = cfg.head_dim;
      cfg.validate();
    }
    model::Model m(cfg);
    model::init_params(m, 1);
    // The weights, by precision: fp32 reads m's arena; bf16 rounds a second copy of it. Entries
    // WEIGHTS[:KV] share them.
    std::map<Precision, std::unique_ptr<infer::InferenceModel>> weights;
    std::vector<Entry> entries;
    std::stringstream prs(precisions);
    std::string pr;
    while (std::getline(prs, pr, ',')) {
      const std::size_t colon = pr.find(':');
      const Precision p = parse_precision(pr.substr(0, colon), "--precisions");
      const Precision kv =
          colon == std::string::npos ? p : parse_precision(pr.substr(colon + 1), "--precisions");
      if (!weights.count(p)) {
        if (p == Precision::fp32) {
          weights[p] = std::make_unique<infer::InferenceModel>(infer::InferenceModel::view(m));
        } else {
          model::Model copy(cfg);
          model::init_params(copy, 1);
          weights[p] = std::make_unique<infer::InferenceModel>(std::move(copy), p);
        }
      }
      entries.push_back({precision_name(p) + (kv == p ? "" : std::string(":") + precision_name(kv)),
                         weights[p].get(), kv});
    }
    check(!entries.empty(), "--precisions: none given");
    std::printf(
        "preset %s (%s), %d decoded tokens per run, OpenMP max threads %d, self-extend %s\n",
        preset.c_str(), model::describe(m.config).c_str(), tokens, omp_get_max_threads(),
        se.empty() ? "off" : se.c_str());
    std::printf("CPU bf16 support: %s (default precision %s); bf16 gemv: %s\n",
                cpu_bf16_features().c_str(), precision_name(default_precision()),
#if defined(__AVX512F__)
                "AVX-512F widen + FMA"
#else
                "portable loop"
#endif
    );
    for (const Entry& e : entries)
      std::printf(
          "%s: weights %s, %s, KV cache %s\n", e.name.c_str(), precision_name(e.model->precision()),
          format_bytes(static_cast<double>(e.model->weight_bytes())).c_str(), precision_name(e.kv));
    const double sgemm = kernels::measure_sgemm_gflops(2048);
    std::printf("sgemm 2048^3 GFLOP/s (%s, same process): %.2f\n", kernels::gemm_backend(), sgemm);
    std::printf("%-4s %-5s %-9s %8s %10s %10s %12s %10s %10s %9s\n", "rep", "path", "prec",
                "context", "prefill_s", "tok/s", "tok/cpu_s", "GFLOP/s", "vs_sgemm", "huge_MiB");
    // (context, path, precision) -> tok/s and tok/cpu_s of each repetition.
    std::map<std::tuple<int, std::string, std::string>, std::vector<double>> rates, cpu_rates;
    for (int rep = 0; rep < repeats; ++rep) {
      for (int T : eval::parse_lengths(contexts, "--contexts")) {
        std::stringstream ps(paths);
        std::string path;
        while (std::getline(ps, path, ',')) {
          check(path == "lean" || path == "gemm", "--paths: lean or gemm, got '", path, "'");
          const std::vector<Result> rs = run(entries, m, T, tokens, pos, path == "lean");
          for (std::size_t k = 0; k < entries.size(); ++k) {
            const Result& r = rs[k];
            const std::string& name = entries[k].name;
            rates[{T, path, name}].push_back(r.tok_s);
            cpu_rates[{T, path, name}].push_back(r.tok_cpu_s);
            std::printf("%-4d %-5s %-9s %8d %10.2f %10.1f %12.1f %10.2f %10.3f %9.0f\n", rep,
                        path.c_str(), name.c_str(), T, r.prefill_s, r.tok_s, r.tok_cpu_s, r.gflops,
                        r.gflops / sgemm, r.huge_mib);
          }
          std::fflush(stdout);
        }
      }
    }
    // Each entry against the first, per (context, path).
    const std::string a = entries[0].name;
    for (std::size_t e = 1; e < entries.size(); ++e) {
      const std::string b = entries[e].name;
      for (const auto& [key, va] : rates) {
        if (std::get<2>(key) != a) continue;
        const auto kb = std::make_tuple(std::get<0>(key), std::get<1>(key), b);
        const std::vector<double>& vb = rates[kb];
        const std::vector<double>& ca = cpu_rates[key];
        const std::vector<double>& cb = cpu_rates[kb];
        std::vector<double> ratio, cpu_ratio;
        std::string each;
        for (std::size_t i = 0; i < va.size(); ++i) {
          ratio.push_back(vb[i] / va[i]);
          cpu_ratio.push_back(cb[i] / ca[i]);
          char buf[32];
          std::snprintf(buf, sizeof buf, " %.2f", ratio.back());
          each += buf;
        }
        std::printf(
            "context %d, %s path: median tok/s %s %.1f, %s %.1f; %s/%s ratio median %.2f "
            "(each repetition:%s); per CPU second %.2f\n",
            std::get<0>(key), std::get<1>(key).c_str(), a.c_str(), median(va), b.c_str(),
            median(vb), b.c_str(), a.c_str(), median(ratio), each.c_str(), median(cpu_ratio));
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_decode: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
