#include "data/shard_build.h"

#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "core/error.h"
#include "core/timer.h"

namespace harpe::data {

namespace {

SourceStats& stats_for(std::vector<SourceStats>& v, const std::string& source) {
  for (auto& s : v)
    if (s.source == source) return s;
  v.push_back(SourceStats{source});
  return v.back();
}

void count(SourceStats& s, std::int64_t n) {
  s.documents += 1;
  s.tokens += n;
  s.max_tokens = std::max(s.max_tokens, n);
  for (int i = 0; i < 4; ++i)
    if (n > kLengthThresholds[i]) s.longer_than[i] += 1;
}

// Tokenizes a batch in parallel; writes it in order.
void flush_batch(std::vector<Record>& batch, const Tokenizer& tok, ShardWriter& w,
                 ShardBuildResult& res) {
  std::vector<std::vector<std::int32_t>> ids(batch.size());
  const auto n = static_cast<std::int64_t>(batch.size());
  std::string error;
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t i = 0; i < n; ++i) {
    try {
      ids[i] = tok.encode_document(batch[i].text);
    } catch (const std::exception& e) {
#pragma omp critical
      if (error.empty()) error = batch[i].id + ": " + e.what();
    }
  }
  if (!error.empty()) fail("tokenizing ", error);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    w.add_document(ids[i], w.source_id(batch[i].source));
    count(stats_for(res.sources, batch[i].source), static_cast<std::int64_t>(ids[i].size()));
    res.text_bytes += static_cast<std::int64_t>(batch[i].text.size());
  }
  batch.clear();
}

}  // namespace

namespace {

using RecordSink = std::function<void(Record&&)>;

// Feeds every record that `for_each_source` produces through the tokenizer, batch by batch (each
// batch over all threads, written in order), into the shard at out_path; progress every 2 s. `what`
// names the input in the error for an empty one.
ShardBuildResult build_from(const std::function<void(const RecordSink&)>& for_each_source,
                            const std::string& what, const Tokenizer& tok,
                            const std::string& out_path,
                            const std::function<void(const std::string&)>& log) {
  ShardBuildResult res;
  Timer timer;
  const std::clock_t cpu0 = std::clock();
  ShardWriter w(out_path, static_cast<std::uint32_t>(tok.vocab_size()));
  std::vector<Record> batch;
  std::size_t batch_bytes = 0;
  std::int64_t docs = 0;
  double last_report = 0;
  for_each_source([&](Record&& r) {
    batch_bytes += r.text.size();
    batch.push_back(std::move(r));
    ++docs;
    if (batch_bytes >= (8u << 20) || batch.size() >= 4096) {
      flush_batch(batch, tok, w, res);
      batch_bytes = 0;
      if (log && timer.seconds() - last_report > 2) {
        last_report = timer.seconds();
        char line[160];
        std::snprintf(line, sizeof line, "shards: %lld documents, %.1f MB, %.2f MB/s",
                      static_cast<long long>(docs), static_cast<double>(res.text_bytes) / 1e6,
                      static_cast<double>(res.text_bytes) / 1e6 / last_report);
        log(line);
      }
    }
  });
  flush_batch(batch, tok, w, res);
  check(w.n_documents() > 0, what, " has no documents");
  w.finish();
  res.seconds = timer.seconds();
  res.cpu_seconds = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
  if (log) log("shards: " + std::to_string(docs) + " documents");
  return res;
}

}  // namespace

ShardBuildResult build_shard(const std::string& corpus_dir, Split split, const Tokenizer& tok,
                             const std::string& out_path,
                             const std::function<void(const std::string&)>& log) {
  return build_from(
      [&](const RecordSink& sink) { for_each_record(corpus_split_path(corpus_dir, split), sink); },
      "corpus " + corpus_dir + ": split " + split_name(split), tok, out_path, log);
}

ShardBuildResult build_shard(const std::vector<Record>& records, const Tokenizer& tok,
                             const std::string& out_path,
                             const std::function<void(const std::string&)>& log) {
  return build_from(
      [&](const RecordSink& sink) {
        for (const Record& r : records) sink(Record(r));
      },
      "the record list", tok, out_path, log);
}

std::vector<SourceStats> shard_stats(const Shard& shard) {
  std::vector<SourceStats> out;
  for (const auto& name : shard.sources()) out.push_back(SourceStats{name});
  for (std::uint64_t d = 0; d < shard.n_documents(); ++d) {
    auto doc = shard.document(d);
    count(out[doc.source], static_cast<std::int64_t>(doc.length));
  }
  std::erase_if(out, [](const SourceStats& s) { return s.documents == 0; });
  return out;
}

std::string format_stats(const std::vector<SourceStats>& stats) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-14s %10s %12s %8s %8s %8s %8s %10s\n", "source", "documents",
                "tokens", ">4k", ">8k", ">32k", ">128k", "longest");
  out += line;
  SourceStats total{"total"};
  for (const auto& s : stats) {
    auto row = [&](const SourceStats& r) {
      std::snprintf(line, sizeof line, "%-14s %10lld %12lld %8lld %8lld %8lld %8lld %10lld\n",
                    r.source.c_str(), static_cast<long long>(r.documents),
                    static_cast<long long>(r.tokens), static_cast<long long>(r.longer_than[0]),
                    static_cast<long long>(r.longer_than[1]),
                    static_cast<long long>(r.longer_than[2]),
                    static_cast<long long>(r.longer_than[3]), static_cast<long long>(r.max_tokens));
      out += line;
    };
    row(s);
    total.documents += s.documents;
    total.tokens += s.tokens;
    for (int i = 0; i < 4; ++i) total.longer_than[i] += s.longer_than[i];
    total.max_tokens = std::max(total.max_tokens, s.max_tokens);
    if (&s == &stats.back() && stats.size() > 1) row(total);
  }
  return out;
}

}  // namespace harpe::data
