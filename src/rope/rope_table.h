// The seam of the whole design: every position scheme (RoPE/ABF, PI, NTK, dynamic NTK, YaRN,
// Llama 3, HARPE) is reduced to a RopeTable, built once per run and handed to the kernels. Kernels
// never know a method's name; only the builders below do.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace harpe::rope {

// How the rotary pairs are laid out inside one head vector.
//   half_split:  pair i = (x[i], x[i + rot/2])   (HF transformers, rotate_half)
//   interleaved: pair i = (x[2i], x[2i + 1])     (Meta's original Llama code)
enum class Layout { half_split, interleaved };

struct RopeTable {
  int n_heads = 0;     // query heads
  int n_kv_heads = 0;  // key/value heads (GQA); n_heads % n_kv_heads == 0
  int head_dim = 0;
  int rot_dims = 0;  // rotated dims per head, even, <= head_dim; the rest pass through
  Layout layout = Layout::half_split;
  // [n_heads][rot_dims/2] inverse frequencies, angle of pair i at position p = p * inv_freq[h][i].
  // Rows are equal within a KV group (one K head serves n_heads/n_kv_heads Q heads).
  std::vector<float> inv_freq;
  float attn_factor = 1.0f;  // scales cos/sin (YaRN's mscale); 1 for every other scheme

  int pairs() const { return rot_dims / 2; }
  int group_size() const { return n_heads / n_kv_heads; }
  const float* head(int h) const { return inv_freq.data() + static_cast<size_t>(h) * pairs(); }
  // The row used for K head g: that of the first Q head of its group.
  const float* kv_head(int g) const { return head(g * group_size()); }
};

enum class Scheme { rope, pi, ntk, dynamic, yarn, llama3, harpe };

// A method and its parameters: what config.json records so a checkpoint rebuilds its table.
struct RopeSpec {
  Scheme scheme = Scheme::rope;
  double base = 10000.0;          // rope_theta (ABF = rope with a larger base)
  double factor = 1.0;            // s: pi, ntk, dynamic, yarn, llama3
  int original_context = 0;       // pretraining context: dynamic, yarn, llama3
  double beta_fast = 32.0;        // yarn
  double beta_slow = 1.0;         // yarn
  double attention_factor = 0;    // yarn: 0 means the default 0.1 * ln(s) + 1
  double low_freq_factor = 1.0;   // llama3
  double high_freq_factor = 4.0;  // llama3
  // harpe: one base per KV head (length n_kv_heads), or per query head (length n_heads) provided
  // it is constant within each KV group.
  std::vector<double> bases;
};

struct TableShape {
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int rot_dims = 0;  // 0 means head_dim
  Layout layout = Layout::half_split;
};

// Builds the table. seq_len matters only for `dynamic` (HF recomputes the base from it).
// Throws harpe::Error with a one-line message on invalid parameters.
RopeTable build_table(const RopeSpec& spec, const TableShape& shape, int seq_len = 0);

std::string_view scheme_name(Scheme s);
Scheme parse_scheme(std::string_view name);  // throws on an unknown name
std::string_view layout_name(Layout l);
Layout parse_layout(std::string_view name);  // "half" / "half_split" / "interleaved"

// "rope|pi|ntk|dynamic|yarn|llama3|harpe": for help texts and error messages.
std::string scheme_list();

// Hugging Face config.json's rope_scaling.rope_type of each scheme ("default" for plain RoPE):
// the one mapping the config reader and writer both use.
std::string_view rope_type_name(Scheme s);
// The scheme of a rope_type; throws naming `where` and the known types when there is none.
Scheme scheme_of_rope_type(std::string_view type, std::string_view where);

// Throws harpe::Error unless the table is self-consistent (shape, sizes, finite positive
// frequencies, rows equal within each KV group). Kernels call it before touching memory.
void validate_table(const RopeTable& table);

// Per-row summaries, for printing. The equivalent base fits inv[i] = c * b^(-2i/r) through the
// first and last pair (exact for rope/pi/ntk/dynamic/harpe, a geometric average for yarn/llama3);
// a single-pair table has no defined base and reports 0.
double equivalent_base(const RopeTable& table, int h);
// 2*pi / min_i inv[h][i]: the longest period, in tokens, among head h's pairs.
double longest_wavelength(const RopeTable& table, int h);

// Self-Extend (Jin et al. 2024) position policy for inference; not a new frequency table.
// For query i and key j (i >= j): if i - j < window the pair uses the ordinary positions (i, j);
// otherwise grouped positions: key j / group, query i / group + window - window / group.
// window == 0 means identity (no Self-Extend).
struct PositionMap {
  int window = 0;
  int group = 1;
  bool self_extend() const { return window > 0; }
  bool neighbour(int i, int j) const { return !self_extend() || i - j < window; }
  int grouped_key(int j) const { return j / group; }
  int grouped_query(int i) const { return i / group + window - window / group; }
};

// The one parser of Self-Extend's "W,G" (neighbour window, group size; W >= G >= 1): "" or "none"
// is the identity map. Errors are one line naming `flag`.
PositionMap parse_position_map(std::string_view text, std::string_view flag = "--self-extend");

}  // namespace harpe::rope
