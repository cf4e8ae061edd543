#include "data/synthetic.h"

#include <cstdio>
#include <vector>

#include "core/error.h"
#include "core/rng.h"

namespace harpe::data {

namespace {

// splitmix64 (core/rng.h): tiny, portable, fully specified.
struct Rng {
  std::uint64_t s;
  std::uint64_t next() { return splitmix64(s); }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
  template <std::size_t N>
  const char* pick(const char* const (&a)[N]) {
    return a[below(N)];
  }
};

const char* const kNames[] = {
    "Marigold",   "Tobias",     "Ingrid",   "Bartholomew", "Odile",     "Caspian",    "Winifred",
    "Lorcan",     "Perpetua",   "Ambrose",  "Henrietta",   "Ezekiel",   "Rosalind",   "Fitzgerald",
    "Clementine", "Augustin",   "Philippa", "Lysander",    "Ottoline",  "Crispin",    "Beatrix",
    "Anselm",     "Genevieve",  "Thaddeus", "Isolde",      "Leopold",   "Seraphina",  "Benedikt",
    "Wilhelmina", "Cormac",     "Delphine", "Hamish",      "Josephine", "Ignatius",   "Cordelia",
    "Rupert",     "Evangeline", "Percival", "Araminta",    "Silas",     "Temperance", "Barnaby",
    "Ottilie",    "Jasper",     "Imogen",   "Lucian",      "Hortense",  "Florian",    "Esmeralda",
    "Gideon"};
const char* const kThings[] = {"locker", "permit",      "cabin",   "parcel",      "berth",
                               "ledger", "storage bay", "mooring", "ration card", "workbench"};
const char* const kSubjects[] = {"The ferryman",       "A clerk from the customs house",
                                 "The miller",         "Two sailors",
                                 "The night watchman", "An apprentice cooper",
                                 "The harbour pilot",  "Old Mrs Pell",
                                 "The rope maker",     "A fishwife",
                                 "The lamplighter",    "Three carters"};
const char* const kVerbs[] = {"carried", "counted", "repaired", "painted", "inspected", "loaded",
                              "weighed", "mended",  "swept",    "stacked", "tarred",    "unloaded"};
const char* const kObjects[] = {
    "the grain sacks",  "a cracked oar",     "the east gate",        "forty barrels of cider",
    "the tide tables",  "a crate of lemons", "the signal lantern",   "the salt cellar",
    "a bundle of nets", "the slipway",       "twelve coils of hemp", "the bell rope"};
const char* const kTimes[] = {
    "before dawn",         "after the squall",      "on the third morning",
    "near the old quay",   "while the tide turned", "at the end of the shift",
    "in the drizzle",      "by lamplight",          "before the market opened",
    "during the long lull"};

std::string sentence(Rng& r) {
  std::string s = std::string(r.pick(kSubjects)) + " " + r.pick(kVerbs) + " " + r.pick(kObjects) +
                  " " + r.pick(kTimes);
  return s + (r.below(4) == 0 ? ", and nobody remarked on it." : ".");
}

}  // namespace

Record synthetic_record(std::int64_t index, const SyntheticOptions& opt) {
  constexpr std::size_t n_names = sizeof kNames / sizeof kNames[0];
  check(opt.facts >= 1 && static_cast<std::size_t>(opt.facts) <= n_names,
        "synthetic: facts must be in [1, ", n_names, "]");
  check(opt.questions >= 1 && opt.questions <= opt.facts,
        "synthetic: questions must be in [1, facts]");
  check(opt.target_chars >= 200, "--synthetic-chars must be >= 200");
  Rng r{opt.seed * 0x2545f4914f6cdd1dull + static_cast<std::uint64_t>(index)};
  r.next();
  // Distinct names (partial Fisher-Yates), one thing kind per record, distinct values.
  std::vector<std::size_t> idx(n_names);
  for (std::size_t i = 0; i < n_names; ++i) idx[i] = i;
  for (int i = 0; i < opt.facts; ++i)
    std::swap(idx[static_cast<std::size_t>(i)], idx[i + r.below(n_names - i)]);
  const char* thing = r.pick(kThings);
  std::vector<std::string> values;
  while (values.size() < static_cast<std::size_t>(opt.facts)) {
    std::string v = std::to_string(1000 + r.below(99000));
    bool dup = false;
    for (const auto& u : values) dup = dup || u == v;
    if (!dup) values.push_back(v);
  }
  char head[128];
  std::snprintf(head, sizeof head, "Harbour office ledger, page %lld.\n\n",
                static_cast<long long>(index + 1));
  std::string text = head;
  const std::size_t fact_zone = static_cast<std::size_t>(opt.target_chars) / 5;
  for (int f = 0; f < opt.facts; ++f) {
    const char* name = kNames[idx[static_cast<std::size_t>(f)]];
    switch (r.below(3)) {
      case 0:
        text +=
            std::string("Entry: the ") + thing + " number of " + name + " is " + values[f] + ".\n";
        break;
      case 1:
        text += std::string(name) + " was given " + thing + " number " + values[f] + ".\n";
        break;
      default:
        text += std::string("For the books, ") + name + " holds " + thing + " number " + values[f] +
                ".\n";
        break;
    }
    // A little filler between facts, all inside the first fifth.
    std::size_t budget = fact_zone / static_cast<std::size_t>(opt.facts);
    std::size_t start = text.size();
    while (text.size() - start < budget / 2) text += sentence(r) + " ";
    text += "\n";
  }
  const std::size_t question_chars = static_cast<std::size_t>(opt.questions) * 80;
  while (text.size() + question_chars < static_cast<std::size_t>(opt.target_chars)) {
    text += sentence(r);
    text += r.below(6) == 0 ? "\n\n" : " ";
  }
  text += "\n\n";
  std::vector<int> order(static_cast<std::size_t>(opt.facts));
  for (int i = 0; i < opt.facts; ++i) order[static_cast<std::size_t>(i)] = i;
  for (int i = 0; i < opt.questions; ++i) {
    std::swap(order[static_cast<std::size_t>(i)],
              order[i + r.below(static_cast<std::size_t>(opt.facts - i))]);
    int f = order[static_cast<std::size_t>(i)];
    text += std::string("Question: what is the ") + thing + " number of " +
            kNames[idx[static_cast<std::size_t>(f)]] +
            "?\nAnswer: " + values[static_cast<std::size_t>(f)] + ".\n";
  }
  char id[48];
  std::snprintf(id, sizeof id, "synthetic/kv-%06lld", static_cast<long long>(index));
  return Record{id, "synthetic", "generated by harpe (no third-party text)", std::move(text)};
}

}  // namespace harpe::data
