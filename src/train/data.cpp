#include "train/data.h"

#include <algorithm>

#include "core/error.h"
#include "core/rng.h"

namespace harpe::train {

TokenWindows TokenWindows::from_shard(const std::string& path, bool shuffle, uint64_t seed,
                                      bool align, bool answers_only) {
  TokenWindows w;
  w.shard_ = std::make_shared<data::Shard>(data::Shard::open(path));
  check(!answers_only || w.shard_->has_loss_mask(), path,
        ": loss on answers only needs a shard with a loss mask (harpe data recall writes one); "
        "this one has none");
  w.answers_only_ = answers_only;
  w.n_ = w.shard_->n_tokens();
  w.name_ = path;
  w.shuffle_ = shuffle && w.shard_->n_documents() > 1;
  w.seed_ = seed;
  w.align_ = align && w.shuffle_;
  if (w.shuffle_) w.plan_epoch();
  return w;
}

void TokenWindows::plan_epoch() {
  const uint64_t docs = shard_->n_documents();
  order_.resize(docs);
  for (uint64_t d = 0; d < docs; ++d) order_[d] = d;
  // Fisher-Yates with our own generator: the same order on every platform and standard library.
  uint64_t state = seed_ * 0x2545f4914f6cdd1dull + epoch_ + 1;
  for (uint64_t i = docs - 1; i > 0; --i) std::swap(order_[i], order_[splitmix64(state) % (i + 1)]);
  starts_.resize(docs + 1);
  starts_[0] = 0;
  for (uint64_t i = 0; i < docs; ++i)
    starts_[i + 1] = starts_[i] + shard_->document(order_[i]).length;
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
  const bool replan = shuffle_ && epoch != epoch_;
  pos_ = position;
  epoch_ = epoch;
  if (replan) plan_epoch();
}

void TokenWindows::copy(uint64_t begin, uint64_t n, int32_t* out, uint8_t* scored) const {
  if (shuffle_) {
    // Stream offset -> (k-th document of the order, offset inside it); a window may span several.
    std::size_t k = static_cast<std::size_t>(
                        std::upper_bound(starts_.begin(), starts_.end(), begin) - starts_.begin()) -
                    1;
    while (n > 0) {
      const data::DocumentSpan doc = shard_->document(order_[k]);
      const uint64_t inside = begin - starts_[k];
      const uint64_t take = std::min(n, doc.length - inside);
      shard_->copy_tokens(doc.offset + inside, take, out);
      if (scored)
        for (uint64_t i = 0; i < take; ++i) *scored++ = shard_->scored(doc.offset + inside + i);
      out += take;
      begin += take;
      n -= take;
      ++k;
    }
  } else if (shard_) {
    shard_->copy_tokens(begin, n, out);
    if (scored)
      for (uint64_t i = 0; i < n; ++i) scored[i] = shard_->scored(begin + i);
  } else {
    if (scored) std::fill(scored, scored + n, uint8_t{1});
    std::copy(memory_.begin() + static_cast<long>(begin),
              memory_.begin() + static_cast<long>(begin + n), out);
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
  check(n_ >= need, name_, ": ", n_, " tokens is too few for one window of context ", T, " (needs ",
        need, ")");
  window_.resize(need);
  window_scored_.resize(answers_only_ ? need : 0);
  for (int b = 0; b < B; ++b) {
    if (pos_ + need > n_) {
      pos_ = 0;
      ++epoch_;
      if (shuffle_) plan_epoch();
    }
    if (b >= first && b < first + count) {
      const std::size_t row = static_cast<std::size_t>(b - first) * T;
      copy(pos_, need, window_.data(), answers_only_ ? window_scored_.data() : nullptr);
      std::copy(window_.begin(), window_.end() - 1, tokens + row);
      std::copy(window_.begin() + 1, window_.end(), targets + row);
      if (answers_only_)
        for (int t = 0; t < T; ++t)
          if (!window_scored_[static_cast<std::size_t>(t) + 1])
            targets[row + static_cast<std::size_t>(t)] = -1;
    }
    pos_ = next_start(pos_, T);
  }
}

uint64_t TokenWindows::next_start(uint64_t position, int T) const {
  const uint64_t plain = position + static_cast<uint64_t>(T);
  if (!align_) return plain;
  // The document holding the window's last token (position + T).
  const std::size_t k =
      static_cast<std::size_t>(std::upper_bound(starts_.begin(), starts_.end(), plain) -
                               starts_.begin()) -
      1;
  if (k + 1 >= starts_.size()) return plain;
  const bool began_inside = starts_[k] > position;
  const bool runs_past = starts_[k + 1] > plain + 1;
  return began_inside && runs_past ? starts_[k] : plain;
}

}  // namespace harpe::train
