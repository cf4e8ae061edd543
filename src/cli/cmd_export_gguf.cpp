// `harpe export gguf`: a checkpoint as one GGUF file for llama.cpp (model/gguf_export.h).
#include <cstdio>
#include <filesystem>
#include <string>

#include "cli/command.h"
#include "core/error.h"
#include "data/tokenizer.h"
#include "model/gguf_export.h"
#include "model/weights_io.h"

namespace {

struct Options {
  std::string model_dir, out, tokenizer, type = "f32", name;
  bool no_tokenizer = false;
};

// tokenizer.ggml.* from a SentencePiece model; ids the tokenizer does not have (a model
// vocabulary padded past it) are unused placeholders.
harpe::model::GgufVocab tokenizer_vocab(const harpe::data::Tokenizer& tok, int vocab_size,
                                        const std::string& path) {
  using namespace harpe;
  check(tok.vocab_size() <= vocab_size, "tokenizer ", path, " has ", tok.vocab_size(),
        " pieces but the model's vocabulary is ", vocab_size);
  model::GgufVocab v;
  for (int i = 0; i < vocab_size; ++i) {
    if (i >= tok.vocab_size()) {
      v.tokens.push_back("<unused_" + std::to_string(i) + ">");
      v.scores.push_back(0.f);
      v.types.push_back(model::kTokenUnused);
      continue;
    }
    v.tokens.push_back(tok.piece(i));
    v.scores.push_back(tok.score(i));
    switch (tok.kind(i)) {
      case data::PieceKind::normal:
        v.types.push_back(model::kTokenNormal);
        break;
      case data::PieceKind::unknown:
        v.types.push_back(model::kTokenUnknown);
        v.unk = i;
        break;
      case data::PieceKind::control:
        v.types.push_back(model::kTokenControl);
        break;
      case data::PieceKind::unused:
        v.types.push_back(model::kTokenUnused);
        break;
      case data::PieceKind::byte:
        v.types.push_back(model::kTokenByte);
        break;
    }
  }
  v.bos = tok.bos_id();
  v.eos = tok.eos_id();
  return v;
}

void run(const Options& o) {
  using namespace harpe;
  namespace fs = std::filesystem;
  check(o.type == "f32" || o.type == "f16", "--type must be f32 or f16, got '", o.type, "'");
  model::Model m = model::load_model_dir(o.model_dir);
  // Refuse before reading a tokenizer: the reason is about the RoPE, not the files.
  model::gguf_rope(m.config);
  const std::string tok_path =
      o.tokenizer.empty() ? (fs::path(o.model_dir) / "tokenizer.model").string() : o.tokenizer;
  model::GgufVocab vocab;
  if (!o.no_tokenizer && (!o.tokenizer.empty() || fs::exists(tok_path))) {
    vocab = tokenizer_vocab(data::Tokenizer::load(tok_path), m.config.vocab_size, tok_path);
  } else {
    vocab = model::placeholder_vocab(m.config);
  }
  model::GgufExportOptions eo;
  eo.type = o.type == "f16" ? io::gguf::TensorType::f16 : io::gguf::TensorType::f32;
  eo.name = o.name.empty() ? fs::path(o.model_dir).lexically_normal().filename().string() : o.name;
  if (eo.name.empty()) eo.name = "harpe";
  model::export_gguf(m, vocab, eo, o.out);
  std::fprintf(stderr, "wrote %s (%s, %s, vocabulary: %s)\n", o.out.c_str(), o.type.c_str(),
               model::describe(m.config).c_str(),
               vocab.placeholder ? "placeholder tokens" : tok_path.c_str());
}

void setup(CLI::App& parent) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = parent.add_subcommand(
      "gguf",
      "Write a checkpoint as GGUF (llama.cpp's \"llama\" architecture). RoPE that is one table\n"
      "for all heads exports (rope, ABF, PI, NTK, YaRN, Llama 3); HARPE's per-head bases,\n"
      "dynamic NTK and partial rotary are refused. See docs/formats.md.");
  cmd->add_option("--model", o->model_dir, "Checkpoint directory (config.json + model.safetensors)")
      ->required();
  cmd->add_option("--out", o->out, "GGUF file to write")->required();
  cmd->add_option("--type", o->type, "Matrix precision: f32 or f16 (norms stay f32)")
      ->capture_default_str();
  cmd->add_option("--tokenizer", o->tokenizer,
                  "SentencePiece model (default: MODEL/tokenizer.model when it exists, else a "
                  "vocabulary of placeholder tokens)");
  cmd->add_flag("--no-tokenizer", o->no_tokenizer,
                "Write placeholder tokens even when a tokenizer exists");
  cmd->add_option("--name", o->name, "general.name (default: the model directory's name)");
  cmd->callback([o] { run(*o); });
}

}  // namespace

HARPE_COMMAND("export", setup);
