// `hiscmcl embed`: image features of every spot of a dataset store, at each level, cached.
#include "cli/command.h"
#include "common/log.h"
#include "encoders/section_features.h"
#include "io/dataset_store.h"
#include "config/run_config.h"

namespace hiscmcl::cli {
namespace {

struct Options {
  std::string data;
  ConfigArgs config;
  std::vector<std::string> sections;
};

CommandRegistrar reg(
    "embed", "Compute (or reuse cached) multi-level image features of every spot",
    [](CLI::App& cmd) -> std::function<int()> {
      auto o = std::make_shared<Options>();
      cmd.add_option("--data", o->data, "Dataset store written by `prepare`")->required();
      cmd.add_option("--config", o->config.file, "Run config (TOML); its [encoder] settings are used");
      o->config.add_set_option(cmd);
      o->config.add_shortcut<std::string>(cmd, "--encoder", "encoder.name",
                                          "histo | resnet18 | resnet50 | densenet121 | small_cnn | torchscript:<file>");
      o->config.add_shortcut<std::string>(cmd, "--weights", "encoder.weights", "Weight file for a CNN encoder");
      o->config.add_shortcut<std::string>(cmd, "--device", "encoder.device", "cpu | cuda");
      cmd.add_option("--sections", o->sections, "Comma list of sections (default: all)")->delimiter(',');
      return [o] {
        const RunConfig cfg = o->config.load();
        auto sections = load_store_sections(o->data, o->sections);
        auto encoder = make_encoder(cfg.encoder.name, encoder_options(cfg.encoder, cfg.train.seed));
        EmbedStats stats;
        embed_sections(o->data, sections, cfg.encoder, cfg.train.seed, encoder.get(), &stats);
        spdlog::info("embed: {} sections, {} crops computed ({:.1f} crops/s), {} levels from cache",
                     sections.size(), stats.crops_computed,
                     stats.seconds > 0 ? stats.crops_computed / stats.seconds : 0.0, stats.levels_cached);
        return 0;
      };
    },
    /*distributed=*/true);

}  // namespace
}  // namespace hiscmcl::cli
