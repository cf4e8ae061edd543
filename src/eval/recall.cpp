#include "eval/recall.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "eval/rng.h"
#include "io/atomic_file.h"
#include "io/json_util.h"

namespace harpe::eval {

namespace {

constexpr RecallVariant kVariants[] = {RecallVariant::single, RecallVariant::multikey,
                                       RecallVariant::multivalue, RecallVariant::multiquery,
                                       RecallVariant::copy};

// The pairs of one sequence before they are written: key, value, and where (-1: not placed).
struct Pair {
  int32_t key = 0, value = 0;
  int query = -1;  // index of the query it answers, -1 for a distractor
  int pos = -1;
};

}  // namespace

std::string_view recall_variant_name(RecallVariant v) {
  switch (v) {
    case RecallVariant::single:
      return "single";
    case RecallVariant::multikey:
      return "multikey";
    case RecallVariant::multivalue:
      return "multivalue";
    case RecallVariant::multiquery:
      return "multiquery";
    case RecallVariant::copy:
      return "copy";
  }
  return "?";
}

RecallVariant parse_recall_variant(std::string_view name, std::string_view flag) {
  for (RecallVariant v : kVariants)
    if (recall_variant_name(v) == name) return v;
  fail(flag, ": unknown recall variant \"", name,
       "\" (single, multikey, multivalue, multiquery, copy, or all)");
}

std::vector<RecallVariant> all_recall_variants() {
  return {RecallVariant::single, RecallVariant::multikey, RecallVariant::multivalue,
          RecallVariant::multiquery};
}

std::vector<RecallVariant> parse_recall_variants(std::string_view list, std::string_view flag) {
  std::vector<RecallVariant> out;
  auto add = [&](RecallVariant v) {
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  };
  size_t start = 0;
  while (true) {
    const size_t comma = list.find(',', start);
    const std::string_view item = list.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (item == "all") {
      for (RecallVariant v : all_recall_variants()) add(v);
    } else {
      add(parse_recall_variant(item, flag));
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

int RecallSpec::used_pairs() const {
  return variant == RecallVariant::single || variant == RecallVariant::copy ? 1 : pairs;
}

int RecallSpec::used_queries() const {
  if (variant != RecallVariant::multiquery) return 1;
  return queries > 0 ? queries : pairs;
}

int RecallSpec::values_per_key() const { return variant == RecallVariant::multivalue ? values : 1; }

int RecallSpec::query_tokens() const {
  return variant == RecallVariant::copy ? span : used_queries() * (1 + values_per_key());
}

void RecallSpec::validate() const {
  const std::string v(recall_variant_name(variant));
  check(vocab >= 8, "recall: --vocab must be at least 8, got ", vocab);
  check(filler >= 0 && filler < vocab - 4, "recall: --filler-tokens ", filler,
        " leaves too few keys and values in a vocabulary of ", vocab);
  check(used_filler() >= 1, "recall: at least one filler token is needed");
  check(pairs >= 1, "recall: --pairs must be at least 1, got ", pairs);
  check(variant != RecallVariant::multikey || pairs >= 2,
        "recall: multikey needs --pairs >= 2 "
        "(one queried pair and distractors), got ",
        pairs);
  check(values >= 1, "recall: --values must be at least 1, got ", values);
  check(queries >= 0 && used_queries() <= used_pairs(), "recall: --queries ", queries,
        " is more than the ", used_pairs(), " pairs");
  check(far >= 0, "recall: --far must be >= 0, got ", far);
  if (variant == RecallVariant::copy) {
    check(span >= 4, "recall copy: --span must be at least 4, got ", span);
    check(span <= vocab - used_filler(), "recall copy: --span ", span, " is more than the ",
          vocab - used_filler(), " non-filler tokens");
    check(2 * span <= length, "recall copy: length ", length, " is too short for two copies of ",
          "a span of up to ", span, " tokens");
    check(far == 0 || far + span <= length, "recall copy: --far ", far,
          " leaves no room at length ", length);
    check(far == 0 || !adjacent, "recall copy: --far and --copy adjacent exclude each other");
    return;
  }
  check(used_pairs() <= n_keys(), "recall: ", used_pairs(), " distinct keys do not fit the ",
        n_keys(), " keys of vocabulary ", vocab);
  const int value_slots = used_pairs() - 1 + values_per_key();
  check(value_slots <= vocab - first_value(), "recall: ", value_slots,
        " distinct values do not fit the ", vocab - first_value(), " values of vocabulary ", vocab);
  // Pairs take 2 tokens each; keep them to at most half of the context part so that placing them
  // at random free positions always succeeds quickly.
  const int ctx = length - query_tokens();
  const int pair_tokens = 2 * (used_pairs() - 1 + values_per_key());
  check(ctx >= 2 * pair_tokens, "recall ", v, ": length ", length, " is too short for ",
        pair_tokens / 2, " pairs and ", query_tokens(),
        " query tokens (the pairs may fill at most half of the ", ctx, " context tokens)");
  check(far == 0 || far + query_tokens() + 2 <= length, "recall ", v, ": --far ", far,
        " leaves no room before the queries at length ", length);
}

namespace {

// The copy variant: a span of r distinct non-filler tokens at a random position, repeated at the
// end; every token of the repeat after its first is a query.
RecallSequence generate_copy(const RecallSpec& spec, Rng& rng) {
  const int T = spec.length;
  const int r = static_cast<int>(rng.uniform(4, spec.span));
  // Uniform: the repeat ends the sequence and the span lies anywhere before it. Adjacent: span and
  // repeat side by side at a random place (filler after them).
  int first = 0, second = 0;
  if (spec.adjacent) {
    first = static_cast<int>(rng.uniform(0, T - 2 * r));
    second = first + r;
  } else {
    second = T - r;
    const int last_first = spec.far > 0 ? std::min(second - r, second - spec.far) : second - r;
    first = static_cast<int>(rng.uniform(0, std::max(0, last_first)));
  }
  const std::vector<int64_t> span = rng.sample(spec.vocab - spec.used_filler(), r);
  RecallSequence s;
  s.variant = "copy";
  s.vocab = spec.vocab;
  s.tokens.resize(static_cast<size_t>(T));
  for (int t = 0; t < T; ++t)
    s.tokens[static_cast<size_t>(t)] = static_cast<int32_t>(rng.uniform(0, spec.used_filler() - 1));
  for (int j = 0; j < r; ++j) {
    const auto tok = static_cast<int32_t>(spec.used_filler() + span[static_cast<size_t>(j)]);
    s.tokens[static_cast<size_t>(first + j)] = tok;
    s.tokens[static_cast<size_t>(second + j)] = tok;
  }
  for (int j = 1; j < r; ++j) {
    RecallQuery q;
    q.at = second + j;
    q.answers = {s.tokens[static_cast<size_t>(q.at)]};
    q.distance = second - first;
    s.queries.push_back(std::move(q));
  }
  return s;
}

}  // namespace

RecallSequence generate_recall(const RecallSpec& spec, uint64_t seed) {
  spec.validate();
  Rng rng(seed);
  if (spec.variant == RecallVariant::copy) return generate_copy(spec, rng);
  const int T = spec.length;
  const int m = spec.values_per_key();
  const int nq = spec.used_queries();
  const int np = spec.used_pairs();
  const int qtok = spec.query_tokens();
  const int ctx = T - qtok;

  // Keys: np distinct; the first nq are queried (in this order in the query part).
  const std::vector<int64_t> keys = rng.sample(spec.n_keys(), np);
  const int n_values = np - 1 + m;
  const std::vector<int64_t> vals = rng.sample(spec.vocab - spec.first_value(), n_values);
  std::vector<Pair> pairs;
  int vi = 0;
  for (int k = 0; k < np; ++k) {
    const int copies = (k == 0 && spec.variant == RecallVariant::multivalue) ? m : 1;
    for (int c = 0; c < copies; ++c) {
      Pair p;
      p.key = spec.first_key() + static_cast<int32_t>(keys[static_cast<size_t>(k)]);
      p.value = spec.first_value() + static_cast<int32_t>(vals[static_cast<size_t>(vi++)]);
      p.query = k < nq ? k : -1;
      pairs.push_back(p);
    }
  }

  // Place every pair at a free position [pos, pos + 1] of the context part; queried pairs of a
  // `far` spec only where their query's key is at least `far` tokens away. Uniform draws with
  // rejection of occupied positions (the pairs fill at most half of the part: validate()).
  std::vector<uint8_t> used(static_cast<size_t>(ctx), 0);
  auto query_key_pos = [&](int q) { return ctx + q * (1 + m); };
  // Far-constrained pairs first: they have the least room.
  std::vector<size_t> order(pairs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return (pairs[a].query >= 0) > (pairs[b].query >= 0);
  });
  for (size_t i : order) {
    Pair& p = pairs[i];
    int hi = ctx - 2;  // last start with both tokens inside the context part
    if (spec.far > 0 && p.query >= 0) hi = std::min(hi, query_key_pos(p.query) - spec.far);
    check(hi >= 0, "recall: --far ", spec.far, " leaves no room for a pair at length ", T);
    bool placed = false;
    for (int attempt = 0; attempt < 10000 && !placed; ++attempt) {
      const int pos = static_cast<int>(rng.uniform(0, hi));
      if (used[static_cast<size_t>(pos)] || used[static_cast<size_t>(pos) + 1]) continue;
      used[static_cast<size_t>(pos)] = used[static_cast<size_t>(pos) + 1] = 1;
      p.pos = pos;
      placed = true;
    }
    check(placed, "recall: could not place ", pairs.size(), " pairs within ", hi + 2,
          " tokens (length ", T, ", far ", spec.far, "): use fewer pairs or a longer length");
  }

  RecallSequence s;
  s.variant = std::string(recall_variant_name(spec.variant));
  s.vocab = spec.vocab;
  s.tokens.resize(static_cast<size_t>(T));
  for (int t = 0; t < ctx; ++t)
    s.tokens[static_cast<size_t>(t)] = static_cast<int32_t>(rng.uniform(0, spec.used_filler() - 1));
  for (const Pair& p : pairs) {
    s.tokens[static_cast<size_t>(p.pos)] = p.key;
    s.tokens[static_cast<size_t>(p.pos) + 1] = p.value;
  }
  // Query q asks key q (the keys are a random sample, and the pairs' positions are random, so
  // the order of the queries is unrelated to the order of the pairs); its answers are listed in
  // the pairs' order of appearance.
  for (int q = 0; q < nq; ++q) {
    std::vector<const Pair*> mine;
    for (const Pair& p : pairs)
      if (p.query == q) mine.push_back(&p);
    std::sort(mine.begin(), mine.end(),
              [](const Pair* a, const Pair* b) { return a->pos < b->pos; });
    RecallQuery rq;
    const int kpos = query_key_pos(q);
    rq.at = kpos + 1;
    rq.order_free = m > 1;
    rq.distance = kpos - mine.front()->pos;
    s.tokens[static_cast<size_t>(kpos)] = mine.front()->key;
    for (size_t j = 0; j < mine.size(); ++j) {
      rq.answers.push_back(mine[j]->value);
      s.tokens[static_cast<size_t>(rq.at) + j] = mine[j]->value;
    }
    s.queries.push_back(std::move(rq));
  }
  return s;
}

uint64_t recall_sample_seed(uint64_t seed, std::string_view stream, RecallVariant v, int length,
                            uint64_t index) {
  uint64_t h = mix64(seed ^ hash_string(stream));
  h = mix64(h ^ hash_string(recall_variant_name(v)));
  h = mix64(h ^ static_cast<uint64_t>(length));
  return mix64(h ^ index);
}

std::vector<uint8_t> recall_answer_mask(const RecallSequence& s) {
  std::vector<uint8_t> mask(s.tokens.size(), 0);
  for (const RecallQuery& q : s.queries)
    for (size_t j = 0; j < q.answers.size(); ++j) mask[static_cast<size_t>(q.at) + j] = 1;
  return mask;
}

void validate_recall(const RecallSequence& s, const std::string& where) {
  const int64_t T = static_cast<int64_t>(s.tokens.size());
  check(s.vocab > 0, where, ": vocab must be positive, got ", s.vocab);
  check(T >= 2, where, ": a sequence needs at least 2 tokens, got ", T);
  for (int64_t i = 0; i < T; ++i)
    check(s.tokens[static_cast<size_t>(i)] >= 0 && s.tokens[static_cast<size_t>(i)] < s.vocab,
          where, ": token ", s.tokens[static_cast<size_t>(i)], " at position ", i,
          " is outside the vocabulary [0, ", s.vocab, ")");
  check(!s.queries.empty(), where, ": no queries");
  std::vector<uint8_t> seen(static_cast<size_t>(T), 0);
  for (size_t qi = 0; qi < s.queries.size(); ++qi) {
    const RecallQuery& q = s.queries[qi];
    const int64_t m = static_cast<int64_t>(q.answers.size());
    check(m >= 1, where, ": query ", qi, " has no answers");
    check(q.at >= 1 && q.at + m <= T, where, ": query ", qi, " answers at [", q.at, ", ", q.at + m,
          ") outside the sequence of ", T,
          " tokens (the first answer needs a token "
          "before it)");
    check(q.distance >= 0, where, ": query ", qi, " has a negative distance ", q.distance);
    for (int64_t j = 0; j < m; ++j) {
      const size_t p = static_cast<size_t>(q.at + j);
      check(s.tokens[p] == q.answers[static_cast<size_t>(j)], where, ": query ", qi, " answer ", j,
            " is ", q.answers[static_cast<size_t>(j)], " but the sequence has token ", s.tokens[p],
            " at position ", p);
      check(!seen[p], where, ": query ", qi, " answer position ", p, " overlaps another query's");
      seen[p] = 1;
    }
  }
}

std::string recall_to_json(const RecallSequence& s) {
  // Keys in the documented order (ordered_json), for a reader of the file.
  nlohmann::ordered_json qs = nlohmann::ordered_json::array();
  for (const RecallQuery& q : s.queries)
    qs.push_back({{"at", q.at},
                  {"answers", q.answers},
                  {"order_free", q.order_free},
                  {"distance", q.distance}});
  const nlohmann::ordered_json j = {
      {"variant", s.variant}, {"vocab", s.vocab}, {"tokens", s.tokens}, {"queries", qs}};
  return j.dump();
}

void write_recall_jsonl(const std::vector<RecallSequence>& seqs, const std::string& path) {
  io::AtomicFile f(path);
  for (const RecallSequence& s : seqs) {
    f.write(recall_to_json(s));
    f.write("\n");
  }
  f.commit();
}

namespace {

RecallSequence recall_from_json(const io::Json& j, const std::string& where) {
  check(j.is_object(), where, ": expected a JSON object, got ", io::json_type_name(j));
  RecallSequence s;
  s.variant = io::json_string_or(j, "variant", "custom", where);
  const int64_t vocab = io::json_int(j, "vocab", where);
  check(vocab > 0 && vocab <= (int64_t{1} << 30), where, ": vocab ", vocab, " out of range");
  s.vocab = static_cast<int>(vocab);
  check(j.contains("tokens") && j["tokens"].is_array(), where, ": \"tokens\" must be an array");
  s.tokens.reserve(j["tokens"].size());
  for (size_t i = 0; i < j["tokens"].size(); ++i) {
    const int64_t t = io::as_int(j["tokens"][i], where + ": tokens[" + std::to_string(i) + "]");
    check(t >= 0 && t < vocab, where, ": token ", t, " at position ", i,
          " is outside the vocabulary [0, ", vocab, ")");
    s.tokens.push_back(static_cast<int32_t>(t));
  }
  check(j.contains("queries") && j["queries"].is_array(), where, ": \"queries\" must be an array");
  for (size_t qi = 0; qi < j["queries"].size(); ++qi) {
    const io::Json& qj = j["queries"][qi];
    const std::string qw = where + ": queries[" + std::to_string(qi) + "]";
    check(qj.is_object(), qw, ": expected an object");
    RecallQuery q;
    const int64_t at = io::json_int(qj, "at", qw);
    check(at >= 0 && at <= static_cast<int64_t>(s.tokens.size()), qw, ": at ", at,
          " outside the sequence");
    q.at = static_cast<int>(at);
    check(qj.contains("answers") && qj["answers"].is_array(), qw, ": \"answers\" must be an array");
    for (size_t a = 0; a < qj["answers"].size(); ++a) {
      const int64_t t = io::as_int(qj["answers"][a], qw + ".answers[" + std::to_string(a) + "]");
      check(t >= 0 && t < vocab, qw, ": answer ", t, " is outside the vocabulary [0, ", vocab, ")");
      q.answers.push_back(static_cast<int32_t>(t));
    }
    q.order_free = io::json_bool_or(qj, "order_free", false, qw);
    const int64_t d = io::json_int_or(qj, "distance", 0, qw);
    check(d >= 0 && d <= static_cast<int64_t>(s.tokens.size()), qw, ": distance ", d,
          " outside [0, length]");
    q.distance = static_cast<int>(d);
    s.queries.push_back(std::move(q));
  }
  validate_recall(s, where);
  return s;
}

}  // namespace

std::vector<RecallSequence> read_recall_jsonl(const std::string& path) {
  std::ifstream in(path);
  check(in.is_open(), path, ": cannot open: ", std::strerror(errno));
  std::vector<RecallSequence> out;
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank line
    const std::string where = path + ":" + std::to_string(n);
    out.push_back(recall_from_json(io::parse_json(line, where), where));
    out.back().where = where;
  }
  check(!in.bad(), path, ": read error");
  check(!out.empty(), path, ": no sequences");
  return out;
}

std::vector<bool> score_recall(const RecallSequence& s, const std::vector<int32_t>& predicted,
                               const std::vector<std::vector<int32_t>>& generated) {
  check(predicted.size() + 1 >= s.tokens.size(), "score_recall: ", predicted.size(),
        " predictions for a sequence of ", s.tokens.size(), " tokens");
  std::vector<bool> exact;
  for (size_t qi = 0; qi < s.queries.size(); ++qi) {
    const RecallQuery& q = s.queries[qi];
    if (q.order_free) {
      check(qi < generated.size() && generated[qi].size() == q.answers.size(),
            "score_recall: order-free query ", qi, " needs the model's ", q.answers.size(),
            " generated tokens");
      std::vector<int32_t> got = generated[qi], want = q.answers;
      std::sort(got.begin(), got.end());
      std::sort(want.begin(), want.end());
      exact.push_back(got == want);
      continue;
    }
    bool ok = true;
    for (size_t j = 0; j < q.answers.size() && ok; ++j)
      ok = predicted[static_cast<size_t>(q.at) + j - 1] == q.answers[j];
    exact.push_back(ok);
  }
  return exact;
}

int recall_distance_bucket(int distance) {
  if (distance < 16) return 0;
  int k = 4;
  while (k < 62 && (int64_t{1} << (k + 1)) <= distance) ++k;
  return k - 3;
}

int64_t recall_bucket_lo(int bucket) { return bucket == 0 ? 0 : int64_t{1} << (bucket + 3); }
int64_t recall_bucket_hi(int bucket) { return int64_t{1} << (bucket + 4); }

std::string recall_bucket_label(int bucket) {
  auto short_num = [](int64_t v) {
    return v >= 1024 && v % 1024 == 0 ? std::to_string(v / 1024) + "K" : std::to_string(v);
  };
  if (bucket == 0) return "<16";
  const int64_t lo = recall_bucket_lo(bucket), hi = recall_bucket_hi(bucket);
  return short_num(lo) + "-" + (hi >= 1024 ? short_num(hi) : std::to_string(hi - 1));
}

double RecallResult::query_score() const {
  return queries ? 100.0 * static_cast<double>(queries_exact) / static_cast<double>(queries) : 0.0;
}

double RecallResult::sequence_score() const {
  return sequences ? 100.0 * static_cast<double>(sequences_exact) / static_cast<double>(sequences)
                   : 0.0;
}

void RecallResult::add(const RecallSequence& s, const std::vector<bool>& exact) {
  check(exact.size() == s.queries.size(), "RecallResult::add: ", exact.size(), " scores for ",
        s.queries.size(), " queries");
  bool all = true;
  for (size_t q = 0; q < exact.size(); ++q) {
    const int b = recall_distance_bucket(s.queries[q].distance);
    auto it = std::find_if(buckets.begin(), buckets.end(),
                           [b](const RecallBucketScore& x) { return x.bucket >= b; });
    if (it == buckets.end() || it->bucket != b) it = buckets.insert(it, RecallBucketScore{b, 0, 0});
    ++it->queries;
    ++queries;
    if (exact[q]) {
      ++it->exact;
      ++queries_exact;
    } else {
      all = false;
    }
  }
  ++sequences;
  if (all) ++sequences_exact;
}

}  // namespace harpe::eval
