// SentencePiece tokenizer: training a BPE model from a corpus split, and loading any existing
// tokenizer.model (a Llama tokenizer works as is).
//
// Document convention: every document is encoded as  BOS <text tokens> EOS, with BOS/EOS ids taken
// from the model (our trained models use unk=0, bos=1, eos=2, no pad, as Llama does). A model
// without BOS or EOS (id < 0) simply omits it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace harpe::data {

struct TokenizerTrainOptions {
  int vocab_size = 8192;
  // Lines longer than this (bytes) are cut into pieces of this size for training only.
  int max_sentence_length = 8192;
  // Cap on training lines (0 = all). When the corpus has more, lines are taken at an even stride
  // (deterministic), not sampled at random.
  std::int64_t max_sentences = 2000000;
  int num_threads = 1;  // >1 is faster but SentencePiece then no longer promises identical models
  // One token per digit (Llama's choice). Off: BPE merges digit runs like any other text, so a
  // 7-digit number is a few tokens (small models copy those far more easily; docs/results.md).
  bool split_digits = true;
  std::function<void(const std::string&)> log = [](const std::string&) {};
};

// Trains a byte-fallback BPE model on the texts (one string per document; they are fed line by
// line) and returns the serialized model proto. Deterministic: same texts + options -> same bytes.
std::string train_tokenizer(const std::vector<std::string>& texts,
                            const TokenizerTrainOptions& opt);

// Trains from DIR/train.jsonl and writes the model to out_path atomically.
void train_tokenizer_from_corpus(const std::string& corpus_dir, const std::string& out_path,
                                 const TokenizerTrainOptions& opt);

// What a piece is to SentencePiece (exporters write it, e.g. GGUF's token types).
enum class PieceKind { normal, unknown, control, unused, byte };

class Tokenizer {
 public:
  static Tokenizer load(const std::string& path);
  static Tokenizer from_serialized(const std::string& model_proto,
                                   const std::string& what = "tokenizer");
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  int vocab_size() const;
  int bos_id() const;  // -1 when the model has none
  int eos_id() const;
  std::vector<std::int32_t> encode(std::string_view text) const;  // text tokens only
  // BOS + encode(text) + EOS (each when the model defines it).
  std::vector<std::int32_t> encode_document(std::string_view text) const;
  std::string decode(const std::vector<std::int32_t>& ids) const;
  std::string piece(int id) const;
  float score(int id) const;  // the model's piece score (log-probability for unigram, rank for BPE)
  PieceKind kind(int id) const;

 private:
  Tokenizer();
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::string name_;
};

}  // namespace harpe::data
