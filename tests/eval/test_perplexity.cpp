// Sliding-window perplexity bookkeeping: coverage (each token 1..n-1 scored exactly once), context
// lengths, a worked example, and the NLL aggregation against a hand-computed perplexity.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "eval/perplexity.h"

namespace harpe::eval {
namespace {

TEST(Perplexity, WorkedExample) {
  // n = 10, L = 4, S = 2: [0,4) scores 1..3; then ends advance by 2.
  const auto w = sliding_windows(10, 4, 2);
  ASSERT_EQ(w.size(), 4u);
  const int64_t expect[4][3] = {{0, 4, 1}, {2, 6, 4}, {4, 8, 6}, {6, 10, 8}};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(w[i].begin, expect[i][0]);
    EXPECT_EQ(w[i].end, expect[i][1]);
    EXPECT_EQ(w[i].score_from, expect[i][2]);
  }
  // Last window shorter stride: n = 9 -> [0,4) [2,6) [4,8) [5,9) scoring 8 only.
  const auto v = sliding_windows(9, 4, 2);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[3].begin, 5);
  EXPECT_EQ(v[3].end, 9);
  EXPECT_EQ(v[3].score_from, 8);
  // A document shorter than the window: one window scoring 1..n-1.
  const auto one = sliding_windows(3, 8, 4);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].end, 3);
  EXPECT_EQ(one[0].score_from, 1);
  EXPECT_TRUE(sliding_windows(1, 8, 4).empty());
  EXPECT_TRUE(sliding_windows(0, 8, 4).empty());
}

TEST(Perplexity, EveryTokenScoredOnceWithTheContextTheWindowAllows) {
  for (int64_t n : {2, 3, 17, 100, 257}) {
    for (int64_t L : {2, 5, 16, 64}) {
      for (int64_t S : {1, 2, 3, 7, 15, 63}) {
        if (S >= L) continue;
        SCOPED_TRACE(std::to_string(n) + " " + std::to_string(L) + " " + std::to_string(S));
        std::vector<int> scored(static_cast<size_t>(n), 0);
        int64_t prev_end = 0;
        const auto ws = sliding_windows(n, L, S);
        for (size_t i = 0; i < ws.size(); ++i) {
          const PplWindow& w = ws[i];
          ASSERT_LE(w.end - w.begin, L);
          ASSERT_GT(w.score_from, w.begin);
          ASSERT_EQ(w.score_from, i == 0 ? 1 : prev_end);
          ASSERT_LE(w.end - w.score_from, i == 0 ? L - 1 : S);
          for (int64_t t = w.score_from; t < w.end; ++t) {
            ++scored[static_cast<size_t>(t)];
            const int64_t context = t - w.begin;  // tokens the model sees before t
            if (i == 0)
              ASSERT_EQ(context, t);
            else
              ASSERT_GE(context, std::min(t, L - S));  // at least L - S, or all before t
            ASSERT_LE(context, L - 1);
          }
          // A window is as long as it can be: L, or everything from the start.
          ASSERT_EQ(w.end - w.begin, std::min(L, w.end));
          prev_end = w.end;
        }
        EXPECT_EQ(prev_end, n);
        EXPECT_EQ(scored[0], 0);
        for (int64_t t = 1; t < n; ++t) ASSERT_EQ(scored[static_cast<size_t>(t)], 1) << t;
      }
    }
  }
}

TEST(Perplexity, BadArgumentsAreErrors) {
  EXPECT_THROW(sliding_windows(10, 4, 4), Error);  // stride must be < window
  EXPECT_THROW(sliding_windows(10, 4, 0), Error);
  EXPECT_THROW(sliding_windows(10, 1, 1), Error);
  NllSum empty;
  EXPECT_THROW(empty.perplexity(), Error);
}

TEST(Perplexity, AggregationMatchesHandComputedPerplexity) {
  // A fake model whose NLL of token t is 0.1 * (token value) + 0.01 * min(context, 5): the total
  // depends on how much context each token got, which the windows determine.
  std::vector<int32_t> tokens;
  for (int i = 0; i < 50; ++i) tokens.push_back((i * 7) % 11);
  const int64_t L = 8, S = 3;
  auto scorer = [](const int32_t* win, int64_t len, int64_t first) {
    NllSum s;
    for (int64_t j = first; j < len; ++j) s.add(0.1 * win[j] + 0.01 * std::min<int64_t>(j, 5), 1);
    return s;
  };
  const NllSum total = sliding_window_nll(tokens, L, S, scorer);
  // By hand: token t's context is t for t < L, else L - S + ((t - L) % S)... computed directly
  // from the window rule: windows end at L, L+S, L+2S, ...
  double expect = 0;
  for (int64_t t = 1; t < 50; ++t) {
    int64_t end = L;
    while (end <= t) end = std::min<int64_t>(end + S, 50);
    const int64_t begin = std::max<int64_t>(0, end - L);
    expect += 0.1 * tokens[static_cast<size_t>(t)] + 0.01 * std::min<int64_t>(t - begin, 5);
  }
  EXPECT_EQ(total.tokens, 49);
  EXPECT_NEAR(total.nll, expect, 1e-9);
  EXPECT_NEAR(total.perplexity(), std::exp(expect / 49), 1e-9);
  // A uniform model over V tokens has perplexity V.
  auto uniform = [](const int32_t*, int64_t len, int64_t first) {
    NllSum s;
    s.add(static_cast<double>(len - first) * std::log(32000.0), len - first);
    return s;
  };
  EXPECT_NEAR(sliding_window_nll(tokens, 16, 4, uniform).perplexity(), 32000.0, 1e-6);
  // A scorer that miscounts is caught.
  auto wrong = [](const int32_t*, int64_t, int64_t) { return NllSum{1.0, 1}; };
  EXPECT_THROW(sliding_window_nll(tokens, 8, 3, wrong), Error);
}

}  // namespace
}  // namespace harpe::eval
