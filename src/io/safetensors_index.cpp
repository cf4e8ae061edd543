#include "io/safetensors_index.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <set>
#include <utility>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/json_util.h"
#include "io/read_limits.h"

namespace harpe::io {

namespace fs = std::filesystem;

namespace {

// A shard must be a file of the index's own directory: a name, not a path.
void check_plain_name(const std::string& name, const std::string& tensor, const std::string& path) {
  check(!name.empty(), path, ": tensor ", printable(tensor), " maps to an empty file name");
  check(name.find('/') == std::string::npos && name.find('\\') == std::string::npos &&
            name.find('\0') == std::string::npos && name != "." && name != "..",
        path, ": tensor ", printable(tensor), " maps to ", printable(name),
        ", not a plain file name in the index's directory");
}

bool is_shard_name(const std::string& s) {  // model-NNNNN-of-NNNNN.safetensors
  if (s.size() != 32 || s.rfind("model-", 0) != 0 || s.substr(11, 4) != "-of-" ||
      s.substr(20) != ".safetensors")
    return false;
  for (std::size_t i : {6u, 7u, 8u, 9u, 10u, 15u, 16u, 17u, 18u, 19u})
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

}  // namespace

ShardIndex parse_shard_index(std::string_view text, const std::string& path) {
  const Json j = parse_json(text, path);
  check(j.is_object(), path, ": must be a JSON object, got ", json_type_name(j));
  if (j.contains("metadata"))
    check(j["metadata"].is_object() || j["metadata"].is_null(), path,
          ": \"metadata\" must be an object, got ", json_type_name(j["metadata"]));
  check(j.contains("weight_map") && j["weight_map"].is_object(), path,
        ": \"weight_map\" must be an object {tensor: shard file}");
  ShardIndex idx;
  std::set<std::string> shards;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    check(it.value().is_string(), path, ": weight_map entry ", printable(it.key()),
          " must be a file name string, got ", json_type_name(it.value()));
    const std::string file = it.value().get<std::string>();
    check_plain_name(file, it.key(), path);
    idx.weight_map[it.key()] = file;
    shards.insert(file);
  }
  check(!idx.weight_map.empty(), path, ": weight_map lists no tensors");
  idx.shards.assign(shards.begin(), shards.end());
  return idx;
}

std::int64_t parse_shard_size(const std::string& text, const std::string& flag) {
  // HF's convert_file_size_to_int: the unit is matched case-insensitively; KB/MB/GB with a
  // lower-case final 'b' are bits.
  struct Unit {
    const char* suffix;
    std::int64_t mult;
    bool bits_if_lower_b;
  };
  static constexpr Unit kUnits[] = {{"GIB", std::int64_t{1} << 30, false},
                                    {"MIB", std::int64_t{1} << 20, false},
                                    {"KIB", std::int64_t{1} << 10, false},
                                    {"GB", 1'000'000'000, true},
                                    {"MB", 1'000'000, true},
                                    {"KB", 1'000, true}};
  auto bad = [&] {
    fail(flag, ": ", printable(text),
         " is not a size (an integer number of bytes, or e.g. 500MB, 5GB, 2GiB)");
  };
  std::string upper;
  for (char c : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string digits = text;
  std::int64_t mult = 1;
  bool bits = false;
  for (const Unit& u : kUnits) {
    const std::string suf = u.suffix;
    if (upper.size() > suf.size() &&
        upper.compare(upper.size() - suf.size(), suf.size(), suf) == 0) {
      digits = text.substr(0, text.size() - suf.size());
      mult = u.mult;
      bits = u.bits_if_lower_b && text.back() == 'b';
      break;
    }
  }
  if (digits.empty() || digits.size() > 18) bad();
  for (char c : digits)
    if (!std::isdigit(static_cast<unsigned char>(c))) bad();
  const std::int64_t n = std::stoll(digits);
  std::int64_t bytes = 0;
  if (__builtin_mul_overflow(n, mult, &bytes)) bad();
  if (bits) bytes /= 8;
  check(bytes > 0, flag, ": ", printable(text), " must be a positive size");
  return bytes;
}

std::vector<std::vector<std::size_t>> plan_shards(std::span<const std::uint64_t> sizes,
                                                  std::uint64_t max_bytes) {
  std::vector<std::vector<std::size_t>> shards;
  std::vector<std::size_t> current;
  std::uint64_t current_size = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (max_bytes == 0) {
      current.push_back(i);
      continue;
    }
    if (sizes[i] > max_bytes) {  // alone in its own shard, before the one being filled
      shards.push_back({i});
      continue;
    }
    if (current_size + sizes[i] > max_bytes) {
      shards.push_back(std::move(current));
      current.clear();
      current_size = 0;
    }
    current.push_back(i);
    current_size += sizes[i];
  }
  if (!current.empty() || shards.empty()) shards.push_back(std::move(current));
  return shards;
}

std::string shard_file_name(std::size_t i, std::size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", i + 1, n);
  return buf;
}

std::vector<std::string> write_safetensors_dir(const std::string& dir,
                                               const std::vector<TensorView>& tensors,
                                               const std::map<std::string, std::string>& metadata,
                                               StoreDtype dtype, std::uint64_t max_bytes) {
  std::vector<std::uint64_t> sizes;
  for (const TensorView& t : tensors) {
    std::uint64_t n = store_dtype_size(dtype);
    for (auto d : t.shape) n *= static_cast<std::uint64_t>(std::max<std::int64_t>(d, 0));
    sizes.push_back(n);
  }
  const auto plan = plan_shards(sizes, max_bytes);
  std::vector<std::string> written;
  std::error_code ec;
  if (plan.size() == 1) {
    write_safetensors(dir + "/" + kWeightsFile, tensors, metadata, dtype);
    written.push_back(kWeightsFile);
  } else {
    Json map = Json::object();
    std::uint64_t total = 0;
    for (std::size_t s = 0; s < plan.size(); ++s) {
      const std::string name = shard_file_name(s, plan.size());
      std::vector<TensorView> part;
      for (std::size_t i : plan[s]) {
        part.push_back(tensors[i]);
        map[tensors[i].name] = name;
        total += sizes[i];
      }
      write_safetensors(dir + "/" + name, part, metadata, dtype);
      written.push_back(name);
    }
    // json.dumps(index, indent=2, sort_keys=True) + "\n", as transformers writes it.
    const Json index = {{"metadata", {{"total_size", total}}}, {"weight_map", map}};
    write_text_atomic(dir + "/" + kWeightsIndexFile, index.dump(2) + "\n");
    written.push_back(kWeightsIndexFile);
  }
  // Remove the other form: a stale single file would win over the new index, stale shards
  // would only confuse.
  const std::set<std::string> keep(written.begin(), written.end());
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (keep.count(n)) continue;
    if (n == kWeightsFile || n == kWeightsIndexFile || is_shard_name(n)) fs::remove(e.path(), ec);
  }
  return written;
}

// ---- reading -------------------------------------------------------------------------------

SafetensorsSet::SafetensorsSet(const std::string& file) : source_(file) {
  files_.emplace_back(file);
  for (const std::string& n : files_[0].names()) where_[n] = 0;
}

bool SafetensorsSet::dir_has_weights(const std::string& dir) {
  return fs::exists(dir + "/" + kWeightsFile) || fs::exists(dir + "/" + kWeightsIndexFile);
}

SafetensorsSet SafetensorsSet::open_dir(const std::string& dir) {
  if (fs::exists(dir + "/" + kWeightsFile)) return SafetensorsSet(dir + "/" + kWeightsFile);
  if (fs::exists(dir + "/" + kWeightsIndexFile)) return open_index(dir + "/" + kWeightsIndexFile);
  fail(dir, ": no ", kWeightsFile, " or ", kWeightsIndexFile);
}

SafetensorsSet SafetensorsSet::open_index(const std::string& index_path) {
  const ShardIndex idx =
      parse_shard_index(read_regular_file(index_path, kIndexFileLimit, "index"), index_path);
  const fs::path dir = fs::path(index_path).parent_path();
  SafetensorsSet set;
  set.source_ = index_path;
  for (const std::string& shard : idx.shards) {
    const fs::path p = dir / shard;
    if (!fs::exists(p)) {
      std::string tensor;  // name one tensor that needs it
      for (const auto& [t, f] : idx.weight_map)
        if (f == shard) {
          tensor = t;
          break;
        }
      fail(index_path, ": shard ", printable(shard), " (holding tensor ", printable(tensor),
           ") does not exist");
    }
    set.files_.emplace_back(p.string());
  }
  // Every tensor of every shard: once, and where the index says.
  for (std::size_t s = 0; s < set.files_.size(); ++s)
    for (const std::string& name : set.files_[s].names()) {
      auto [it, fresh] = set.where_.emplace(name, s);
      check(fresh, index_path, ": tensor ", printable(name), " is in two shards, ",
            printable(idx.shards[it->second]), " and ", printable(idx.shards[s]));
    }
  for (const auto& [name, s] : set.where_) {
    auto m = idx.weight_map.find(name);
    check(m != idx.weight_map.end(), index_path, ": tensor ", printable(name), " of shard ",
          printable(idx.shards[s]), " is not in the weight_map");
    check(m->second == idx.shards[s], index_path, ": tensor ", printable(name), " is in shard ",
          printable(idx.shards[s]), " but the weight_map puts it in ", printable(m->second));
  }
  for (const auto& [name, shard] : idx.weight_map)
    check(set.where_.count(name) != 0, index_path, ": tensor ", printable(name),
          " is missing from its shard ", printable(shard));
  return set;
}

const SafetensorsFile& SafetensorsSet::file_of(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) fail(source_, ": no tensor ", printable(name));
  return files_[it->second];
}

std::vector<std::string> SafetensorsSet::names() const {
  std::vector<std::string> out;
  for (const auto& [n, s] : where_) out.push_back(n);
  return out;
}

}  // namespace harpe::io
