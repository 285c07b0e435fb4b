// `hiscmcl train`: fit HisCMCL on training sections of a dataset store; writes MODEL/.
#include "cli/command.h"
#include "common/output_folder.h"
#include "pipeline/model_folder.h"
#include "common/error.h"
#include "common/log.h"
#include "dist/process_group.h"
#include "predict/retrieval_predictor.h"
#include "predict/stacked_ridge.h"
#include "encoders/section_features.h"
#include "io/dataset_store.h"
#include "train/end_to_end.h"
#include "train/trainer.h"

namespace hiscmcl::cli {
namespace {

struct Options {
  std::string data, out;
  ConfigArgs config;
  std::vector<std::string> train;
};

CommandRegistrar reg(
    "train", "Train HisCMCL on sections of a dataset store (frozen encoder features, or end to end)",
    [](CLI::App& cmd) -> std::function<int()> {
      auto o = std::make_shared<Options>();
      cmd.add_option("--data", o->data, "Dataset store written by `prepare`")->required();
      cmd.add_option("--config", o->config.file, "Run config (TOML), e.g. configs/default.toml")->required();
      o->config.add_set_option(cmd);
      cmd.add_option("--train", o->train, "Comma list of training sections (default: all)")->delimiter(',');
      cmd.add_option("--out", o->out, "Model folder to write")->required();
      o->config.add_shortcut<int>(cmd, "--epochs", "train.epochs", "Override train.epochs");
      o->config.add_shortcut<int64_t>(cmd, "--seed", "train.seed", "Override train.seed");
      o->config.add_shortcut<std::string>(cmd, "--device", "encoder.device", "Override encoder.device (cpu | cuda | cuda:N)");
      return [o] {
        const RunConfig cfg = o->config.load();
        // Claimed before the compute; only rank 0 writes (every rank holds the same model).
        std::optional<OutputFolder> out;
        if (dist::is_main()) out.emplace(o->out, "train", std::vector<std::filesystem::path>{o->data, o->config.file}, "model.pt");
        auto sections = load_store_sections(o->data, o->train);
        std::vector<const PreparedSection*> ptrs;
        for (auto& s : sections) ptrs.push_back(&s);
        TrainResult r;
        std::optional<StackedRidge> ridge;  // frozen models carry the ridge half of "stacked"
        if (cfg.train.mode == TrainMode::end_to_end) {
          r = train_end_to_end(ptrs, cfg);
        } else {
          auto encoder = make_encoder(cfg.encoder.name, encoder_options(cfg.encoder, cfg.train.seed));
          auto features = embed_sections(o->data, sections, cfg.encoder, cfg.train.seed, encoder.get());
          for (size_t i = 0; i < features.size(); ++i) apply_feature_norm(features[i], cfg.encoder.feature_norm, sections[i].id);
          r = train_frozen(ptrs, features, cfg);
          if (dist::is_main()) {
            TrainingSections set{ptrs, {}};
            for (const auto& f : features) set.features.push_back(&f);
            ridge = fit_stacked_ridge(r.bundle, set, cfg);
          }
        }
        if (!dist::is_main()) return 0;  // every rank holds the same model; rank 0 writes it
        r.bundle.marker_sets = store_marker_sets(o->data);
        write_model_folder(out->temp(), r.bundle, ridge, r.log);
        out->commit();
        spdlog::info("train: {} spots, {} epochs in {:.1f}s; loss {:.4f} -> {:.4f}; model in {}",
                     r.bundle.key_embeddings.size(0), r.log.size(), r.seconds, r.log.front().loss,
                     r.log.back().loss, o->out);
        return 0;
      };
    },
    /*distributed=*/true);

}  // namespace
}  // namespace hiscmcl::cli
