// Associative recall (docs/recall.md): token-level key-value tasks with their own small vocabulary
// (no tokenizer), set in filler tokens, then queries of keys whose answers are the values. A
// context-extension test of retrieval that a small model learns cheaply (multi-query associative
// recall, Arora et al. 2023, "Zoology"), in four variants that mirror RULER's NIAH:
//   single      one pair in filler, one query
//   multikey    `pairs` pairs (distractors), one of them queried
//   multivalue  one key with `values` values (plus pairs - 1 distractor pairs); its query is
//               answered by all of them, in any order
//   multiquery  `pairs` pairs, `queries` of them queried
//   copy        a span of random tokens written twice (Olsson et al.'s induction setting): every
//               token of the second copy after its first is a one-token query answered by the
//               first copy (the curriculum that makes the recall circuit form; docs/recall.md)
//
// A sequence of length T is filler tokens with each pair "k v" written at a free position of the
// context part [0, T - Q) (the query part is the last Q tokens): each query is "k a1 .. am", the
// key then its m answers. The distance of a query is the position of its key minus the position
// of the key's (earliest) pair: uniform over the window by default, or at least `far` tokens.
//
// Vocabulary of size V: filler tokens [0, F), keys [F, F + K), values [F + K, V) with K the
// floor of half of V - F (Zoology draws keys and values from disjoint halves).
//
// Everything here is deterministic (eval/rng.h) and independent of a model, so generator, file
// format and scoring are tested alone; run_recall.h drives a model.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace harpe::eval {

enum class RecallVariant { single, multikey, multivalue, multiquery, copy };
std::string_view recall_variant_name(RecallVariant v);
// "single" | "multikey" | "multivalue" | "multiquery" | "copy"; throws Error naming `flag`.
RecallVariant parse_recall_variant(std::string_view name, std::string_view flag = "--variants");
// The four NIAH-like variants ("all"; copy is not among them).
std::vector<RecallVariant> all_recall_variants();
// "multiquery,copy" or "all" or "all,copy" -> variants (no repeats), errors name `flag`.
std::vector<RecallVariant> parse_recall_variants(std::string_view list, std::string_view flag);

struct RecallSpec {
  RecallVariant variant = RecallVariant::multiquery;
  int length = 64;        // tokens of the sequence T
  int vocab = 512;        // V
  int filler = 0;         // F; 0: V / 4
  int pairs = 4;          // distinct keys in the context (single: 1)
  int values = 4;         // multivalue: values of the queried key
  int queries = 0;        // multiquery: queried keys (0: all pairs); 1 for the other variants
  int far = 0;            // > 0: every queried pair at least this many tokens before its query
  int span = 16;          // copy: the span's length is drawn from [4, span] (span >= 4)
  bool adjacent = false;  // copy: span and repeat side by side at a random place (distance =
                          // the span's length), the case that makes the circuit form in training
  // The counts the variant really uses (single: 1 pair; multikey/multivalue: 1 query; ...).
  int used_pairs() const;
  int used_queries() const;
  int values_per_key() const;  // m: multivalue's values, else 1
  int used_filler() const { return filler > 0 ? filler : vocab / 4; }
  int n_keys() const { return (vocab - used_filler()) / 2; }
  int first_key() const { return used_filler(); }
  int first_value() const { return used_filler() + n_keys(); }
  // Tokens of the query part: used_queries() * (1 + values_per_key()); copy: span.
  int query_tokens() const;
  // Throws Error naming the setting that makes the spec impossible (too short, too few keys...).
  void validate() const;
};

struct RecallQuery {
  int at = 0;                    // index of the first answer token (its key is at - 1)
  std::vector<int32_t> answers;  // tokens[at .. at + m): in the order the pairs appear
  bool order_free = false;       // multivalue: any order of the answers is right
  int distance = 0;              // key position - position of the key's earliest pair
};

struct RecallSequence {
  std::string variant;  // a name of RecallVariant, or free text from a foreign file
  std::string where;    // "file.jsonl:12" when read from a file (for messages)
  int vocab = 0;
  std::vector<int32_t> tokens;
  std::vector<RecallQuery> queries;
};

// One sequence; the same (spec, seed) gives the same tokens on every platform.
RecallSequence generate_recall(const RecallSpec& spec, uint64_t seed);

// The seed of sample `index` of (variant, length) in a named stream: "train" and "eval" streams
// never share a seed, so evaluation sequences are held out from training sequences.
uint64_t recall_sample_seed(uint64_t seed, std::string_view stream, RecallVariant v, int length,
                            uint64_t index);

// 1 for every answer token (the tokens a model is trained and scored on), else 0.
std::vector<uint8_t> recall_answer_mask(const RecallSequence& s);

// Checks the sequence's own consistency (answers at their positions, in range, vocab); throws
// Error with `where` (e.g. "file.jsonl:12") in front.
void validate_recall(const RecallSequence& s, const std::string& where);

// JSONL: one sequence per line (docs/recall.md):
//   {"variant":"multiquery","vocab":512,"tokens":[...],
//    "queries":[{"at":60,"answers":[401],"order_free":false,"distance":37}, ...]}
std::string recall_to_json(const RecallSequence& s);
void write_recall_jsonl(const std::vector<RecallSequence>& seqs, const std::string& path);
// Reads and validates every line; errors are one line naming the file and line number.
std::vector<RecallSequence> read_recall_jsonl(const std::string& path);

// ---------------------------------------------------------------------------------------------
// Scoring. predicted[p] is the model's token for position p + 1 (the argmax after tokens[0..p]),
// for every p < T - 1 (teacher forcing: the reference answers are in the input). A query is
// exact when each answer position predicts its answer. An order-free query (multivalue) is scored
// on generated[q] instead: the model's own greedy continuation after the key (as many tokens as
// answers), exact when it is a permutation of the answers (RULER's all-values rule).
std::vector<bool> score_recall(const RecallSequence& s, const std::vector<int32_t>& predicted,
                               const std::vector<std::vector<int32_t>>& generated = {});

// Distance buckets: [0, 16), then [2^k, 2^(k+1)) for k >= 4.
int recall_distance_bucket(int distance);
int64_t recall_bucket_lo(int bucket);
int64_t recall_bucket_hi(int bucket);         // exclusive
std::string recall_bucket_label(int bucket);  // "<16", "16-31", "1K-2K" ...

struct RecallBucketScore {
  int bucket = 0;
  int64_t queries = 0, exact = 0;
};

// One (variant, length): exact match per query and per sequence, by distance bucket.
struct RecallResult {
  std::string variant;
  int64_t length = 0;
  int64_t sequences = 0, sequences_exact = 0;
  int64_t queries = 0, queries_exact = 0;
  std::vector<RecallBucketScore> buckets;  // ascending, only buckets with queries
  double query_score() const;              // 0..100
  double sequence_score() const;           // 0..100
  // Adds one scored sequence.
  void add(const RecallSequence& s, const std::vector<bool>& exact);
};

}  // namespace harpe::eval
