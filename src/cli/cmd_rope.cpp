// `harpe rope`: build the RoPE table of a scheme and print it (per head: equivalent base, first and
// last inverse frequency, longest wavelength), or dump it as JSON with --json.
//
// Values are taken as text and converted here, so that a malformed number or an unknown flag is
// reported as a one-line harpe::Error naming the flag, like every other bad input.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/error.h"
#include "rope/rope_table.h"

namespace {

using harpe::check;
using harpe::fail;
namespace rope = harpe::rope;

struct RopeArgs {
  std::string scheme = "rope";
  std::string heads = "8";
  std::string kv_heads = "0";
  std::string head_dim = "64";
  std::string rot_dims = "0";
  std::string layout = "half";
  std::string base = "10000";
  std::string factor = "1";
  std::string original_context = "0";
  std::string seq_len = "0";
  std::string bases;
  std::string beta_fast = "32";
  std::string beta_slow = "1";
  std::string low_freq_factor = "1";
  std::string high_freq_factor = "4";
  std::string attention_factor = "0";
  bool json = false;
};

double to_double(const std::string& flag, const std::string& text) {
  double v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  check(ec == std::errc() && ptr == end && std::isfinite(v), flag, ": expected a number, got '",
        text, "'");
  return v;
}

int to_int(const std::string& flag, const std::string& text) {
  int v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  check(ec == std::errc() && ptr == end, flag, ": expected an integer, got '", text, "'");
  return v;
}

std::vector<double> to_list(const std::string& flag, const std::string& text) {
  std::vector<double> out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? comma : comma - start);
    check(!item.empty(), flag, ": empty item in the list '", text, "'");
    out.push_back(to_double(flag, item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Flags that only some schemes read; giving one to another scheme is almost surely a mistake.
void check_flag_applies(const CLI::App& cmd, const char* flag, rope::Scheme scheme,
                        std::initializer_list<rope::Scheme> users) {
  if (cmd.count(flag) == 0) return;
  for (rope::Scheme s : users)
    if (s == scheme) return;
  fail(flag, " does not apply to scheme '", rope::scheme_name(scheme), "'");
}

void run(const CLI::App& cmd, const RopeArgs& a) {
  const std::vector<std::string> extras = cmd.remaining();
  check(extras.empty(), "rope: unexpected argument '", extras.empty() ? "" : extras.front(),
        "' (see harpe rope --help)");

  using S = rope::Scheme;
  rope::RopeSpec spec;
  spec.scheme = rope::parse_scheme(a.scheme);
  const S sc = spec.scheme;
  check_flag_applies(cmd, "--base", sc, {S::rope, S::pi, S::ntk, S::dynamic, S::yarn, S::llama3});
  check_flag_applies(cmd, "--factor", sc, {S::pi, S::ntk, S::dynamic, S::yarn, S::llama3});
  check_flag_applies(cmd, "--original-context", sc, {S::dynamic, S::yarn, S::llama3});
  check_flag_applies(cmd, "--seq-len", sc, {S::dynamic});
  check_flag_applies(cmd, "--bases", sc, {S::harpe});
  check_flag_applies(cmd, "--beta-fast", sc, {S::yarn});
  check_flag_applies(cmd, "--beta-slow", sc, {S::yarn});
  check_flag_applies(cmd, "--attention-factor", sc, {S::yarn});
  check_flag_applies(cmd, "--low-freq-factor", sc, {S::llama3});
  check_flag_applies(cmd, "--high-freq-factor", sc, {S::llama3});
  check(sc != S::harpe || cmd.count("--bases") > 0, "--bases is required for scheme 'harpe'");

  spec.base = to_double("--base", a.base);
  spec.factor = to_double("--factor", a.factor);
  spec.original_context = to_int("--original-context", a.original_context);
  spec.beta_fast = to_double("--beta-fast", a.beta_fast);
  spec.beta_slow = to_double("--beta-slow", a.beta_slow);
  spec.attention_factor = to_double("--attention-factor", a.attention_factor);
  spec.low_freq_factor = to_double("--low-freq-factor", a.low_freq_factor);
  spec.high_freq_factor = to_double("--high-freq-factor", a.high_freq_factor);
  if (!a.bases.empty() || cmd.count("--bases") > 0) spec.bases = to_list("--bases", a.bases);

  rope::TableShape shape;
  shape.n_heads = to_int("--heads", a.heads);
  check(shape.n_heads > 0, "--heads must be > 0, got ", shape.n_heads);
  const int kv = to_int("--kv-heads", a.kv_heads);
  check(kv >= 0, "--kv-heads must be >= 0 (0 means --heads), got ", kv);
  shape.n_kv_heads = kv == 0 ? shape.n_heads : kv;
  shape.head_dim = to_int("--head-dim", a.head_dim);
  shape.rot_dims = to_int("--rot-dims", a.rot_dims);
  shape.layout = rope::parse_layout(a.layout);
  const int seq_len = to_int("--seq-len", a.seq_len);

  const rope::RopeTable t = rope::build_table(spec, shape, seq_len);
  const int P = t.pairs();

  if (a.json) {
    nlohmann::json j;
    j["scheme"] = rope::scheme_name(sc);
    j["attn_factor"] = static_cast<double>(t.attn_factor);
    j["layout"] = rope::layout_name(t.layout);
    j["n_heads"] = t.n_heads;
    j["n_kv_heads"] = t.n_kv_heads;
    j["head_dim"] = t.head_dim;
    j["rot_dims"] = t.rot_dims;
    nlohmann::json rows = nlohmann::json::array();
    for (int h = 0; h < t.n_heads; ++h) {
      std::vector<double> row(t.head(h), t.head(h) + P);
      rows.push_back(row);
    }
    j["inv_freq"] = std::move(rows);
    std::printf("%s\n", j.dump().c_str());
    return;
  }

  std::printf(
      "scheme %s  layout %s  heads %d  kv_heads %d  head_dim %d  rot_dims %d  "
      "attn_factor %.6g\n",
      std::string(rope::scheme_name(sc)).c_str(), std::string(rope::layout_name(t.layout)).c_str(),
      t.n_heads, t.n_kv_heads, t.head_dim, t.rot_dims, static_cast<double>(t.attn_factor));
  std::printf("%5s %5s %14s %14s %14s %14s\n", "head", "kv", "base_equiv", "inv_first", "inv_last",
              "max_wavelen");
  for (int h = 0; h < t.n_heads; ++h)
    std::printf("%5d %5d %14.6g %14.6g %14.6g %14.6g\n", h, h / t.group_size(),
                rope::equivalent_base(t, h), static_cast<double>(t.head(h)[0]),
                static_cast<double>(t.head(h)[P - 1]), rope::longest_wavelength(t, h));
}

void setup(CLI::App& parent) {
  CLI::App* cmd = parent.add_subcommand(
      "rope", "Build and print the RoPE frequency table of a position scheme (per head)");
  auto args = std::make_shared<RopeArgs>();
  cmd->add_option("--scheme", args->scheme, "Scheme: " + rope::scheme_list())
      ->capture_default_str();
  cmd->add_option("--heads", args->heads, "Query heads")->type_name("INT")->capture_default_str();
  cmd->add_option("--kv-heads", args->kv_heads, "Key/value heads (GQA); 0 = --heads")
      ->type_name("INT")
      ->capture_default_str();
  cmd->add_option("--head-dim", args->head_dim, "Head dimension (even)")
      ->type_name("INT")
      ->capture_default_str();
  cmd->add_option("--rot-dims", args->rot_dims,
                  "Rotated dims per head (even, <= head dim); 0 = all")
      ->type_name("INT")
      ->capture_default_str();
  cmd->add_option("--layout", args->layout,
                  "Pair layout: half (HF rotate_half: i, i+r/2) or interleaved (Meta: 2i, 2i+1)")
      ->capture_default_str();
  cmd->add_option("--base", args->base, "RoPE base theta (ABF = rope with a larger base)")
      ->type_name("FLOAT")
      ->capture_default_str();
  cmd->add_option("--factor", args->factor, "Scale factor s >= 1 (pi, ntk, dynamic, yarn, llama3)")
      ->type_name("FLOAT")
      ->capture_default_str();
  cmd->add_option("--original-context", args->original_context,
                  "Pretraining context (dynamic, yarn, llama3)")
      ->type_name("INT")
      ->capture_default_str();
  cmd->add_option("--seq-len", args->seq_len,
                  "Current sequence length (dynamic: base grows once it exceeds the original)")
      ->type_name("INT")
      ->capture_default_str();
  cmd->add_option("--bases", args->bases,
                  "harpe: comma-separated bases, one per KV head (or per query head, constant "
                  "within each KV group)")
      ->type_name("B1,B2,...");
  cmd->add_option("--beta-fast", args->beta_fast, "yarn: rotations that mark the high-freq edge")
      ->type_name("FLOAT")
      ->capture_default_str();
  cmd->add_option("--beta-slow", args->beta_slow, "yarn: rotations that mark the low-freq edge")
      ->type_name("FLOAT")
      ->capture_default_str();
  cmd->add_option("--attention-factor", args->attention_factor,
                  "yarn: cos/sin scale; 0 = default 0.1*ln(s)+1")
      ->type_name("FLOAT")
      ->capture_default_str();
  cmd->add_option("--low-freq-factor", args->low_freq_factor, "llama3: low_freq_factor")
      ->type_name("FLOAT")
      ->capture_default_str();
  cmd->add_option("--high-freq-factor", args->high_freq_factor, "llama3: high_freq_factor")
      ->type_name("FLOAT")
      ->capture_default_str();
  cmd->add_flag("--json", args->json,
                "Print {scheme, attn_factor, layout, n_heads, n_kv_heads, head_dim, rot_dims, "
                "inv_freq: [[...] per head]} on one line");
  // Keep unknown arguments here (not passed up to `harpe`) so run() reports them as harpe errors.
  cmd->allow_extras();
  cmd->fallthrough(false);
  cmd->callback([cmd, args] { run(*cmd, *args); });
}

}  // namespace

HARPE_COMMAND("", setup);
