#include "data/packing.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "data/text.h"

namespace harpe::data {

namespace {

struct Rng {  // splitmix64: portable and fully specified
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
};

void shuffle(std::vector<std::uint64_t>& v, Rng& r) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[r.below(i)]);
}

std::uint64_t fingerprint(const Shard& s, const PackOptions& o) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 0x100000001b3ull;
    }
  };
  std::uint64_t factor_bits;
  std::memcpy(&factor_bits, &o.long_factor, 8);
  for (std::uint64_t v : {s.n_tokens(), s.n_documents(), static_cast<std::uint64_t>(o.seq_len), o.seed,
                          static_cast<std::uint64_t>(o.upsample_long), o.long_threshold, factor_bits})
    mix(v);
  return h;
}

}  // namespace

std::vector<std::uint64_t> epoch_plan(const Shard& shard, const PackOptions& opt, std::uint64_t epoch) {
  Rng r{opt.seed * 0x9e3779b97f4a7c15ull ^ (epoch + 1) * 0xd1b54a32d192ed03ull};
  std::vector<std::uint64_t> plan;
  const std::uint64_t n_docs = shard.n_documents();
  if (!opt.upsample_long) {
    plan.resize(n_docs);
    for (std::uint64_t d = 0; d < n_docs; ++d) plan[d] = d;
  } else {
    const std::size_t n_sources = shard.sources().size();
    std::vector<std::vector<std::uint64_t>> docs(n_sources);
    std::vector<std::vector<double>> cum(n_sources);  // cumulative weights
    std::vector<std::uint64_t> tokens(n_sources, 0);
    for (std::uint64_t d = 0; d < n_docs; ++d) {
      auto doc = shard.document(d);
      if (doc.length == 0) continue;
      double w = doc.length > opt.long_threshold ? opt.long_factor : 1.0;
      docs[doc.source].push_back(d);
      cum[doc.source].push_back((cum[doc.source].empty() ? 0.0 : cum[doc.source].back()) + w);
      tokens[doc.source] += doc.length;
    }
    for (std::size_t s = 0; s < n_sources; ++s) {
      std::uint64_t drawn = 0;
      while (drawn < tokens[s]) {
        double u = r.uniform() * cum[s].back();
        auto it = std::upper_bound(cum[s].begin(), cum[s].end(), u);
        std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(it - cum[s].begin()), docs[s].size() - 1);
        plan.push_back(docs[s][k]);
        drawn += shard.document(docs[s][k]).length;
      }
    }
  }
  shuffle(plan, r);
  return plan;
}

Packer::Packer(const Shard& shard, PackOptions opt) : shard_(shard), opt_(opt) {
  check(opt_.seq_len >= 1, "packing: sequence length must be >= 1, got ", opt_.seq_len);
  check(shard_.n_tokens() > static_cast<std::uint64_t>(opt_.seq_len), "packing: shard ", shard_.path(), " has ",
        shard_.n_tokens(), " tokens, fewer than one sequence of ", opt_.seq_len + 1);
  check(!opt_.upsample_long || opt_.long_factor > 0, "packing: long_factor must be positive");
  state_.fingerprint = fingerprint(shard_, opt_);
}

std::uint64_t Packer::sequences_per_epoch() const {
  return (shard_.n_tokens() - 1) / static_cast<std::uint64_t>(opt_.seq_len);
}

const std::vector<std::uint64_t>& Packer::plan(std::uint64_t epoch) {
  if (epoch != cached_epoch_) {
    cached_plan_ = epoch_plan(shard_, opt_, epoch);
    cached_epoch_ = epoch;
  }
  return cached_plan_;
}

void Packer::restore(const PackState& s) {
  check(s.fingerprint == state_.fingerprint, "packing: saved data position belongs to another shard, seed, ",
        "sequence length or upsampling setting; cannot resume");
  const auto& p = plan(s.epoch);
  check(s.plan_pos < p.size() && s.doc_offset <= shard_.document(p[s.plan_pos]).length,
        "packing: saved data position is out of range");
  state_ = s;
}

void Packer::next(std::int32_t* out) {
  const std::uint64_t want = static_cast<std::uint64_t>(opt_.seq_len) + 1;
  // Read `want` tokens from the cursor; remember where the cursor stands after seq_len of them.
  PackState c = state_, after = state_;
  std::uint64_t got = 0;
  while (got < want) {
    const auto& p = plan(c.epoch);
    if (c.plan_pos >= p.size()) {
      ++c.epoch;
      c.plan_pos = 0;
      c.doc_offset = 0;
      continue;
    }
    auto doc = shard_.document(p[c.plan_pos]);
    if (c.doc_offset >= doc.length) {
      ++c.plan_pos;
      c.doc_offset = 0;
      continue;
    }
    std::uint64_t take = std::min(doc.length - c.doc_offset, want - got);
    if (got < want - 1 && got + take >= want - 1) {  // the cursor position after seq_len tokens
      after = c;
      after.doc_offset += (want - 1) - got;
    }
    shard_.copy_tokens(doc.offset + c.doc_offset, take, out + got);
    got += take;
    c.doc_offset += take;
  }
  // Normalise: a cursor at the end of a document moves to the next one (keeps states canonical).
  for (;;) {
    const auto& p = plan(after.epoch);
    if (after.plan_pos >= p.size()) {
      ++after.epoch;
      after.plan_pos = 0;
      after.doc_offset = 0;
    } else if (after.doc_offset >= shard_.document(p[after.plan_pos]).length) {
      ++after.plan_pos;
      after.doc_offset = 0;
    } else {
      break;
    }
  }
  after.sequences = state_.sequences + 1;
  state_ = after;
}

}  // namespace harpe::data
