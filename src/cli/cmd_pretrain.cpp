// `hiscmcl pretrain`: self-supervised (SimCLR) pretraining of a CNN trunk on a dataset store's
// H&E images; writes a weight file that `encoder.weights` (or embed --weights) loads, and a log.
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "common/atomic_output.h"
#include "common/log.h"
#include "io/dataset_store.h"
#include "train/pretrain.h"

namespace hiscmcl::cli {
namespace {

struct Options {
  std::string data, out;
  std::vector<std::string> sections;
  PretrainOptions p;
  int64_t seed = 0;
};

// OUT.pt -> OUT.pretrain.json: beside the weights, not a name the encoders read.
std::filesystem::path log_path(const std::filesystem::path& out) {
  std::filesystem::path p = out;
  return p.replace_extension(".pretrain.json");
}

CommandRegistrar reg(
    "pretrain", "Self-supervised pretraining (SimCLR) of a CNN trunk on a store's H&E images",
    [](CLI::App& cmd) -> std::function<int()> {
      auto o = std::make_shared<Options>();
      cmd.add_option("--data", o->data, "Dataset store written by `prepare` (only images and spot centres are read)")
          ->required();
      cmd.add_option("--sections", o->sections, "Comma list of sections to pretrain on (default: all)")->delimiter(',');
      cmd.add_option("--out", o->out, "Weight file to write (e.g. small_cnn_ssl.pt): encoder.weights loads it")
          ->required();
      cmd.add_option("--arch", o->p.arch, "Trunk: small_cnn (64 px, for CPUs) | resnet18 | resnet50 | densenet121")
          ->capture_default_str();
      cmd.add_option("--weights", o->p.weights, "Start from this weight file (default: seeded random init)");
      cmd.add_option("--epochs", o->p.epochs, "Passes over the crops")->capture_default_str();
      cmd.add_option("--batch-size", o->p.batch_size, "Crops per step (two views each)")->capture_default_str();
      cmd.add_option("--lr", o->p.lr, "AdamW learning rate (cosine decay to 0)")->capture_default_str();
      cmd.add_option("--weight-decay", o->p.weight_decay, "AdamW weight decay")->capture_default_str();
      cmd.add_option("--temperature", o->p.temperature, "NT-Xent temperature")->capture_default_str();
      cmd.add_option("--fov", o->p.fov, "Source crop side in spot diameters (views take 45-100 % of it)")
          ->capture_default_str();
      cmd.add_option("--max-crops", o->p.max_crops, "Pretrain on this many spots, drawn with the seed (0: all)")
          ->capture_default_str();
      cmd.add_option("--seed", o->seed, "Seed of the initialisation, the views and the order")->capture_default_str();
      cmd.add_option("--device", o->p.device, "cpu | cuda | cuda:N")->capture_default_str();
      return [o] {
        o->p.seed = uint64_t(o->seed);
        validate(o->p);  // before reading any image
        auto sections = load_store_sections(o->data, o->sections);
        std::vector<const PreparedSection*> ptrs;
        nlohmann::json ids = nlohmann::json::array();
        for (auto& s : sections) {
          ptrs.push_back(&s);
          ids.push_back(s.id);
        }
        PretrainResult r = pretrain_trunk(ptrs, o->p);
        nlohmann::json log = {{"arch", o->p.arch},        {"sections", ids},
                              {"n_crops", r.n_crops},     {"epochs", o->p.epochs},
                              {"batch_size", o->p.batch_size}, {"lr", o->p.lr},
                              {"weight_decay", o->p.weight_decay}, {"temperature", o->p.temperature},
                              {"fov", o->p.fov},          {"max_crops", o->p.max_crops},
                              {"seed", o->p.seed},        {"init_weights", o->p.weights},
                              {"epoch_loss", r.epoch_loss}, {"seconds", r.seconds}};
        save_cnn_weights(*r.trunk, o->out);
        write_text_file(log_path(o->out), log.dump(2) + "\n");
        spdlog::info("pretrain: {} crops, {} epochs in {:.1f}s; NT-Xent {:.4f} -> {:.4f}; weights in {}", r.n_crops,
                     r.epoch_loss.size(), r.seconds, r.epoch_loss.front(), r.epoch_loss.back(), o->out);
        return 0;
      };
    });

}  // namespace
}  // namespace hiscmcl::cli
