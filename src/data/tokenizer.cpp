#include "data/tokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "data/corpus.h"

namespace harpe::data {

namespace {

// Feeds prepared lines to the trainer in order.
class LineIterator : public sentencepiece::SentenceIterator {
 public:
  explicit LineIterator(const std::vector<std::string>& lines) : lines_(lines) {}
  bool done() const override { return i_ >= lines_.size(); }
  void Next() override { ++i_; }
  const std::string& value() const override { return lines_[i_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& lines_;
  std::size_t i_ = 0;
};

// Cut point <= max that does not split a UTF-8 sequence.
std::size_t utf8_cut(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s.size();
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return cut == 0 ? max : cut;
}

}  // namespace

std::string train_tokenizer(const std::vector<std::string>& texts,
                            const TokenizerTrainOptions& opt) {
  check(opt.vocab_size >= 260, "--vocab ", opt.vocab_size,
        ": must be at least 260 (256 byte pieces + specials)");
  check(opt.max_sentence_length >= 64, "max_sentence_length must be >= 64");
  std::vector<std::string> lines;
  for (const auto& t : texts) {
    std::string_view rest = t;
    while (!rest.empty()) {
      auto nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
      while (!line.empty()) {
        std::size_t cut = utf8_cut(line, static_cast<std::size_t>(opt.max_sentence_length));
        std::string_view piece = line.substr(0, cut);
        if (piece.find_first_not_of(" \t\r") != std::string_view::npos) lines.emplace_back(piece);
        line.remove_prefix(cut);
      }
    }
  }
  check(!lines.empty(), "tokenizer: training text is empty");
  if (opt.max_sentences > 0 && static_cast<std::int64_t>(lines.size()) > opt.max_sentences) {
    std::vector<std::string> kept;
    double stride = static_cast<double>(lines.size()) / static_cast<double>(opt.max_sentences);
    for (std::int64_t k = 0; k < opt.max_sentences; ++k)
      kept.push_back(std::move(lines[static_cast<std::size_t>(static_cast<double>(k) * stride)]));
    lines = std::move(kept);
  }
  opt.log("tokenizer: training BPE, vocab " + std::to_string(opt.vocab_size) + " on " +
          std::to_string(lines.size()) + " lines");
  std::ostringstream args;
  args << "--model_type=bpe --vocab_size=" << opt.vocab_size
       << " --byte_fallback=true --character_coverage=0.9999 --split_digits="
       << (opt.split_digits ? "true" : "false")
       << " --normalization_rule_name=identity --remove_extra_whitespaces=false"
       << " --allow_whitespace_only_pieces=true --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1"
       << " --max_sentence_length=" << opt.max_sentence_length
       << " --input_sentence_size=0 --shuffle_input_sentence=false --num_threads="
       << opt.num_threads << " --minloglevel=2 --model_prefix=";
  sentencepiece::SetRandomGeneratorSeed(1234);
  LineIterator it(lines);
  std::string proto;
  auto st = sentencepiece::SentencePieceTrainer::Train(args.str(), &it, &proto);
  check(st.ok(), "tokenizer: SentencePiece training failed: ", st.ToString());
  check(!proto.empty(), "tokenizer: SentencePiece returned an empty model");
  return proto;
}

void train_tokenizer_from_corpus(const std::string& corpus_dir, const std::string& out_path,
                                 const TokenizerTrainOptions& opt) {
  std::vector<std::string> texts;
  for_each_record(corpus_split_path(corpus_dir, Split::train),
                  [&](Record&& r) { texts.push_back(std::move(r.text)); });
  std::string proto = train_tokenizer(texts, opt);
  std::string tmp = out_path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    check(static_cast<bool>(out), "--out ", out_path, ": cannot write ", tmp);
    out.write(proto.data(), static_cast<std::streamsize>(proto.size()));
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      fail("--out ", out_path, ": write failed");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, out_path, ec);
  check(!ec, "--out ", out_path, ": rename failed: ", ec.message());
}

Tokenizer::Tokenizer() : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::string& path) {
  check(std::filesystem::is_regular_file(path), "tokenizer ", path,
        ": no such file (train one with `harpe data tokenizer`)");
  Tokenizer t;
  t.name_ = path;
  auto st = t.sp_->Load(path);
  check(st.ok(), "tokenizer ", path, ": not a SentencePiece model: ", st.ToString());
  return t;
}

Tokenizer Tokenizer::from_serialized(const std::string& model_proto, const std::string& what) {
  Tokenizer t;
  t.name_ = what;
  auto st = t.sp_->LoadFromSerializedProto(model_proto);
  check(st.ok(), what, ": not a SentencePiece model: ", st.ToString());
  return t;
}

int Tokenizer::vocab_size() const { return sp_->GetPieceSize(); }
int Tokenizer::bos_id() const { return sp_->bos_id(); }
int Tokenizer::eos_id() const { return sp_->eos_id(); }

std::vector<std::int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  auto st = sp_->Encode(absl::string_view(text.data(), text.size()), &ids);
  check(st.ok(), name_, ": encoding failed: ", st.ToString());
  return {ids.begin(), ids.end()};
}

std::vector<std::int32_t> Tokenizer::encode_document(std::string_view text) const {
  std::vector<std::int32_t> out;
  if (bos_id() >= 0) out.push_back(bos_id());
  auto body = encode(text);
  out.insert(out.end(), body.begin(), body.end());
  if (eos_id() >= 0) out.push_back(eos_id());
  return out;
}

std::string Tokenizer::decode(const std::vector<std::int32_t>& ids) const {
  std::vector<int> v(ids.begin(), ids.end());
  std::string out;
  auto st = sp_->Decode(v, &out);
  check(st.ok(), name_, ": decoding failed: ", st.ToString());
  return out;
}

std::string Tokenizer::piece(int id) const {
  check(id >= 0 && id < vocab_size(), name_, ": token id ", id, " outside [0, ", vocab_size(), ")");
  return sp_->IdToPiece(id);
}

float Tokenizer::score(int id) const {
  check(id >= 0 && id < vocab_size(), name_, ": token id ", id, " outside [0, ", vocab_size(), ")");
  return sp_->GetScore(id);
}

PieceKind Tokenizer::kind(int id) const {
  check(id >= 0 && id < vocab_size(), name_, ": token id ", id, " outside [0, ", vocab_size(), ")");
  if (sp_->IsUnknown(id)) return PieceKind::unknown;
  if (sp_->IsControl(id)) return PieceKind::control;
  if (sp_->IsUnused(id)) return PieceKind::unused;
  if (sp_->IsByte(id)) return PieceKind::byte;
  return PieceKind::normal;
}

}  // namespace harpe::data
