// `harpe eval needle`: the classic single needle over a context length x depth grid + heatmap.
#include "cli/cmd_eval_model_flags.h"
#include "cli/command.h"

namespace {

void setup(CLI::App& parent) {
  struct Args {
    harpe::eval::ModelArgs m;
    harpe::eval::NeedleArgs n;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = parent.add_subcommand(
      "needle",
      "Single needle (word key, 7-digit number) at each depth of each context length, greedy\n"
      "decoding, string_match_all per cell; heatmap --out DIR/needle.svg (+ needle.png by "
      "gnuplot).");
  harpe::cli::add_model_flags(cmd, a->m);
  harpe::cli::add_lengths_flag(cmd, a->n.lengths, "Context lengths, comma-separated (4096 or 4k)");
  harpe::cli::add_parsed_flag(
      cmd, "--depths", a->n.depths,
      [](const std::string& text) { return harpe::eval::parse_depths(text); },
      "Needle depth percents, comma-separated (default: --depth-count evenly spaced)");
  cmd->add_option("--depth-count", a->n.depth_count, "Number of evenly spaced depths 0..100")
      ->capture_default_str();
  cmd->add_option("--samples,-n", a->n.samples, "Samples per cell")->capture_default_str();
  cmd->add_option("--jobs,-j", a->n.jobs, "Samples decoded at once (each then single-threaded)")
      ->capture_default_str();
  cmd->add_option("--seed", a->n.seed, "Sample seed")->capture_default_str();
  harpe::cli::add_tokens_to_generate_flag(cmd, a->n.tokens_to_generate);
  harpe::cli::add_parsed_flag(
      cmd, "--haystack", a->n.haystack,
      [](const std::string& text) {
        harpe::check(text == "noise" || text == "essay", "--haystack must be noise or essay, got '",
                     text, "'");
        return text == "essay" ? harpe::eval::Haystack::essay : harpe::eval::Haystack::noise;
      },
      "noise (RULER's repeated filler) or essay", "noise");
  harpe::cli::add_haystack_flags(cmd, a->n.haystack_corpus, a->n.haystack_split, a->n.essay);
  cmd->add_flag("!--no-png", a->n.png, "Write only the SVG heatmap (no gnuplot)");
  cmd->callback([a] { harpe::eval::eval_needle(a->m, a->n); });
}

}  // namespace

HARPE_COMMAND("eval", setup);
