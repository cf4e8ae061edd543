// A tiny random checkpoint for the model-backed eval tests: the "micro" preset with the vocabulary
// of a SentencePiece model trained here on a small text, saved with save_model_dir, plus a corpus
// directory whose test split holds long held-out documents. Built once per test program.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "data/corpus.h"
#include "data/tokenizer.h"
#include "eval/ruler.h"
#include "model/model.h"
#include "model/weights_io.h"
#include "test_util.h"

namespace harpe::eval::testing {

struct TinyCheckpoint {
  std::string root, model_dir, corpus_dir, essay_path;
};

inline const TinyCheckpoint& tiny_checkpoint() {
  static const TinyCheckpoint ck = [] {
    namespace fs = std::filesystem;
    TinyCheckpoint c;
    c.root = (fs::temp_directory_path() / ("harpe-evalcli-" + std::to_string(::getpid()))).string();
    c.model_dir = c.root + "/model";
    c.corpus_dir = c.root + "/corpus";
    c.essay_path = c.root + "/essay.txt";
    fs::create_directories(c.model_dir);
    static std::string cleanup_root = c.root;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(cleanup_root, ec);
    });
    fs::create_directories(c.corpus_dir);
    std::vector<std::string> texts;
    for (int i = 0; i < 6; ++i) texts.push_back(make_essay(60, 100 + i));
    texts.push_back(std::string(kNoiseFiller) +
                    "\nOne of the special magic numbers for quiet-harbor is: 1234567.\n");
    data::TokenizerTrainOptions o;
    o.vocab_size = 360;
    const std::string proto = data::train_tokenizer(texts, o);
    { std::ofstream(c.model_dir + "/tokenizer.model", std::ios::binary) << proto; }
    model::ModelConfig cfg = model::preset("micro");
    cfg.vocab_size = 360;
    cfg.max_position_embeddings = 1024;
    model::Model m(cfg);
    model::init_params(m, 11);
    model::save_model_dir(m, c.model_dir);
    // Held-out corpus: 3 long documents and 1 short one in the test split.
    std::ofstream test(c.corpus_dir + "/test.jsonl");
    for (int i = 0; i < 4; ++i) {
      data::Record r{"doc" + std::to_string(i), i == 2 ? "short" : "essay", "test",
                     i == 2 ? std::string("Too short.") : make_essay(80, 200 + i)};
      test << data::record_to_json(r) << "\n";
    }
    std::ofstream(c.corpus_dir + "/train.jsonl") << "";
    std::ofstream(c.corpus_dir + "/validation.jsonl") << "";
    { std::ofstream(c.essay_path) << make_essay(400, 5); }
    return c;
  }();
  return ck;
}

}  // namespace harpe::eval::testing
