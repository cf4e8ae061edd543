// The evaluation's view of a tokenizer: a callback that counts the tokens of a text. The task
// generators size every prompt with it, so they work with any tokenizer (the model's
// SentencePiece model, or a whitespace-word counter for tests and inspection).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace harpe::eval {

using TokenCounter = std::function<int64_t(std::string_view text)>;

// Counts whitespace-separated words: one "token" per word.
TokenCounter whitespace_word_counter();

// Counts SentencePiece pieces of a model file (the .model protobuf). Throws Error naming the file
// when it cannot be loaded.
TokenCounter sentencepiece_counter(const std::string& model_path);

}  // namespace harpe::eval
