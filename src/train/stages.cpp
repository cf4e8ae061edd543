// `--stages` lists for multi-stage ABF (train/extend.h).
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/json_util.h"
#include "train/extend.h"

namespace harpe::train {

namespace fs = std::filesystem;

std::vector<StageSpec> parse_stages(const std::string& text) {
  std::vector<StageSpec> out;
  std::string item;
  std::istringstream items(text);
  while (std::getline(items, item, ',')) {
    const std::string where =
        "--stages: stage " + std::to_string(out.size() + 1) + " '" + item + "'";
    StageSpec s;
    std::string kv;
    std::istringstream fields(item);
    bool has_base = false, has_len = false;
    while (std::getline(fields, kv, ':')) {
      const auto eq = kv.find('=');
      check(eq != std::string::npos, where, ": expected key=value, got '", kv, "'");
      const std::string key = kv.substr(0, eq), val = kv.substr(eq + 1);
      double x = 0;
      std::size_t used = 0;
      try {
        x = std::stod(val, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      check(used == val.size() && !val.empty() && std::isfinite(x), where, ": ", key,
            " is not a number: '", val, "'");
      if (key == "base") {
        check(x > 1, where, ": base must be > 1");
        s.base = x;
        has_base = true;
      } else if (key == "len" || key == "length" || key == "context") {
        check(x >= 2 && x == std::floor(x) && x < 1e9, where, ": len must be an integer >= 2");
        s.length = static_cast<int>(x);
        has_len = true;
      } else if (key == "tokens") {
        check(x >= 1 && x == std::floor(x), where, ": tokens must be a positive integer");
        s.tokens = static_cast<uint64_t>(x);
      } else if (key == "steps") {
        check(x >= 1 && x == std::floor(x), where, ": steps must be a positive integer");
        s.steps = static_cast<long>(x);
      } else {
        fail(where, ": unknown key '", key, "' (base, len, tokens, steps)");
      }
    }
    check(has_base && has_len, where, ": needs base=B and len=L");
    check((s.tokens > 0) != (s.steps > 0), where, ": give exactly one of tokens=N or steps=S");
    out.push_back(s);
  }
  check(!out.empty(), "--stages: no stages in '", text, "'");
  for (std::size_t i = 1; i < out.size(); ++i)
    check(out[i].length >= out[i - 1].length, "--stages: stage ", i + 1,
          " is shorter than the one before (", out[i].length, " < ", out[i - 1].length, ")");
  return out;
}

std::vector<StageSpec> read_stages_file(const std::string& path) {
  check(fs::is_regular_file(path), "--stages-file ", path, ": no such file");
  std::istringstream in(io::read_file(path));
  std::string line, joined;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::string clean;
    for (char c : line)
      if (!std::isspace(static_cast<unsigned char>(c))) clean += c;
    if (clean.empty()) continue;
    if (!joined.empty() && joined.back() != ',' && clean.front() != ',') joined += ',';
    joined += clean;
  }
  check(!joined.empty(), "--stages-file ", path, ": no stages");
  return parse_stages(joined);
}

std::vector<double> parse_base_list(const std::string& text) {
  std::vector<double> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) {
    std::size_t used = 0;
    double x = 0;
    try {
      x = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    check(used == item.size() && !item.empty() && std::isfinite(x) && x > 1, "--bases: '", item,
          "' is not a base > 1 (expected uniform, uniform-desc, peak-valley or a list b1,b2,...)");
    out.push_back(x);
  }
  return out;
}

}  // namespace harpe::train
