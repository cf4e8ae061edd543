#include "train/data.h"

#include <algorithm>

#include "core/error.h"

namespace harpe::train {

TokenWindows TokenWindows::from_shard(const std::string& path) {
  TokenWindows w;
  w.shard_ = std::make_shared<data::Shard>(data::Shard::open(path));
  w.n_ = w.shard_->n_tokens();
  w.name_ = path;
  return w;
}

TokenWindows TokenWindows::from_tokens(std::vector<int32_t> tokens, std::string name) {
  TokenWindows w;
  w.memory_ = std::move(tokens);
  w.n_ = w.memory_.size();
  w.name_ = std::move(name);
  return w;
}

uint32_t TokenWindows::vocab_size() const { return shard_ ? shard_->vocab_size() : 0; }

void TokenWindows::seek(uint64_t position, uint64_t epoch) {
  check(position < n_, name_, ": data position ", position, " is past the end (", n_, " tokens)");
  pos_ = position;
  epoch_ = epoch;
}

void TokenWindows::copy(uint64_t begin, uint64_t n, int32_t* out) const {
  if (shard_) {
    shard_->copy_tokens(begin, n, out);
  } else {
    std::copy(memory_.begin() + static_cast<long>(begin), memory_.begin() + static_cast<long>(begin + n),
              out);
  }
}

void TokenWindows::next_batch(int B, int T, int32_t* tokens, int32_t* targets) {
  next_batch_part(B, T, 0, B, tokens, targets);
}

void TokenWindows::next_batch_part(int B, int T, int first, int count, int32_t* tokens,
                                   int32_t* targets) {
  check(first >= 0 && count >= 0 && first + count <= B, "batch part [", first, ", ", first + count,
        ") is outside a batch of ", B);
  const uint64_t need = static_cast<uint64_t>(T) + 1;
  check(n_ >= need, name_, ": ", n_, " tokens is too few for one window of context ", T,
        " (needs ", need, ")");
  window_.resize(need);
  for (int b = 0; b < B; ++b) {
    if (pos_ + need > n_) {
      pos_ = 0;
      ++epoch_;
    }
    if (b >= first && b < first + count) {
      const std::size_t row = static_cast<std::size_t>(b - first) * T;
      copy(pos_, need, window_.data());
      std::copy(window_.begin(), window_.end() - 1, tokens + row);
      std::copy(window_.begin() + 1, window_.end(), targets + row);
    }
    pos_ += static_cast<uint64_t>(T);
  }
}

}  // namespace harpe::train
