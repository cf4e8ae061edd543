#include "eval/model_eval.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/timer.h"
#include "infer/session.h"
#include "io/atomic_file.h"
#include "io/read_limits.h"
#include "model/weights_io.h"

namespace harpe::eval {

namespace fs = std::filesystem;

LoadedModel load_model_and_tokenizer(const std::string& dir, const std::string& tokenizer,
                                     Precision precision) {
  check(fs::is_directory(dir), "--model ", dir, ": not a directory");
  check(fs::exists(dir + "/config.json"), "--model ", dir, ": no config.json");
  check(model::has_weights(dir), "--model ", dir,
        ": no model.safetensors (nor model.safetensors.index.json)");
  const std::string tok_path = tokenizer.empty() ? dir + "/tokenizer.model" : tokenizer;
  check(fs::exists(tok_path), "tokenizer ", tok_path,
        " not found (give --tokenizer FILE, e.g. data/tokenizer.model)");
  LoadedModel lm{dir, tok_path, infer::InferenceModel(model::load_model_dir(dir), precision),
                 data::Tokenizer::load(tok_path)};
  check(lm.tokenizer.vocab_size() <= lm.model.config().vocab_size, "tokenizer ", tok_path, " has ",
        lm.tokenizer.vocab_size(), " pieces but the model's vocabulary is ",
        lm.model.config().vocab_size);
  return lm;
}

std::string self_extend_label(const rope::PositionMap& p) {
  if (!p.self_extend()) return "none";
  return std::to_string(p.window) + "," + std::to_string(p.group);
}

std::vector<int64_t> parse_lengths(const std::string& text, const std::string& flag, int64_t c0) {
  std::vector<int64_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    check(!item.empty(), flag, ": empty entry in '", text, "'");
    int64_t mult = 1;
    std::string num = item;
    if (num.back() == 'k' || num.back() == 'K') {
      mult = 1024;
      num.pop_back();
    } else if (num.back() == 'x' && c0 > 0) {
      mult = c0;  // a multiple of the model's original context
      num.pop_back();
    }
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(num, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    check(used == num.size() && !num.empty() && v > 0, flag, ": '", item,
          "' is not a positive length (e.g. 4096 or 4k", c0 > 0 ? ", or 2x for twice C0" : "", ")");
    check(v <= (int64_t{1} << 40) / mult, flag, ": '", item, "' is too large");
    out.push_back(v * mult);
  }
  check(!out.empty(), flag, ": no length given");
  return out;
}

std::vector<double> parse_depths(const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    double v = -1;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    check(used == item.size() && !item.empty() && v >= 0 && v <= 100, "--depths: '", item,
          "' is not a percent in [0, 100]");
    out.push_back(v);
  }
  check(!out.empty(), "--depths: no depth given");
  return out;
}

TokenCounter model_token_counter(const data::Tokenizer& tok) {
  return [&tok](std::string_view text) { return static_cast<int64_t>(tok.encode(text).size()); };
}

Generator model_generator(const infer::InferenceModel& m, const data::Tokenizer& tok,
                          const rope::PositionMap& position, GenerationStats* stats) {
  return [&m, &tok, position, stats](const std::string& prompt, int max_new_tokens) {
    std::vector<int32_t> ids;
    if (tok.bos_id() >= 0) ids.push_back(tok.bos_id());
    for (int32_t t : tok.encode(prompt)) ids.push_back(t);
    check(max_new_tokens >= 1, "max_new_tokens must be >= 1");
    infer::SessionOptions so;
    so.capacity = static_cast<int>(ids.size()) + max_new_tokens;
    so.position = position;
    infer::Session session(m, so);
    infer::SamplingOptions sampling;  // greedy
    sampling.max_new_tokens = max_new_tokens;
    if (tok.eos_id() >= 0) sampling.stop_tokens.push_back(tok.eos_id());
    Timer timer;
    double prefill_s = -1;
    std::vector<int32_t> out = infer::generate(session, ids, sampling, [&](int32_t) {
      if (prefill_s < 0) prefill_s = timer.seconds();
      return true;
    });
    const double total = timer.seconds();
    if (!out.empty() && out.back() == tok.eos_id()) out.pop_back();
    if (stats) {
      stats->prompts += 1;
      stats->prompt_tokens += static_cast<int64_t>(ids.size());
      stats->new_tokens += static_cast<int64_t>(out.size());
      stats->prefill_s += prefill_s < 0 ? total : prefill_s;
      stats->decode_s += prefill_s < 0 ? 0 : total - prefill_s;
    }
    return tok.decode(out);
  };
}

std::string ppl_markdown(const std::vector<PplResult>& ppl) {
  if (ppl.empty()) return "";
  // dataset rows x window columns (stride in the header when it is the same everywhere).
  std::vector<std::string> datasets;
  std::set<int64_t> windows;
  std::set<int64_t> strides;
  std::map<std::pair<std::string, int64_t>, const PplResult*> cell;
  for (const PplResult& p : ppl) {
    if (std::find(datasets.begin(), datasets.end(), p.dataset) == datasets.end())
      datasets.push_back(p.dataset);
    windows.insert(p.window);
    strides.insert(p.stride);
    cell[{p.dataset, p.window}] = &p;
  }
  std::ostringstream o;
  char buf[64];
  o << "| perplexity";
  if (strides.size() == 1) o << " (stride " << *strides.begin() << ")";
  o << " |";
  for (int64_t w : windows) o << " " << w << " |";
  o << " avg |\n|---|";
  for (size_t i = 0; i <= windows.size(); ++i) o << "---:|";
  o << "\n";
  for (const std::string& d : datasets) {
    o << "| " << d << " |";
    double sum = 0;
    int n = 0;
    for (int64_t w : windows) {
      auto it = cell.find({d, w});
      if (it == cell.end()) {
        o << " - |";
        continue;
      }
      const double v = it->second->perplexity();
      std::snprintf(buf, sizeof buf, " %.3f |", v);
      o << buf;
      sum += v;
      ++n;
    }
    if (n) {
      std::snprintf(buf, sizeof buf, " %.3f |", sum / n);
      o << buf << "\n";
    } else {
      o << " - |\n";
    }
  }
  o << "\n(scored tokens per cell: ";
  bool first = true;
  for (const PplResult& p : ppl) {
    o << (first ? "" : ", ") << p.window << ": " << p.tokens;
    first = false;
  }
  o << ")\n";
  return o.str();
}

std::string run_markdown(const RunResults& run) {
  std::ostringstream o;
  o << "# " << run.name << "\n\n";
  for (const auto& [k, v] : run.meta) o << "- " << k << ": " << v << "\n";
  o << "\n";
  if (!run.tasks.empty())
    o << markdown_table(run) << "\n"
      << kPartialCreditCaption << ":\n\n"
      << markdown_table(run, TaskMetric::words) << "\n";
  if (run.has_needle) {
    o << "Needle grid (depth % rows x context length columns), average " << run.needle.average()
      << ":\n\n"
      << needle_markdown(run.needle) << "\n";
    if (!run.needle_png.empty())
      o << "![needle heatmap](" << run.needle_png << ")\n\n";
    else if (!run.needle_svg.empty())
      o << "![needle heatmap](" << run.needle_svg << ")\n\n";
  }
  if (!run.recall.empty()) o << recall_markdown(run);
  if (!run.ppl.empty()) o << ppl_markdown(run.ppl) << "\n";
  return o.str();
}

void write_run_dir(const RunResults& run, const std::string& dir, bool keep_predictions) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  check(fs::is_directory(dir), "--out ", dir, ": cannot create the directory");
  write_results(run, dir + "/results.json", keep_predictions);
  io::write_text_atomic(dir + "/results.md", run_markdown(run));
}

void fill_model_meta(RunResults& run, const LoadedModel& lm, const rope::PositionMap& position) {
  run.meta["model"] = model::describe(lm.model.config());
  run.meta["checkpoint"] = lm.dir;
  run.meta["tokenizer"] = lm.tokenizer_path;
  run.meta["method"] = std::string(rope::scheme_name(lm.model.config().rope.scheme));
  run.meta["self_extend"] = self_extend_label(position);
  run.meta["weights"] = precision_name(lm.model.precision());
  run.meta["kv_cache"] = precision_name(lm.model.precision());  // sessions follow the weights
}

}  // namespace harpe::eval
