#include "eval/ruler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string_view>

#include "core/error.h"
#include "eval/rng.h"
#include "eval/words.h"

namespace harpe::eval {

const char* const kNoiseFiller =
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";

namespace {

// ---------------------------------------------------------------- task table (RULER's yaml)

const std::map<std::string, NiahSpec>& niah_table() {
  using H = Haystack;
  using K = NeedleKind;
  static const std::map<std::string, NiahSpec> t = {
      {"niah_single_1", {H::noise, K::words, K::numbers, 1, 1, 1}},
      {"niah_single_2", {H::essay, K::words, K::numbers, 1, 1, 1}},
      {"niah_single_3", {H::essay, K::words, K::uuids, 1, 1, 1}},
      {"niah_multikey_1", {H::essay, K::words, K::numbers, 4, 1, 1}},
      {"niah_multikey_2", {H::needle, K::words, K::numbers, 1, 1, 1}},
      {"niah_multikey_3", {H::needle, K::uuids, K::uuids, 1, 1, 1}},
      {"niah_multivalue", {H::essay, K::words, K::numbers, 1, 4, 1}},
      {"niah_multiquery", {H::essay, K::words, K::numbers, 1, 1, 4}},
  };
  return t;
}

// ---------------------------------------------------------------- random needles

std::string random_number(Rng& rng) {  // 7 digits, as RULER's generate_random_number
  return std::to_string(rng.uniform(1000000, 9999999));
}

std::string random_uuid4(Rng& rng) {
  uint64_t hi = rng.next(), lo = rng.next();
  hi = (hi & ~0xF000ULL) | 0x4000ULL;                // version 4 in bits 12..15 of time_hi
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | (1ULL << 63);  // variant 10xx
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

std::string random_word_key(Rng& rng) {
  const auto& a = adjectives();
  const auto& n = nouns();
  std::string key(a[static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(a.size()) - 1))]);
  key += '-';
  key += n[static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(n.size()) - 1))];
  return key;
}

std::string random_needle(NeedleKind kind, Rng& rng) {
  switch (kind) {
    case NeedleKind::numbers:
      return random_number(rng);
    case NeedleKind::uuids:
      return random_uuid4(rng);
    case NeedleKind::words:
      return random_word_key(rng);
  }
  return {};
}

const char* kind_plural(NeedleKind kind) {
  switch (kind) {
    case NeedleKind::numbers:
      return "numbers";
    case NeedleKind::uuids:
      return "uuids";
    case NeedleKind::words:
      return "words";
  }
  return "";
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
  return s;
}

// ---------------------------------------------------------------- sizing

// One candidate sample at a given haystack size (units).
struct Built {
  std::string input;
  std::vector<std::string> outputs;
  std::vector<std::string> keys, queries;
  std::vector<double> depths;
};

using Builder = std::function<Built(int64_t units)>;

// Largest units in [min_units, max_units] whose sample fits: count(input + " " + answers) +
// tokens_to_generate <= length (RULER's sizing rule). Doubling, then bisection; only sizes that
// were checked to fit are kept, so the result fits even when the count is not quite monotone.
// When even min_units does not fit: an error, or (allow_over) the min_units sample.
TaskSample fit_sample(const std::string& task, int64_t length, int index, int ttg,
                      int64_t min_units, int64_t max_units, const Builder& build,
                      const TokenCounter& count, bool allow_over = false) {
  auto budget = [&](const Built& b) { return count(b.input + " " + join(b.outputs, " ")) + ttg; };
  Built best = build(min_units);
  int64_t need = budget(best);
  if (need > length && !allow_over) {
    std::ostringstream msg;
    msg << "task " << task << ": length " << length << " is too small (the smallest sample needs "
        << need << " tokens with tokens_to_generate " << ttg << ")";
    throw LengthTooSmall(msg.str());
  }
  int64_t lo = min_units;                        // fits
  int64_t hi = need <= length ? -1 : min_units;  // does not fit (or -1: unknown)
  int64_t step = 1;
  while (hi < 0) {  // grow until a size does not fit
    int64_t cand = std::min(max_units, lo + step);
    if (cand == lo) break;  // max_units reached and fits
    Built b = build(cand);
    if (budget(b) <= length) {
      lo = cand;
      best = std::move(b);
      step *= 2;
    } else {
      hi = cand;
    }
  }
  while (hi > 0 && hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    Built b = build(mid);
    if (budget(b) <= length) {
      lo = mid;
      best = std::move(b);
    } else {
      hi = mid;
    }
  }
  TaskSample s;
  s.task = task;
  s.length = length;
  s.index = index;
  s.tokens_to_generate = ttg;
  s.haystack_units = lo;
  s.prompt_tokens = count(best.input);
  s.budget_tokens = budget(best);
  s.input = std::move(best.input);
  s.outputs = std::move(best.outputs);
  s.keys = std::move(best.keys);
  s.queries = std::move(best.queries);
  s.depths = std::move(best.depths);
  return s;
}

uint64_t sample_seed(uint64_t seed, const std::string& task, int64_t length, int index) {
  uint64_t h = mix64(seed ^ hash_string(task));
  h = mix64(h ^ static_cast<uint64_t>(length));
  return mix64(h ^ static_cast<uint64_t>(index));
}

// ---------------------------------------------------------------- essay text

std::vector<std::string> split_whitespace(const std::string& text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t j = i;
    while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    if (j > i) out.emplace_back(text, i, j - i);
    i = j;
  }
  return out;
}

bool ends_sentence(const std::string& w) {
  size_t e = w.size();
  while (e > 0 && (w[e - 1] == '"' || w[e - 1] == '\'' || w[e - 1] == ')' || w[e - 1] == ']')) --e;
  return e > 0 && (w[e - 1] == '.' || w[e - 1] == '!' || w[e - 1] == '?');
}

// The first n words of the essay (cycled), cut into sentences after words ending in . ! or ?.
std::vector<std::string> essay_sentences(const std::vector<std::string>& words, int64_t n) {
  std::vector<std::string> sents;
  std::string cur;
  for (int64_t i = 0; i < n; ++i) {
    const std::string& w = words[static_cast<size_t>(i) % words.size()];
    if (!cur.empty()) cur += ' ';
    cur += w;
    if (ends_sentence(w)) sents.push_back(std::move(cur)), cur.clear();
  }
  if (!cur.empty()) sents.push_back(std::move(cur));
  return sents;
}

// RULER's DEPTHS: round(linspace(0, 100, 40)).
std::vector<int> ruler_depths() {
  std::vector<int> d;
  for (int i = 0; i < 40; ++i) d.push_back(static_cast<int>(std::lround(100.0 * i / 39.0)));
  return d;
}

// Joins pieces with sep; needle pieces' start offsets are recorded as depths (0..1).
struct Assembler {
  std::string text;
  std::vector<size_t> needle_offsets;
  void add(const std::string& piece, const std::string& sep, bool is_needle) {
    if (piece.empty()) return;
    if (!text.empty()) text += sep;
    if (is_needle) needle_offsets.push_back(text.size());
    text += piece;
  }
  std::vector<double> depths() const {
    std::vector<double> d;
    for (size_t off : needle_offsets)
      d.push_back(text.empty() ? 0.0 : static_cast<double>(off) / static_cast<double>(text.size()));
    return d;
  }
};

// ---------------------------------------------------------------- NIAH

struct NiahDraw {  // everything random that does not depend on the haystack size
  std::vector<std::string> keys;
  std::vector<std::vector<std::string>> values;
  std::vector<std::string> needles;  // shuffled
  std::vector<std::string> queries, answers;
};

NiahDraw draw_niah(const NiahSpec& spec, Rng& rng) {
  NiahDraw d;
  const int num_keys = std::max(spec.num_keys, spec.num_queries);
  std::set<std::string> used;
  for (int k = 0; k < num_keys; ++k) {
    std::string key;
    do key = random_needle(spec.key, rng);
    while (!used.insert(key).second);
    d.keys.push_back(key);
    std::vector<std::string> vals;
    for (int v = 0; v < spec.num_values; ++v) {
      vals.push_back(random_needle(spec.value, rng));
      d.needles.push_back(niah_needle(spec.value, key, vals.back()));
    }
    d.values.push_back(vals);
  }
  rng.shuffle(d.needles);
  for (int64_t i : rng.sample(num_keys, spec.num_queries)) {
    d.queries.push_back(d.keys[static_cast<size_t>(i)]);
    for (const auto& v : d.values[static_cast<size_t>(i)]) d.answers.push_back(v);
  }
  return d;
}

// RULER's niah template + answer prefix; singular wording when one value is asked for.
std::string niah_prompt(const NiahSpec& spec, const std::string& context,
                        const std::vector<std::string>& queries) {
  std::string query;
  if (queries.size() == 1) {
    query = queries[0];
  } else {
    for (size_t i = 0; i + 1 < queries.size(); ++i) query += queries[i] + ", ";
    query += "and " + queries.back();
  }
  std::string type = kind_plural(spec.value);
  if (spec.num_queries * spec.num_values == 1) {
    type.pop_back();
    return "A special magic " + type +
           " is hidden within the following text. Make sure to memorize it. I will quiz you "
           "about the " +
           type + " afterwards.\n" + context + "\nWhat is the special magic " + type + " for " +
           query + " mentioned in the provided text? The special magic " + type + " for " + query +
           " mentioned in the provided text is";
  }
  return "Some special magic " + type +
         " are hidden within the following text. Make sure to memorize it. I will quiz you about "
         "the " +
         type + " afterwards.\n" + context + "\nWhat are all the special magic " + type + " for " +
         query + " mentioned in the provided text? The special magic " + type + " for " + query +
         " mentioned in the provided text are";
}

// Builds a NIAH sample of `units` haystack units. fixed_depth >= 0 puts the (single) needle at that
// percentage of the haystack instead of RULER's random depths.
Built build_niah(const NiahSpec& spec, const std::vector<std::string>& essay_words, int64_t units,
                 uint64_t seed, double fixed_depth) {
  Rng rng(seed);
  NiahDraw d = draw_niah(spec, rng);
  const int64_t n_needles = static_cast<int64_t>(d.needles.size());
  Assembler ctx;
  if (spec.haystack == Haystack::essay) {
    std::vector<std::string> sents = essay_sentences(essay_words, units);
    const int64_t ns = static_cast<int64_t>(sents.size());
    std::vector<int64_t> gaps;  // needle i goes before sentence gaps[i]
    if (fixed_depth >= 0) {
      gaps.assign(static_cast<size_t>(n_needles),
                  static_cast<int64_t>(std::lround(static_cast<double>(ns) * fixed_depth / 100)));
    } else {
      const std::vector<int> depths = ruler_depths();
      for (int64_t i : rng.sample(static_cast<int64_t>(depths.size()), n_needles))
        gaps.push_back(
            static_cast<int64_t>(static_cast<double>(ns) * depths[static_cast<size_t>(i)] / 100.0));
      std::sort(gaps.begin(), gaps.end());
    }
    size_t next = 0;
    for (int64_t s = 0; s <= ns; ++s) {
      while (next < gaps.size() && gaps[next] == s) ctx.add(d.needles[next++], " ", true);
      if (s < ns) ctx.add(sents[static_cast<size_t>(s)], " ", false);
    }
  } else {
    std::vector<std::string> lines;
    lines.reserve(static_cast<size_t>(units));
    for (int64_t i = 0; i < units; ++i) {
      if (spec.haystack == Haystack::noise) {
        lines.emplace_back(kNoiseFiller);
      } else {  // every line a distractor needle, with a key that is none of the real keys
        std::string key;
        do key = random_needle(spec.key, rng);
        while (std::find(d.keys.begin(), d.keys.end(), key) != d.keys.end());
        lines.push_back(niah_needle(spec.value, key, random_needle(spec.value, rng)));
      }
    }
    std::vector<int64_t> gaps;  // needle i goes before line gaps[i] (units = after the last)
    if (fixed_depth >= 0) {
      gaps.assign(
          static_cast<size_t>(n_needles),
          static_cast<int64_t>(std::lround(static_cast<double>(units) * fixed_depth / 100)));
    } else if (units >= n_needles) {
      gaps = rng.sample(units, n_needles);  // RULER: random.sample(range(num_haystack), ...)
      std::sort(gaps.begin(), gaps.end());
    } else {
      for (int64_t i = 0; i < n_needles; ++i) gaps.push_back(rng.uniform(0, units));
      std::sort(gaps.begin(), gaps.end());
    }
    size_t next = 0;
    for (int64_t s = 0; s <= units; ++s) {
      while (next < gaps.size() && gaps[next] == s) ctx.add(d.needles[next++], "\n", true);
      if (s < units) ctx.add(lines[static_cast<size_t>(s)], "\n", false);
    }
  }
  Built b;
  b.input = niah_prompt(spec, ctx.text, d.queries);
  b.outputs = d.answers;
  b.keys = d.keys;
  b.queries = d.queries;
  b.depths = ctx.depths();
  return b;
}

// ---------------------------------------------------------------- passkey

// The passkey retrieval test (Mohtashami & Jaggi 2023, as run by the PI, YaRN and LongLoRA papers):
// one needle stating the key twice, at a random depth of the essay haystack. The key is five words
// of the NATO spelling alphabet instead of a 5-digit number: a model of a few million parameters
// learns to copy frequent words within a few hundred steps but not digit strings (every digit
// recurs, so copying one is a positional lookup; docs/results.md), and the test is about how far
// the copy reaches, not about digits.
constexpr int kPasskeyWords = 5;
constexpr const char* kPasskeyPreamble =
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. "
    "I will quiz you about the important information there.";
constexpr const char* kPasskeyQuestion = "What is the pass key? The pass key is";

std::string random_passkey(Rng& rng) {
  std::string key;
  for (int i = 0; i < kPasskeyWords; ++i) {
    if (i) key += ' ';
    const auto& words = passkey_words();
    key += words[static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(words.size()) - 1))];
  }
  return key;
}

Built build_passkey(const std::vector<std::string>& essay_words, int64_t units, uint64_t seed) {
  Rng rng(seed);
  const std::string key = random_passkey(rng);
  std::vector<std::string> sents = essay_sentences(essay_words, units);
  const int64_t ns = static_cast<int64_t>(sents.size());
  const int64_t gap = rng.uniform(0, ns);  // the needle goes before sentence `gap` (ns: at the end)
  Assembler ctx;
  for (int64_t s = 0; s <= ns; ++s) {
    if (s == gap) ctx.add(passkey_needle(key), " ", true);
    if (s < ns) ctx.add(sents[static_cast<size_t>(s)], " ", false);
  }
  Built b;
  b.input = std::string(kPasskeyPreamble) + "\n" + ctx.text + "\n" + kPasskeyQuestion;
  b.outputs = {key};
  b.keys = {key};
  b.queries = {key};
  b.depths = ctx.depths();
  return b;
}

// ---------------------------------------------------------------- variable tracking

std::string random_var(Rng& rng, int len) {
  std::string s;
  for (int i = 0; i < len; ++i) s += static_cast<char>('A' + rng.uniform(0, 25));
  return s;
}

struct VtDraw {
  std::vector<std::string> vars;   // chain order: vars[0] = value, vars[i] = vars[i-1]
  std::vector<std::string> chain;  // the assignment statements
  std::string value;
};

VtDraw draw_vt(Rng& rng, int num_hops, int var_len) {
  VtDraw d;
  std::set<std::string> used;
  while (static_cast<int>(d.vars.size()) < num_hops + 1) {
    std::string v = random_var(rng, var_len);
    if (used.insert(v).second) d.vars.push_back(v);
  }
  d.value = std::to_string(rng.uniform(10000, 99998));  // np.random.randint(10000, 99999)
  d.chain.push_back("VAR " + d.vars[0] + " = " + d.value);
  for (int j = 0; j < num_hops; ++j)
    d.chain.push_back("VAR " + d.vars[j + 1] + " = VAR " + d.vars[j]);
  return d;
}

// RULER's variable_tracking with one chain of num_hops hops hidden in the repeated filler.
Built build_vt_body(const VtDraw& d, int64_t units, Rng& rng) {
  const std::string noise = std::string(kNoiseFiller) + "\n";
  std::vector<std::string> sentences(static_cast<size_t>(units), noise);
  std::vector<int64_t> pos = rng.sample(units, static_cast<int64_t>(d.chain.size()));
  std::sort(pos.begin(), pos.end());
  for (size_t j = 0; j < d.chain.size(); ++j)
    sentences.insert(sentences.begin() + pos[j] + static_cast<int64_t>(j), d.chain[j]);
  std::string context = replace_all(join(sentences, " "), ". \n", ".\n");
  Built b;
  b.input =
      "Memorize and track the chain(s) of variable assignment hidden in the following "
      "text.\n\n" +
      context + "\nQuestion: Find all variables that are assigned the value " + d.value +
      " in the text above. Answer: According to the chain(s) of variable "
      "assignment in the text above, " +
      std::to_string(d.vars.size()) + " variables are assigned the value " + d.value +
      ", they are: ";
  b.outputs = d.vars;
  return b;
}

constexpr int kVtHops = 4;

Built build_vt(int64_t units, uint64_t seed, const std::string& icl_example) {
  Rng rng(seed);
  VtDraw d = draw_vt(rng, kVtHops, 5);
  Built b = build_vt_body(d, units, rng);
  b.input = icl_example + b.input;
  return b;
}

// ---------------------------------------------------------------- common words extraction

const std::vector<std::string>& cwe_vocabulary() {
  // RULER shuffles its word list once with the fixed seed; so do we (seed independent of runs).
  static const std::vector<std::string> v = [] {
    std::vector<std::string> w(all_words().begin(), all_words().end());
    Rng rng(42);
    rng.shuffle(w);
    return w;
  }();
  return v;
}

constexpr int kCweCommon = 10;

std::string numbered(const std::vector<std::string>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i) out += ' ';
    out += std::to_string(i + 1) + ". " + words[i];
  }
  return out;
}

std::string cwe_prompt(const std::string& context) {
  return "Below is a numbered list of words. In these words, some appear more often than others. "
         "Memorize the ones that appear most often.\n" +
         context +
         "\nQuestion: What are the 10 most common words in the above list? Answer: The top 10 "
         "words that appear most often in the list are:";
}

// (context, common words) with num_words distinct words: the first 10 repeated common_repeats
// times, the rest uncommon_repeats times, shuffled.
std::pair<std::string, std::vector<std::string>> cwe_list(Rng& rng, int64_t num_words,
                                                          int common_repeats,
                                                          int uncommon_repeats) {
  const auto& vocab = cwe_vocabulary();
  std::vector<std::string> chosen;
  for (int64_t i : rng.sample(static_cast<int64_t>(vocab.size()), num_words))
    chosen.push_back(vocab[static_cast<size_t>(i)]);
  std::vector<std::string> list;
  for (size_t i = 0; i < chosen.size(); ++i) {
    const int reps = static_cast<int>(i) < kCweCommon ? common_repeats : uncommon_repeats;
    for (int r = 0; r < reps; ++r) list.push_back(chosen[i]);
  }
  rng.shuffle(list);
  chosen.resize(std::min<size_t>(chosen.size(), kCweCommon));
  return {numbered(list), chosen};
}

Built build_cwe(int64_t units, int64_t length, uint64_t seed) {
  Rng rng(seed);
  // RULER: below 4096 tokens the repeats are 6 vs 1 (example 3 vs 1), else 30 vs 3 (10 vs 3).
  const bool short_ctx = length < 4096;
  auto [ex_ctx, ex_ans] = short_ctx ? cwe_list(rng, 20, 3, 1) : cwe_list(rng, 40, 10, 3);
  auto [ctx, ans] = short_ctx ? cwe_list(rng, units, 6, 1) : cwe_list(rng, units, 30, 3);
  Built b;
  b.input = cwe_prompt(ex_ctx) + " " + numbered(ex_ans) + "\n" + cwe_prompt(ctx);
  b.outputs = ans;
  return b;
}

// ---------------------------------------------------------------- frequent words extraction

constexpr double kFweAlpha = 2.0;

double zeta(double a) {  // Riemann zeta for a > 1: partial sum + Euler-Maclaurin tail
  const int n = 1000;
  double s = 0;
  for (int k = 1; k < n; ++k) s += std::pow(k, -a);
  return s + std::pow(n, 1 - a) / (a - 1) + 0.5 * std::pow(n, -a);
}

// Occurrences of the rank-k coded word (k = 1, 2, ...) among num_words: Zipf (zeta) law.
int64_t fwe_count(int64_t num_words, int64_t rank) {
  static const double z = zeta(kFweAlpha);
  return static_cast<int64_t>(static_cast<double>(num_words) *
                              std::pow(static_cast<double>(rank), -kFweAlpha) / z);
}

// Smallest num_words whose counts of ranks 1..5 strictly decrease, so the answer (ranks 2..4; rank
// 1 is the "..." noise) is unambiguous.
int64_t fwe_min_words() {
  for (int64_t n = 1;; ++n) {
    bool ok = true;
    for (int64_t r = 1; r < 5; ++r) ok = ok && fwe_count(n, r) > fwe_count(n, r + 1);
    if (ok) return n;
  }
}

Built build_fwe(int64_t units, int64_t length, uint64_t seed) {
  Rng rng(seed);
  const int64_t vocab_size = std::max<int64_t>(length / 50, 8);  // RULER: max_seq_length // 50
  std::set<std::string> uniq;
  while (static_cast<int64_t>(uniq.size()) < vocab_size) {
    std::string w;
    for (int i = 0; i < 6; ++i) w += static_cast<char>('a' + rng.uniform(0, 25));
    uniq.insert(w);
  }
  std::vector<std::string> vocab(uniq.begin(), uniq.end());
  rng.shuffle(vocab);
  vocab[0] = "...";            // the top rank is noise
  std::vector<int32_t> words;  // vocabulary indices, shuffled, then written out
  for (int64_t k = 0; k < vocab_size; ++k) {
    const int64_t c = fwe_count(units, k + 1);
    words.insert(words.end(), static_cast<size_t>(c), static_cast<int32_t>(k));
  }
  rng.shuffle(words);
  std::string text;
  text.reserve(words.size() * 7);
  for (size_t i = 0; i < words.size(); ++i) {
    if (i) text += ' ';
    text += vocab[static_cast<size_t>(words[i])];
  }
  Built b;
  b.input =
      "Read the following coded text and track the frequency of each coded word. Find the "
      "three most frequently appeared coded words. " +
      text +
      "\nQuestion: Do not provide any explanation. Please ignore the dots '....'. What are "
      "the three most frequently appeared words in the above coded text? Answer: According "
      "to the coded text above, the three most frequently appeared words are:";
  b.outputs = {vocab[1], vocab[2], vocab[3]};
  return b;
}

int ttg_for(const std::string& task, const GenOptions& options) {
  return options.tokens_to_generate >= 0 ? options.tokens_to_generate
                                         : default_tokens_to_generate(task);
}

}  // namespace

// ---------------------------------------------------------------- public API

const std::vector<std::string>& ruler_task_names() {
  static const std::vector<std::string> names = {"niah_single_1",
                                                 "niah_single_2",
                                                 "niah_single_3",
                                                 "niah_multikey_1",
                                                 "niah_multikey_2",
                                                 "niah_multikey_3",
                                                 "niah_multivalue",
                                                 "niah_multiquery",
                                                 "vt",
                                                 "cwe",
                                                 "fwe"};
  return names;
}

bool is_niah_task(const std::string& task) { return niah_table().count(task) > 0; }

NiahSpec niah_spec(const std::string& task) {
  auto it = niah_table().find(task);
  check(it != niah_table().end(), "unknown NIAH task '", task, "'");
  return it->second;
}

int default_tokens_to_generate(const std::string& task) {
  if (is_niah_task(task)) return 128;
  if (task == "passkey") return 16;
  if (task == "vt") return 30;
  if (task == "cwe") return 120;
  if (task == "fwe") return 50;
  fail("unknown task '", task, "' (expected one of niah_single_1..3, niah_multikey_1..3, ",
       "niah_multivalue, niah_multiquery, vt, cwe, fwe, passkey)");
}

bool task_needs_essay(const std::string& task) {
  if (task == "passkey") return true;
  return is_niah_task(task) && niah_spec(task).haystack == Haystack::essay;
}

std::string niah_needle(NeedleKind value_kind, const std::string& key, const std::string& value) {
  return std::string("One of the special magic ") + kind_plural(value_kind) + " for " + key +
         " is: " + value + ".";
}

const std::vector<std::string>& passkey_words() {
  static const std::vector<std::string> w = {
      "alpha",  "bravo", "charlie", "delta",  "echo",     "foxtrot", "golf",   "hotel",  "india",
      "juliet", "kilo",  "lima",    "mike",   "november", "oscar",   "papa",   "quebec", "romeo",
      "sierra", "tango", "uniform", "victor", "whiskey",  "xray",    "yankee", "zulu"};
  return w;
}

std::string passkey_needle(const std::string& key) {
  return "The pass key is " + key + ". Remember it. " + key + " is the pass key.";
}

bool is_uuid4(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
    if (!dash && std::isupper(static_cast<unsigned char>(s[i]))) return false;
  }
  return s[14] == '4' && std::string("89ab").find(s[19]) != std::string::npos;
}

bool is_word_key(const std::string& s) {
  const size_t dash = s.find('-');
  if (dash == std::string::npos) return false;
  const std::string_view a(s.data(), dash), n(s.data() + dash + 1, s.size() - dash - 1);
  return std::binary_search(adjectives().begin(), adjectives().end(), a) &&
         std::binary_search(nouns().begin(), nouns().end(), n);
}

TaskSample generate_sample(const std::string& task, int64_t length, int index,
                           const GenOptions& options) {
  check(static_cast<bool>(options.count_tokens), "task ", task, ": no token counter given");
  check(length > 0, "task ", task, ": length must be positive, got ", length);
  const int ttg = ttg_for(task, options);
  const uint64_t seed = sample_seed(options.seed, task, length, index);
  const TokenCounter& count = options.count_tokens;
  constexpr int64_t kUnbounded = int64_t{1} << 40;

  if (is_niah_task(task)) {
    const NiahSpec spec = niah_spec(task);
    std::vector<std::string> words;
    if (spec.haystack == Haystack::essay) {
      words = split_whitespace(options.essay);
      check(!words.empty(), "task ", task,
            ": needs essay text (the essay haystack) but none given");
    }
    return fit_sample(
        task, length, index, ttg, 1, kUnbounded,
        [&](int64_t u) { return build_niah(spec, words, u, seed, -1); }, count);
  }
  if (task == "passkey") {
    const std::vector<std::string> words = split_whitespace(options.essay);
    check(!words.empty(), "task passkey: needs essay text (the haystack) but none given");
    return fit_sample(
        task, length, index, ttg, 1, kUnbounded,
        [&](int64_t u) { return build_passkey(words, u, seed); }, count);
  }
  if (task == "vt") {
    // RULER prepends one solved example (3-letter variables) sized to 500 tokens; we cap it at a
    // quarter of the length so that short lengths still leave room for the task, and take the
    // smallest example when even that does not fit (very fine-grained tokenizers).
    const uint64_t icl_seed = mix64(seed ^ 0x1c1ULL);
    const int64_t icl_len = std::min<int64_t>(500, length / 4);
    TaskSample icl = fit_sample(
        "vt (in-context example)", icl_len, index, ttg, kVtHops + 1, kUnbounded,
        [&](int64_t u) {
          Rng rng(icl_seed);
          VtDraw d = draw_vt(rng, kVtHops, 3);
          return build_vt_body(d, u, rng);
        },
        count, /*allow_over=*/true);
    const std::string example = icl.input + " " + join(icl.outputs, " ") + "\n\n";
    return fit_sample(
        task, length, index, ttg, kVtHops + 1, kUnbounded,
        [&](int64_t u) { return build_vt(u, seed, example); }, count);
  }
  if (task == "cwe") {
    return fit_sample(
        task, length, index, ttg, kCweCommon, static_cast<int64_t>(cwe_vocabulary().size()),
        [&](int64_t u) { return build_cwe(u, length, seed); }, count);
  }
  if (task == "fwe") {
    return fit_sample(
        task, length, index, ttg, fwe_min_words(), kUnbounded,
        [&](int64_t u) { return build_fwe(u, length, seed); }, count);
  }
  default_tokens_to_generate(task);  // throws the "unknown task" error
  return {};
}

std::vector<TaskSample> generate_samples(const std::string& task, int64_t length, int num_samples,
                                         const GenOptions& options) {
  check(num_samples >= 0, "task ", task, ": number of samples must be >= 0");
  std::vector<TaskSample> out;
  for (int i = 0; i < num_samples; ++i) out.push_back(generate_sample(task, length, i, options));
  return out;
}

TaskSample generate_needle_sample(int64_t length, double depth_percent, int index,
                                  Haystack haystack, const GenOptions& options) {
  check(static_cast<bool>(options.count_tokens), "needle: no token counter given");
  check(depth_percent >= 0 && depth_percent <= 100, "needle: depth must be in [0, 100], got ",
        depth_percent);
  check(haystack != Haystack::needle, "needle: the haystack must be noise or essay");
  NiahSpec spec = niah_spec("niah_single_2");
  spec.haystack = haystack;
  const std::string name = "needle";
  const int ttg = options.tokens_to_generate >= 0 ? options.tokens_to_generate : 128;
  const uint64_t seed = mix64(sample_seed(options.seed, name, length, index) ^
                              static_cast<uint64_t>(std::llround(depth_percent * 1000)));
  std::vector<std::string> words;
  if (haystack == Haystack::essay) {
    words = split_whitespace(options.essay);
    check(!words.empty(), "needle: the essay haystack needs essay text but none given");
  }
  return fit_sample(
      name, length, index, ttg, 1, int64_t{1} << 40,
      [&](int64_t u) { return build_niah(spec, words, u, seed, depth_percent); },
      options.count_tokens);
}

}  // namespace harpe::eval
