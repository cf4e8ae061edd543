#include "eval/perplexity.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace harpe::eval {

std::vector<PplWindow> sliding_windows(int64_t n, int64_t window, int64_t stride) {
  check(window >= 2, "perplexity: window must be >= 2 tokens, got ", window);
  check(stride >= 1 && stride < window, "perplexity: stride must be in [1, window-1] (window ",
        window, "), got ", stride);
  check(n >= 0, "perplexity: negative document length ", n);
  std::vector<PplWindow> out;
  if (n < 2) return out;
  int64_t prev_end = std::min(window, n);
  out.push_back({0, prev_end, 1});
  while (prev_end < n) {
    const int64_t end = std::min(prev_end + stride, n);
    const int64_t begin = std::max<int64_t>(0, end - window);
    out.push_back({begin, end, prev_end});
    prev_end = end;
  }
  return out;
}

double NllSum::mean() const {
  check(tokens > 0, "perplexity: no scored tokens");
  return nll / static_cast<double>(tokens);
}

double NllSum::perplexity() const { return std::exp(mean()); }

NllSum sliding_window_nll(const std::vector<int32_t>& tokens, int64_t window, int64_t stride,
                          const WindowScorer& score) {
  check(static_cast<bool>(score), "perplexity: no scorer given");
  NllSum total;
  for (const PplWindow& w : sliding_windows(static_cast<int64_t>(tokens.size()), window, stride)) {
    NllSum part = score(tokens.data() + w.begin, w.end - w.begin, w.score_from - w.begin);
    check(part.tokens == w.end - w.score_from, "perplexity: the scorer reported ", part.tokens,
          " tokens for a window that scores ", w.end - w.score_from);
    total.add(part);
  }
  return total;
}

}  // namespace harpe::eval
