// `hiscmcl manifest hest --root DIR --out M.toml [--ids a,b] [--where organ=Breast,...]`: a
// manifest over the downloaded samples of a HEST-1k root (io/hest_catalogue.h).
#include <memory>

#include "cli/command.h"
#include "common/atomic_output.h"
#include "common/log.h"
#include "io/hest_catalogue.h"

namespace hiscmcl::cli {
namespace {

struct HestManifestOptions {
  std::string root, out, where;
  std::vector<std::string> ids;
};

CommandRegistrar reg(
    "manifest", "Write a manifest for a public dataset's layout (hest: a HEST-1k download)",
    [](CLI::App& cmd) -> std::function<int()> {
      auto o = std::make_shared<HestManifestOptions>();
      CLI::App* hest = cmd.add_subcommand("hest", "Samples of a HEST-1k root (st/, wsis/, metadata/)");
      hest->add_option("--root", o->root, "HEST root folder (with HEST_v1_1_0.csv or metadata/)")->required();
      hest->add_option("--out,-o", o->out, "Manifest to write (TOML)")->required();
      hest->add_option("--ids", o->ids, "Comma list of sample ids (default: every downloaded one)")->delimiter(',');
      hest->add_option("--where", o->where, "Catalogue filters, e.g. organ=Breast,st_technology=Visium");
      // The options every subcommand takes (--threads, --verbose, --quiet: main.cpp adds them to
      // `manifest`) also after `hest`.
      hest->fallthrough();
      cmd.require_subcommand(1);
      return [o] {
        HestSelection sel;
        sel.ids = o->ids;
        if (!o->where.empty()) sel.where = parse_where(o->where);
        std::filesystem::path source;
        auto samples = list_hest_samples(o->root, sel, &source);
        write_text_file(o->out, hest_manifest_text(samples, o->root, o->out));
        spdlog::info("wrote {} HEST samples (from {}) to {}", samples.size(), source.string(), o->out);
        return 0;
      };
    });

}  // namespace
}  // namespace hiscmcl::cli
