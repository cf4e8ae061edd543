#include "eval/tokenizer.h"

#include <sentencepiece_processor.h>

#include <memory>
#include <vector>

#include "core/error.h"

namespace harpe::eval {

TokenCounter whitespace_word_counter() {
  return [](std::string_view text) {
    int64_t n = 0;
    bool in_word = false;
    for (char c : text) {
      const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
      if (!space && !in_word) ++n;
      in_word = !space;
    }
    return n;
  };
}

TokenCounter sentencepiece_counter(const std::string& model_path) {
  auto sp = std::make_shared<sentencepiece::SentencePieceProcessor>();
  const auto status = sp->Load(model_path);
  check(status.ok(), "tokenizer ", model_path, ": cannot load SentencePiece model (",
        status.ToString(), ")");
  return [sp](std::string_view text) {
    std::vector<int> ids;
    const auto st = sp->Encode(text, &ids);
    check(st.ok(), "tokenizer: SentencePiece encode failed (", st.ToString(), ")");
    return static_cast<int64_t>(ids.size());
  };
}

}  // namespace harpe::eval
