#include "rope/bases.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>

#include "core/error.h"
#include "rope/waveform.h"

namespace harpe::rope {

std::string_view base_strategy_name(BaseStrategy s) {
  switch (s) {
    case BaseStrategy::uniform:
      return "uniform";
    case BaseStrategy::uniform_desc:
      return "uniform-desc";
    case BaseStrategy::peak_valley:
      return "peak-valley";
  }
  return "?";
}

BaseStrategy parse_base_strategy(std::string_view name) {
  if (name == "uniform") return BaseStrategy::uniform;
  if (name == "uniform-desc" || name == "uniform_desc") return BaseStrategy::uniform_desc;
  if (name == "peak-valley" || name == "peak_valley") return BaseStrategy::peak_valley;
  fail("--strategy: unknown base strategy '", name,
       "' (expected uniform, uniform-desc or peak-valley)");
}

namespace {

void check_range(int n_heads, double b_min, double b_max) {
  check(n_heads > 0, "--heads: number of heads must be positive, got ", n_heads);
  check(std::isfinite(b_min) && b_min > 0, "--min: base must be a positive number, got ", b_min);
  check(std::isfinite(b_max) && b_max > b_min, "--max: need b_min < b_max, got b_min = ", b_min,
        ", b_max = ", b_max);
}

}  // namespace

std::vector<double> uniform_bases(int n_heads, double b_min, double b_max, bool descending) {
  check_range(n_heads, b_min, b_max);
  std::vector<double> bases(static_cast<size_t>(n_heads), b_min);
  // h * (b_max - b_min) / (N - 1): the last head gets exactly b_max.
  for (int h = 1; h < n_heads; ++h) bases[h] = b_min + h * (b_max - b_min) / (n_heads - 1);
  if (descending) std::reverse(bases.begin(), bases.end());
  return bases;
}

void validate(const PeakValleyParams& p) {
  check(p.head_dim > 0 && p.head_dim % 2 == 0, "--head-dim: must be positive and even, got ",
        p.head_dim);
  check(p.m_lo >= 0, "peak-valley: m_lo must be >= 0, got ", p.m_lo);
  check(p.m_hi >= p.m_lo + 2, "--context: must exceed the first waveform position m_lo = ", p.m_lo,
        " by at least 2, got ", p.m_hi);
  check(p.m_hi - p.m_lo < kMaxWaveformPositions, "--context: at most ", kMaxWaveformPositions,
        " waveform positions, got ", p.m_hi, " - ", p.m_lo);
  check(p.max_chain >= 1, "peak-valley: max_chain (K) must be >= 1, got ", p.max_chain);
  check(std::isfinite(p.tolerance) && p.tolerance >= 0, "peak-valley: tolerance must be >= 0, got ",
        p.tolerance);
  check(p.peak_gap >= 0 && p.trough_gap >= 0 && p.skip >= 0,
        "peak-valley: peak_gap, trough_gap and skip must be >= 0");
  check(p.window >= 1, "peak-valley: window must be >= 1, got ", p.window);
  check(p.cover_radius >= 0, "peak-valley: cover_radius must be >= 0, got ", p.cover_radius);
}

Chains extrema_chains(const std::vector<double>& f, int m_lo, const PeakValleyParams& p) {
  const long n = static_cast<long>(f.size());
  // Branch-free scans (an extremum every few positions makes branches mispredict): count, then
  // fill exactly sized lists (small, so no page faults per call in the candidate loop).
  auto is_max = [&f](long i) {
    return static_cast<int>(f[i] > f[i - 1]) & static_cast<int>(f[i] > f[i + 1]);
  };
  auto is_min = [&f](long i) {
    return static_cast<int>(f[i] < f[i - 1]) & static_cast<int>(f[i] < f[i + 1]);
  };
  size_t n_max = 0, n_min = 0;
  for (long i = 1; i + 1 < n; ++i) {
    n_max += is_max(i);
    n_min += is_min(i);
  }
  std::vector<long> maxima(n_max + 1), minima(n_min + 1);  // +1: the unconditional store below
  n_max = n_min = 0;
  for (long i = 1; i + 1 < n; ++i) {
    maxima[n_max] = i;
    minima[n_min] = i;
    n_max += is_max(i);
    n_min += is_min(i);
  }
  maxima.resize(n_max);
  minima.resize(n_min);
  const size_t K = static_cast<size_t>(p.max_chain);
  Chains out;

  // Peaks: follow the highest maximum ahead, left to right (the last maximum is never examined).
  if (maxima.size() >= 2) {
    double target = -std::numeric_limits<double>::infinity();
    for (long i : maxima) target = std::max(target, f[i]);
    std::vector<long> chain;
    for (size_t k = 0; k + 1 < maxima.size() && chain.size() < K; ++k) {
      const long pos = maxima[k];
      if (std::abs(f[pos] - target) > p.tolerance) continue;
      if (chain.empty() || pos - chain.back() > p.peak_gap) chain.push_back(pos);
      const long idx = std::min(pos + p.skip, maxima[k + 1]);
      const long end = std::min(n, idx + p.window);
      target = -std::numeric_limits<double>::infinity();
      for (long i = idx; i < end; ++i) target = std::max(target, f[i]);
    }
    for (long i : chain) out.peaks.push_back(static_cast<int>(m_lo + i));
  }

  // Troughs: follow the lowest minimum behind, right to left (the first minimum is never examined).
  if (minima.size() >= 2) {
    // min of f over [0, idx): exact, from the minima of whole 64-position chunks plus a tail.
    constexpr long kChunk = 64;
    std::vector<double> chunk_prefix_min(static_cast<size_t>(n / kChunk) + 1);  // over [0, 64c)
    chunk_prefix_min[0] = std::numeric_limits<double>::infinity();
    for (long c = 0; c < n / kChunk; ++c) {
      double m = chunk_prefix_min[c];
      for (long i = c * kChunk; i < (c + 1) * kChunk; ++i) m = std::min(m, f[i]);
      chunk_prefix_min[c + 1] = m;
    }
    auto min_before = [&](long idx) {
      double m = chunk_prefix_min[idx / kChunk];
      for (long i = idx / kChunk * kChunk; i < idx; ++i) m = std::min(m, f[i]);
      return m;
    };
    double target = std::numeric_limits<double>::infinity();
    for (long i : minima) target = std::min(target, f[i]);
    std::vector<long> chain;
    for (size_t k = minima.size() - 1; k >= 1 && chain.size() < K; --k) {
      const long pos = minima[k];
      if (std::abs(f[pos] - target) > p.tolerance) continue;
      if (chain.empty() || chain.back() - pos > p.trough_gap) chain.push_back(pos);
      const long idx = std::min(pos - p.skip, minima[k - 1]);
      if (idx <= 0) break;
      target = min_before(idx);
    }
    for (auto it = chain.rbegin(); it != chain.rend(); ++it)
      out.troughs.push_back(static_cast<int>(m_lo + *it));
  }
  return out;
}

namespace {

Chains base_chains_into(double base, const PeakValleyParams& p, std::vector<double>& f) {
  if (p.naive_waveform)
    waveform_naive(base, p.head_dim, p.m_lo, p.m_hi, f);
  else
    waveform(base, p.head_dim, p.m_lo, p.m_hi, f);
  return extrema_chains(f, p.m_lo, p);
}

}  // namespace

Chains base_chains(double base, const PeakValleyParams& p) {
  validate(p);
  std::vector<double> f;
  return base_chains_into(base, p, f);
}

Cover cover(const std::vector<int>& a_sorted, const std::vector<int>& b_sorted, int radius) {
  Cover c;
  size_t lo = 0;  // first b >= a - radius; moves right as a grows
  for (int a : a_sorted) {
    while (lo < b_sorted.size() && b_sorted[lo] < a - radius) ++lo;
    for (size_t k = lo; k < b_sorted.size() && b_sorted[k] <= a + radius; ++k) {
      const long d = a - b_sorted[k];
      ++c.pairs;
      c.sum_sq += d * d;
    }
  }
  return c;
}

namespace {

std::vector<int> merged(const std::vector<int>& a, const std::vector<int>& b) {
  std::vector<int> out(a.size() + b.size());
  std::merge(a.begin(), a.end(), b.begin(), b.end(), out.begin());
  return out;
}

// Elements of `from` (sorted) not present in `other` (sorted).
std::vector<int> without(const std::vector<int>& from, const std::vector<int>& other) {
  std::vector<int> out;
  for (int x : from)
    if (!std::binary_search(other.begin(), other.end(), x)) out.push_back(x);
  return out;
}

}  // namespace

BaseSelection peak_valley_bases(int n_heads, double b_min, double b_max, double stride,
                                const PeakValleyParams& p) {
  check_range(n_heads, b_min, b_max);
  check(b_min > 1, "--min: peak-valley needs bases > 1, got ", b_min);
  check(std::isfinite(stride) && stride > 0, "--stride: must be positive, got ", stride);
  validate(p);
  const double steps = std::floor((b_max - b_min) / stride + 1e-9);
  check(steps < kMaxCandidates, "--stride: ", stride, " over [", b_min, ", ", b_max,
        "] gives more than ", kMaxCandidates, " candidate bases");
  check(steps + 1 >= n_heads, "peak-valley: ", n_heads,
        " heads need at least as many candidate "
        "bases, but [",
        b_min, ", ", b_max, "] with stride ", stride, " gives only ", steps + 1);
  const int n_cand = static_cast<int>(steps) + 1;

  std::vector<double> cand(static_cast<size_t>(n_cand));
  for (int i = 0; i < n_cand; ++i) cand[i] = b_min + i * stride;
  // Every candidate's chains, once; the waveform inside runs serially per candidate.
  std::vector<Chains> chains(static_cast<size_t>(n_cand));
  std::exception_ptr error;  // an exception must not leave the parallel region
#pragma omp parallel
  {
    std::vector<double> f;  // one waveform buffer per thread
#pragma omp for schedule(dynamic, 1)
    for (int i = 0; i < n_cand; ++i) {
      try {
        chains[i] = base_chains_into(cand[i], p, f);
      } catch (...) {
#pragma omp critical(harpe_bases_error)
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);

  std::vector<bool> chosen(static_cast<size_t>(n_cand), false);
  BaseSelection sel;
  chosen[0] = true;
  sel.selection_order.push_back(cand[0]);
  std::vector<int> P = chains[0].peaks, V = chains[0].troughs;
  while (static_cast<int>(sel.selection_order.size()) < n_heads) {
    int best = -1;
    long best_pairs = -1;
    double best_mean = std::numeric_limits<double>::infinity();
    for (int i = 0; i < n_cand; ++i) {
      if (chosen[i]) continue;
      const Cover c1 = cover(chains[i].peaks, V, p.cover_radius);
      const Cover c2 = cover(P, chains[i].troughs, p.cover_radius);
      const long pairs = c1.pairs + c2.pairs;
      const double mean = pairs > 0 ? static_cast<double>(c1.sum_sq + c2.sum_sq) / pairs
                                    : std::numeric_limits<double>::infinity();
      if (pairs > best_pairs || (pairs == best_pairs && mean < best_mean)) {
        best = i;
        best_pairs = pairs;
        best_mean = mean;
      }
    }
    chosen[best] = true;
    sel.selection_order.push_back(cand[best]);
    P = merged(P, chains[best].peaks);
    V = merged(V, chains[best].troughs);
    std::vector<int> P_left = without(P, V);  // both tested against the lists before removal
    V = without(V, P);
    P = std::move(P_left);
  }
  sel.bases = sel.selection_order;
  std::sort(sel.bases.begin(), sel.bases.end());
  return sel;
}

BaseSelection select_bases(BaseStrategy strategy, int n_heads, double b_min, double b_max,
                           double stride, const PeakValleyParams& p) {
  if (strategy == BaseStrategy::peak_valley)
    return peak_valley_bases(n_heads, b_min, b_max, stride, p);
  BaseSelection sel;
  sel.bases = uniform_bases(n_heads, b_min, b_max, strategy == BaseStrategy::uniform_desc);
  sel.selection_order = sel.bases;
  return sel;
}

}  // namespace harpe::rope
