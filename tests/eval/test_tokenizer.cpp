// The SentencePiece token counter: a tiny model trained in the test sizes RULER samples, and the
// budget holds when recounted with the processor directly.
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "eval/ruler.h"
#include "eval/tokenizer.h"
#include "test_util.h"

namespace harpe::eval {
namespace {

namespace fs = std::filesystem;

TEST(Tokenizer, WhitespaceCounter) {
  const TokenCounter c = whitespace_word_counter();
  EXPECT_EQ(c(""), 0);
  EXPECT_EQ(c("  one\ttwo\n\nthree  "), 3);
  EXPECT_EQ(c("a-b is: 1234567."), 3);
}

TEST(Tokenizer, SentencePieceCounterSizesSamples) {
  const fs::path dir = fs::temp_directory_path() / ("harpe-test-spm-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string corpus = testing::make_essay(600) + "\n" + kNoiseFiller +
                             "\nOne of the special magic numbers for quiet-harbor is: 1234567.\n";
  { std::ofstream(dir / "corpus.txt") << corpus; }
  const std::string prefix = (dir / "tiny").string();
  const auto st = sentencepiece::SentencePieceTrainer::Train(
      "--input=" + (dir / "corpus.txt").string() + " --model_prefix=" + prefix +
      " --vocab_size=300 --model_type=unigram --minloglevel=2");
  ASSERT_TRUE(st.ok()) << st.ToString();
  const TokenCounter count = sentencepiece_counter(prefix + ".model");
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load(prefix + ".model").ok());

  GenOptions opt;
  opt.count_tokens = count;
  opt.essay = testing::make_essay(300, 99);
  for (const std::string task : {"niah_single_2", "niah_multikey_3", "vt", "fwe"}) {
    const TaskSample s = generate_sample(task, 2048, 0, opt);
    std::string joined;
    for (const auto& o : s.outputs) joined += (joined.empty() ? "" : " ") + o;
    std::vector<int> ids;
    ASSERT_TRUE(sp.Encode(s.input + " " + joined, &ids).ok());
    EXPECT_LE(static_cast<int64_t>(ids.size()) + s.tokens_to_generate, 2048) << task;
    EXPECT_GT(static_cast<int64_t>(ids.size()) + s.tokens_to_generate, 1900) << task;
    // Subword pieces: more tokens than words.
    EXPECT_GT(s.prompt_tokens, whitespace_word_counter()(s.input)) << task;
  }
  EXPECT_THROW(sentencepiece_counter((dir / "missing.model").string()), Error);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace harpe::eval
