// Sliding-window perplexity bookkeeping (Press et al. 2022; the YaRN paper's evaluation): a
// document of n tokens is read in windows of at most L tokens whose ends advance by the stride S.
// Every token 1..n-1 is scored exactly once (token 0 has nothing to be predicted from), with as
// much context as the window allows: the first window scores all its tokens, each later window only
// the tokens after the previous window's end, so each of those sees at least L - S tokens before
// it.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace harpe::eval {

struct PplWindow {
  int64_t begin = 0;       // first token fed to the model
  int64_t end = 0;         // one past the last token fed (end - begin <= L)
  int64_t score_from = 0;  // tokens [score_from, end) are scored; score_from > begin
};

// Windows for a document of n tokens, window L, stride S (1 <= S < L; with S >= L a window's first
// scored token would have no context). n < 2 gives no window.
std::vector<PplWindow> sliding_windows(int64_t n, int64_t window, int64_t stride);

// Sum of negative log-likelihoods (natural log) and the number of tokens they cover.
struct NllSum {
  double nll = 0;
  int64_t tokens = 0;
  void add(double nll_sum, int64_t count) {
    nll += nll_sum;
    tokens += count;
  }
  void add(const NllSum& o) { add(o.nll, o.tokens); }
  double mean() const;        // nll / tokens
  double perplexity() const;  // exp(mean)
};

// The model's part: given the window's tokens [begin, end) of `tokens` and the offset (score_from -
// begin) of the first scored token inside the window, return the NLL sum of the scored tokens
// (token t predicted from tokens begin..t-1) and their count.
using WindowScorer =
    std::function<NllSum(const int32_t* window_tokens, int64_t window_len, int64_t first_scored)>;

// Runs the scorer over sliding_windows(tokens.size(), window, stride) and sums.
NllSum sliding_window_nll(const std::vector<int32_t>& tokens, int64_t window, int64_t stride,
                          const WindowScorer& score);

}  // namespace harpe::eval
