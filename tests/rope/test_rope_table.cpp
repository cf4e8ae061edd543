// RoPE tables: every scheme against numbers worked out by hand from the published formulas
// (r = 8, base 1e4, so rope's row is 1, 0.1, 0.01, 0.001), closed-form properties on realistic
// sizes, validation errors, and the `harpe rope` command.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numbers>
#include <string>
#include <vector>

#include "core/error.h"
#include "rope/rope_table.h"

namespace {

using namespace harpe::rope;

TableShape shape(int heads, int kv, int head_dim, int rot = 0) {
  TableShape s;
  s.n_heads = heads;
  s.n_kv_heads = kv;
  s.head_dim = head_dim;
  s.rot_dims = rot;
  return s;
}

RopeSpec spec(Scheme scheme, double base = 10000, double factor = 1, int orig = 0) {
  RopeSpec s;
  s.scheme = scheme;
  s.base = base;
  s.factor = factor;
  s.original_context = orig;
  return s;
}

// Every head row of t equals `expected` to float precision.
void expect_rows(const RopeTable& t, const std::vector<double>& expected) {
  ASSERT_EQ(t.pairs(), static_cast<int>(expected.size()));
  for (int h = 0; h < t.n_heads; ++h)
    for (int i = 0; i < t.pairs(); ++i)
      EXPECT_NEAR(t.head(h)[i], expected[static_cast<size_t>(i)], 2e-7 * expected[i])
          << "head " << h << " pair " << i;
}

double rope_inv(double base, int i, int r) { return std::pow(base, -2.0 * i / r); }

TEST(RopeTable, RopeByHand) {
  const RopeTable t = build_table(spec(Scheme::rope), shape(2, 2, 8));
  EXPECT_EQ(t.rot_dims, 8);
  EXPECT_EQ(t.head_dim, 8);
  EXPECT_EQ(t.attn_factor, 1.0f);
  expect_rows(t, {1.0, 0.1, 0.01, 0.001});
}

TEST(RopeTable, PartialRotaryUsesRotDims) {
  // r = 4: inv[i] = 1e4^(-2i/4) = 1, 0.01
  const RopeTable t = build_table(spec(Scheme::rope), shape(1, 1, 8, 4));
  EXPECT_EQ(t.rot_dims, 4);
  expect_rows(t, {1.0, 0.01});
}

TEST(RopeTable, PiByHandAndIsRopeOverFactor) {
  expect_rows(build_table(spec(Scheme::pi, 10000, 4), shape(1, 1, 8)),
              {0.25, 0.025, 0.0025, 0.00025});
  const RopeTable rope = build_table(spec(Scheme::rope, 5e5), shape(4, 2, 128));
  const RopeTable pi = build_table(spec(Scheme::pi, 5e5, 8), shape(4, 2, 128));
  for (size_t k = 0; k < rope.inv_freq.size(); ++k)  // /8 is exact in binary
    EXPECT_EQ(pi.inv_freq[k], rope.inv_freq[k] / 8.0f) << k;
}

TEST(RopeTable, NtkByHandAndClosedForm) {
  // b' = 1e4 * 4^(8/6); inv[i] = b'^(-i/4) = 10^-i * 4^(-i/3)
  expect_rows(build_table(spec(Scheme::ntk, 10000, 4), shape(1, 1, 8)),
              {1.0, 0.06299605249474366, 0.003968502629920499, 0.00025});
  // r = 128, s = 8: first pair untouched, last pair = b'^(-(r-2)/r) = rope's last / s.
  const RopeTable t = build_table(spec(Scheme::ntk, 10000, 8), shape(1, 1, 128));
  const double b_prime = 10000 * std::pow(8.0, 128.0 / 126.0);
  EXPECT_EQ(t.head(0)[0], 1.0f);
  EXPECT_NEAR(t.head(0)[63], std::pow(b_prime, -126.0 / 128.0), 1e-7 * t.head(0)[63]);
  EXPECT_NEAR(t.head(0)[63], rope_inv(10000, 63, 128) / 8, 1e-7 * t.head(0)[63]);
}

TEST(RopeTable, DynamicEqualsRopeUpToOriginalContext) {
  const RopeTable rope = build_table(spec(Scheme::rope), shape(2, 1, 64));
  for (int len : {0, 1, 1024, 2048}) {
    const RopeTable d = build_table(spec(Scheme::dynamic, 10000, 4, 2048), shape(2, 1, 64), len);
    EXPECT_EQ(d.inv_freq, rope.inv_freq) << "seq_len " << len;
  }
}

TEST(RopeTable, DynamicByHandAtLongerLength) {
  // L = 4096, orig 2048, s = 4: b' = 1e4 * (4 * 2 - 3)^(8/6) = 1e4 * 5^(4/3)
  const RopeTable t = build_table(spec(Scheme::dynamic, 10000, 4, 2048), shape(1, 1, 8), 4096);
  expect_rows(t, {1.0, 0.05848035476425732, 0.0034199518933533944, 0.0002});
  // In general dynamic(L) is static NTK with the effective factor s * L / orig - (s - 1).
  const RopeTable d = build_table(spec(Scheme::dynamic, 10000, 4, 2048), shape(1, 1, 64), 6000);
  const RopeTable n = build_table(spec(Scheme::ntk, 10000, 4.0 * 6000 / 2048 - 3), shape(1, 1, 64));
  for (int i = 0; i < 32; ++i) EXPECT_NEAR(d.head(0)[i], n.head(0)[i], 1e-7 * n.head(0)[i]);
}

TEST(RopeTable, YarnByHand) {
  // r = 8, orig 2048: correction dims 8 ln(2048 / (2 pi n)) / (2 ln 1e4) = 1.008 (n = 32) and
  // 2.513 (n = 1) -> low 1, high 3; ramp (i - 1) / 2 clamped: 0, 0, 0.5, 1.
  const RopeTable t = build_table(spec(Scheme::yarn, 10000, 4, 2048), shape(1, 1, 8));
  expect_rows(t, {1.0, 0.1, 0.5 * 0.01 + 0.5 * 0.0025, 0.00025});
  EXPECT_NEAR(t.attn_factor, 1.138629436111989, 1e-6);  // 0.1 ln 4 + 1
}

TEST(RopeTable, YarnRegionsAndAttentionFactor) {
  // r = 128, orig 4096: correction dims 20.94 and 45.03 -> low 20, high 46.
  const RopeSpec y = spec(Scheme::yarn, 10000, 16, 4096);
  const RopeTable t = build_table(y, shape(2, 2, 128));
  for (int i = 0; i < 64; ++i) {
    const double rope = rope_inv(10000, i, 128), pi = rope / 16;
    const double f = t.head(1)[i];
    if (i <= 20)
      EXPECT_NEAR(f, rope, 2e-7 * rope) << i;  // high frequency: extrapolate (= rope)
    else if (i >= 46)
      EXPECT_NEAR(f, pi, 2e-7 * pi) << i;  // low frequency: interpolate (= pi)
    else
      EXPECT_TRUE(f > pi * (1 + 1e-6) && f < rope * (1 - 1e-6)) << i;
  }
  EXPECT_NEAR(t.attn_factor, 0.1 * std::log(16.0) + 1, 1e-6);
  RopeSpec given = y;
  given.attention_factor = 0.75;
  EXPECT_EQ(build_table(given, shape(2, 2, 128)).attn_factor, 0.75f);
  EXPECT_EQ(build_table(spec(Scheme::yarn, 10000, 1, 4096), shape(1, 1, 64)).attn_factor, 1.0f);
}

TEST(RopeTable, Llama3ByHand) {
  // orig 1024, lo 1, hi 4: wavelengths 6.3, 62.8 (< 256: keep), 628.3 (medium), 6283 (> 1024: /8).
  // medium: smooth = (1024 / 628.3185 - 1) / 3 = 0.209916; (1 - smooth) * 0.01 / 8 + smooth * 0.01
  RopeSpec s = spec(Scheme::llama3, 10000, 8, 1024);
  expect_rows(build_table(s, shape(1, 1, 8)), {1.0, 0.1, 0.003086760967011274, 0.000125});
}

TEST(RopeTable, Llama3ThreeRegions) {
  // Llama 3.1: base 5e5, s 8, orig 8192, lo 1, hi 4 -> 29 kept, 6 smoothed, 29 divided pairs.
  const RopeTable t = build_table(spec(Scheme::llama3, 500000, 8, 8192), shape(1, 1, 128));
  int keep = 0, divided = 0, smooth = 0;
  for (int i = 0; i < 64; ++i) {
    const double rope = rope_inv(500000, i, 128);
    const double wavelen = 2 * std::numbers::pi / rope;
    const double f = t.head(0)[i];
    if (wavelen < 8192.0 / 4) {
      EXPECT_NEAR(f, rope, 2e-7 * rope) << i;
      ++keep;
    } else if (wavelen > 8192.0) {
      EXPECT_NEAR(f, rope / 8, 2e-7 * rope) << i;
      ++divided;
    } else {
      const double sm = (8192.0 / wavelen - 1) / 3;
      EXPECT_NEAR(f, (1 - sm) * rope / 8 + sm * rope, 2e-7 * rope) << i;
      EXPECT_TRUE(f > rope / 8 && f < rope) << i;
      ++smooth;
    }
  }
  EXPECT_EQ(keep, 29);
  EXPECT_EQ(divided, 29);
  EXPECT_EQ(smooth, 6);
}

TEST(RopeTable, HarpeOneBasePerKvGroup) {
  RopeSpec s = spec(Scheme::harpe);
  s.bases = {100, 10000};
  const RopeTable t = build_table(s, shape(4, 2, 8));
  // 100^(-i/4) for the first K head's group, 1e4^(-i/4) for the second.
  const std::array<double, 4> b100 = {1.0, 0.31622776601683794, 0.1, 0.03162277660168379};
  const std::array<double, 4> b1e4 = {1.0, 0.1, 0.01, 0.001};
  for (int h = 0; h < 4; ++h)
    for (int i = 0; i < 4; ++i) {
      const double want = h < 2 ? b100[i] : b1e4[i];
      EXPECT_NEAR(t.head(h)[i], want, 2e-7 * want) << h << " " << i;
    }
  EXPECT_EQ(t.kv_head(0), t.head(0));
  EXPECT_EQ(t.kv_head(1), t.head(2));
  // A per-query-head list constant within each group gives the same table.
  s.bases = {100, 100, 10000, 10000};
  EXPECT_EQ(build_table(s, shape(4, 2, 8)).inv_freq, t.inv_freq);
  // Without GQA each head has its own base.
  s.bases = {100, 200, 300, 400};
  const RopeTable mha = build_table(s, shape(4, 4, 8));
  for (int h = 0; h < 4; ++h) EXPECT_NEAR(mha.head(h)[3], std::pow(100.0 * (h + 1), -0.75), 1e-7);
}

TEST(RopeTable, HarpeRejectsBadLists) {
  RopeSpec s = spec(Scheme::harpe);
  s.bases = {100, 200, 10000, 10000};  // not constant within group 0
  EXPECT_THROW(build_table(s, shape(4, 2, 8)), harpe::Error);
  s.bases = {100, 200, 300};  // neither n_kv_heads nor n_heads long
  EXPECT_THROW(build_table(s, shape(4, 2, 8)), harpe::Error);
  s.bases = {};
  EXPECT_THROW(build_table(s, shape(4, 2, 8)), harpe::Error);
  s.bases = {100, 1.0};  // base must be > 1
  EXPECT_THROW(build_table(s, shape(4, 2, 8)), harpe::Error);
  s.bases = {100, NAN};
  EXPECT_THROW(build_table(s, shape(4, 2, 8)), harpe::Error);
  try {
    s.bases = {100, 200, 10000, 10000};
    build_table(s, shape(4, 2, 8));
  } catch (const harpe::Error& e) {
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("KV group"), std::string::npos) << e.what();
  }
}

TEST(RopeTable, RejectsBadParameters) {
  const RopeSpec rope = spec(Scheme::rope);
  EXPECT_THROW(build_table(rope, shape(2, 2, 7)), harpe::Error);         // odd head dim
  EXPECT_THROW(build_table(rope, shape(2, 2, 0)), harpe::Error);         // empty head
  EXPECT_THROW(build_table(rope, shape(2, 2, 8, 10)), harpe::Error);     // rot_dims > head_dim
  EXPECT_THROW(build_table(rope, shape(2, 2, 8, 6 - 1)), harpe::Error);  // odd rot_dims
  EXPECT_THROW(build_table(rope, shape(2, 2, 8, -2)), harpe::Error);
  EXPECT_THROW(build_table(rope, shape(6, 4, 8)), harpe::Error);  // 6 % 4 != 0
  EXPECT_THROW(build_table(rope, shape(0, 1, 8)), harpe::Error);
  EXPECT_THROW(build_table(rope, shape(2, 0, 8)), harpe::Error);
  EXPECT_THROW(build_table(spec(Scheme::rope, 1.0), shape(1, 1, 8)), harpe::Error);
  EXPECT_THROW(build_table(spec(Scheme::rope, INFINITY), shape(1, 1, 8)), harpe::Error);
  EXPECT_THROW(build_table(spec(Scheme::pi, 10000, 0.5), shape(1, 1, 8)), harpe::Error);
  EXPECT_THROW(build_table(spec(Scheme::ntk, 10000, 0.5), shape(1, 1, 8)), harpe::Error);
  EXPECT_THROW(build_table(spec(Scheme::ntk, 10000, 2), shape(1, 1, 8, 2)), harpe::Error);
  EXPECT_THROW(build_table(spec(Scheme::dynamic, 10000, 2, 0), shape(1, 1, 8)), harpe::Error);
  EXPECT_THROW(build_table(spec(Scheme::dynamic, 10000, 2, 64), shape(1, 1, 8), -1), harpe::Error);
  EXPECT_THROW(build_table(spec(Scheme::yarn, 10000, 2, 0), shape(1, 1, 8)), harpe::Error);
  EXPECT_THROW(build_table(spec(Scheme::llama3, 10000, 2, 0), shape(1, 1, 8)), harpe::Error);
  RopeSpec y = spec(Scheme::yarn, 10000, 2, 2048);
  y.beta_fast = 1;
  y.beta_slow = 32;
  EXPECT_THROW(build_table(y, shape(1, 1, 8)), harpe::Error);
  y = spec(Scheme::yarn, 10000, 2, 2048);
  y.attention_factor = -1;
  EXPECT_THROW(build_table(y, shape(1, 1, 8)), harpe::Error);
  RopeSpec l = spec(Scheme::llama3, 10000, 8, 8192);
  l.low_freq_factor = 4;
  l.high_freq_factor = 1;
  EXPECT_THROW(build_table(l, shape(1, 1, 8)), harpe::Error);
  RopeSpec with_bases = spec(Scheme::rope);
  with_bases.bases = {10000};
  EXPECT_THROW(build_table(with_bases, shape(1, 1, 8)), harpe::Error);
  EXPECT_THROW(build_table(spec(static_cast<Scheme>(99)), shape(1, 1, 8)), harpe::Error);
}

TEST(RopeTable, NamesRoundTrip) {
  for (Scheme s : {Scheme::rope, Scheme::pi, Scheme::ntk, Scheme::dynamic, Scheme::yarn,
                   Scheme::llama3, Scheme::harpe}) {
    EXPECT_EQ(parse_scheme(scheme_name(s)), s);
    EXPECT_EQ(scheme_of_rope_type(rope_type_name(s), "cfg"), s);
  }
  // HF's names where they differ from ours; anything else is an error naming the file.
  EXPECT_EQ(rope_type_name(Scheme::rope), "default");
  EXPECT_EQ(rope_type_name(Scheme::pi), "linear");
  EXPECT_EQ(rope_type_name(Scheme::yarn), "yarn");
  EXPECT_THROW(scheme_of_rope_type("pi", "cfg"), harpe::Error);
  EXPECT_THROW(scheme_of_rope_type("", "cfg"), harpe::Error);
  EXPECT_THROW(parse_scheme("abf"), harpe::Error);
  EXPECT_THROW(parse_scheme(""), harpe::Error);
  EXPECT_EQ(parse_layout("half"), Layout::half_split);
  EXPECT_EQ(parse_layout(layout_name(Layout::interleaved)), Layout::interleaved);
  EXPECT_THROW(parse_layout("meta"), harpe::Error);
  EXPECT_EQ(scheme_list(), "rope|pi|ntk|dynamic|yarn|llama3|harpe");
}

TEST(RopeTable, Summaries) {
  const RopeTable t = build_table(spec(Scheme::rope, 10000), shape(2, 1, 64));
  EXPECT_NEAR(equivalent_base(t, 1), 10000, 10000 * 1e-5);
  const double longest = 2 * std::numbers::pi * std::pow(10000, 62.0 / 64);  // 47117.24
  EXPECT_NEAR(longest_wavelength(t, 0), longest, 2e-7 * longest);            // float storage
  // PI keeps the equivalent base (the 1/s cancels) but stretches every wavelength by s.
  const RopeTable p = build_table(spec(Scheme::pi, 10000, 4), shape(2, 1, 64));
  EXPECT_NEAR(equivalent_base(p, 0), 10000, 10000 * 1e-5);
  EXPECT_NEAR(longest_wavelength(p, 0), 4 * longest, 4 * 2e-7 * longest);
  EXPECT_THROW(equivalent_base(t, 2), harpe::Error);
}

TEST(RopeTable, ValidateTableCatchesInconsistency) {
  RopeSpec s = spec(Scheme::harpe);
  s.bases = {100, 10000};
  RopeTable t = build_table(s, shape(4, 2, 8));
  EXPECT_NO_THROW(validate_table(t));
  RopeTable bad = t;
  bad.inv_freq[4] = 0.5f;  // head 1 no longer equals head 0 (same KV group)
  EXPECT_THROW(validate_table(bad), harpe::Error);
  bad = t;
  bad.inv_freq.pop_back();
  EXPECT_THROW(validate_table(bad), harpe::Error);
  bad = t;
  bad.rot_dims = 10;
  EXPECT_THROW(validate_table(bad), harpe::Error);
  bad = t;
  bad.attn_factor = 0;
  EXPECT_THROW(validate_table(bad), harpe::Error);
}

// ---- `harpe rope` ----

struct CliResult {
  int status;
  std::string out;  // stdout
  std::string err;  // stderr
};

CliResult run_harpe(const std::string& args) {
  const std::string err_file = ::testing::TempDir() + "harpe_rope_stderr.txt";
  const std::string cmd = std::string(HARPE_BINARY) + " " + args + " 2>" + err_file;
  CliResult r{};
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {-1, "", "popen failed"};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (FILE* f = std::fopen(err_file.c_str(), "r")) {
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) r.err.append(buf, n);
    std::fclose(f);
  }
  return r;
}

void expect_one_line_error(const CliResult& r) {
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.err.rfind("harpe: error: ", 0), 0u) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
}

TEST(RopeCli, HarpeJson) {
  const CliResult r =
      run_harpe("rope --scheme harpe --heads 4 --kv-heads 2 --head-dim 8 --bases 100,10000 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["scheme"], "harpe");
  EXPECT_EQ(j["layout"], "half");
  EXPECT_EQ(j["attn_factor"].get<double>(), 1.0);
  ASSERT_EQ(j["inv_freq"].size(), 4u);
  ASSERT_EQ(j["inv_freq"][0].size(), 4u);
  EXPECT_NEAR(j["inv_freq"][1][1].get<double>(), 0.31622776601683794, 1e-7);
  EXPECT_NEAR(j["inv_freq"][2][3].get<double>(), 0.001, 1e-10);
}

TEST(RopeCli, YarnJsonHasAttentionFactor) {
  const CliResult r = run_harpe(
      "rope --scheme yarn --heads 2 --head-dim 8 --factor 4 --original-context 2048 "
      "--layout interleaved --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["scheme"], "yarn");
  EXPECT_EQ(j["layout"], "interleaved");
  EXPECT_NEAR(j["attn_factor"].get<double>(), 1.138629436111989, 1e-6);
  EXPECT_NEAR(j["inv_freq"][0][2].get<double>(), 0.00625, 1e-9);
}

TEST(RopeCli, TextTable) {
  const CliResult r = run_harpe("rope --scheme pi --heads 2 --head-dim 8 --factor 4");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("scheme pi"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("max_wavelen"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0.00025"), std::string::npos) << r.out;  // last inv freq
}

TEST(RopeCli, BadInputIsOneLineError) {
  expect_one_line_error(run_harpe("rope --no-such-flag 3"));
  expect_one_line_error(run_harpe("rope --base abc"));
  expect_one_line_error(run_harpe("rope --scheme nope"));
  expect_one_line_error(run_harpe("rope --head-dim 7"));
  expect_one_line_error(run_harpe("rope --scheme rope --factor 2"));
  expect_one_line_error(
      run_harpe("rope --scheme harpe --heads 4 --kv-heads 2 --bases 1e4,2e4,3e4"));
  expect_one_line_error(run_harpe("rope --scheme harpe --heads 4 --kv-heads 2 --bases 1e4,,3e4"));
  expect_one_line_error(run_harpe("rope --scheme yarn --factor 4"));  // no original context
  // NaN and infinity are refused, naming the flag, not replaced by a default.
  for (const char* args :
       {"rope --scheme pi --factor nan", "rope --scheme ntk --factor inf", "rope --base nan",
        "rope --base=-inf", "rope --scheme yarn --factor 4 --original-context 64 --beta-fast nan",
        "rope --scheme yarn --factor 4 --original-context 64 --attention-factor inf",
        "rope --scheme llama3 --factor 8 --original-context 64 --low-freq-factor nan",
        "rope --scheme harpe --heads 2 --bases 1e4,nan"}) {
    const CliResult r = run_harpe(args);
    expect_one_line_error(r);
    const std::string flag = std::string(args).substr(std::string(args).rfind("--"));
    EXPECT_NE(r.err.find(flag.substr(0, flag.find_first_of(" ="))), std::string::npos)
        << args << ": " << r.err;
  }
}

}  // namespace
