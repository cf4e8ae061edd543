#include "eval/recall_data.h"

#include <algorithm>
#include <memory>
#include <span>

#include "core/error.h"
#include "data/shard.h"
#include "io/atomic_file.h"

namespace harpe::eval {

RecallDataSummary make_recall_data(const RecallDataArgs& a) {
  check(!a.out.empty(), "recall data: --out is required");
  RecallDataSummary sum;
  std::vector<RecallSequence> input;
  if (!a.input.empty()) {
    input = read_recall_jsonl(a.input);
    for (const RecallSequence& s : input) sum.vocab = std::max(sum.vocab, s.vocab);
  } else {
    check(a.samples > 0, "--samples must be positive, got ", a.samples);
    check(!a.variants.empty(), "--variants: none given");
    for (RecallVariant v : a.variants) {  // every variant's spec must hold before any work
      RecallSpec s = a.spec;
      s.variant = v;
      s.validate();
    }
    sum.vocab = a.spec.vocab;
  }
  data::ShardWriter shard(a.out, static_cast<uint32_t>(sum.vocab));
  std::unique_ptr<io::AtomicFile> jsonl;
  if (!a.jsonl.empty()) jsonl = std::make_unique<io::AtomicFile>(a.jsonl);
  const uint32_t source = shard.source_id("recall");
  auto put = [&](const RecallSequence& s) {
    const std::vector<uint8_t> mask = recall_answer_mask(s);
    shard.add_document(std::span<const int32_t>(s.tokens), source, std::span<const uint8_t>(mask));
    if (jsonl) {
      jsonl->write(recall_to_json(s));
      jsonl->write("\n");
    }
    ++sum.sequences;
    sum.tokens += static_cast<int64_t>(s.tokens.size());
    for (uint8_t m : mask) sum.answer_tokens += m;
  };
  if (!a.input.empty()) {
    for (const RecallSequence& s : input) put(s);
  } else {
    const int64_t nv = static_cast<int64_t>(a.variants.size());
    for (int64_t i = 0; i < a.samples; ++i) {
      RecallSpec s = a.spec;
      s.variant = a.variants[static_cast<size_t>(i % nv)];
      put(generate_recall(
          s, recall_sample_seed(a.seed, "train", s.variant, s.length, static_cast<uint64_t>(i))));
    }
  }
  shard.finish();
  if (jsonl) jsonl->commit();
  return sum;
}

}  // namespace harpe::eval
