// `hiscmcl prepare`: manifest -> dataset store (data/prepare.h).
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "common/error.h"
#include "common/log.h"
#include "pipeline/prepare.h"

namespace hiscmcl::cli {
namespace {

struct PrepareArgs {
  std::string manifest, data_root, out, genes, normalization = "per_spot";
  std::vector<std::string> sections, markers, add_genes;
  int hvg = 0, min_spots = 0, top_mean = 0;
  bool allow_missing = false, allow_missing_spots = false;
};

CommandRegistrar reg(
    "prepare", "Read the sections of a manifest, pick the gene panel, normalise, store",
    [](CLI::App& cmd) -> std::function<int()> {
      auto a = std::make_shared<PrepareArgs>();
      cmd.add_option("--manifest,-m", a->manifest, "Manifest (TOML) listing the sections")->required();
      cmd.add_option("--data-root", a->data_root, "Folder the manifest's paths are relative to "
                                                  "(default: the manifest's folder)");
      cmd.add_option("--out,-o", a->out, "Output folder (dataset store)")->required();
      cmd.add_option("--sections", a->sections, "Comma list of section ids (default: all)")->delimiter(',');
      cmd.add_option("--markers", a->markers,
                     "Add the manifest's [markers] sets to the panel: comma list of set names, or all")
          ->delimiter(',');
      cmd.add_option("--add-genes", a->add_genes, "Add these genes to the panel (comma list), after it")
          ->delimiter(',');
      auto* genes = cmd.add_option("--genes", a->genes, "Gene panel file (.txt one a line, or .npy)");
      auto* hvg = cmd.add_option("--hvg", a->hvg,
                                 "Panel = top-N highly variable genes per section, united "
                                 "(default when no panel option is given: the manifest's `genes` file, else 1000)");
      auto* min_spots = cmd.add_option("--min-spots", a->min_spots,
                                       "With --hvg: keep genes detected in >= M spots over all sections");
      auto* top_mean = cmd.add_option("--top-mean", a->top_mean, "Panel = top-N genes by mean log expression");
      genes->excludes(hvg)->excludes(top_mean)->excludes(min_spots);
      hvg->excludes(top_mean);
      min_spots->excludes(top_mean);
      cmd.add_option("--normalization", a->normalization, "per_spot | per_gene_compat | per_spot_ln")
          ->check(CLI::IsMember({"per_spot", "per_gene_compat", "per_spot_ln"}));
      cmd.add_flag("--allow-missing-genes", a->allow_missing,
                   "Zero-fill panel genes a section lacks (warning) instead of failing");
      cmd.add_flag("--allow-missing-spots", a->allow_missing_spots,
                   "Drop selected spots of a legacy ST spot table that have no counts row "
                   "(warning) instead of failing");
      return [a]() {
        PrepareOptions o;
        o.manifest = a->manifest;
        o.data_root = a->data_root;
        o.out = a->out;
        o.sections = a->sections;
        o.marker_sets = a->markers;
        o.add_genes = a->add_genes;
        o.panel.genes_file = a->genes;
        o.panel.hvg_top = a->hvg;
        o.panel.min_spots = a->min_spots;
        o.panel.top_mean = a->top_mean;
        o.normalization = parse_normalization(a->normalization);
        o.allow_missing_genes = a->allow_missing;
        o.allow_missing_spots = a->allow_missing_spots;
        o.progress = verbosity() != Verbosity::quiet;
        PrepareSummary s = prepare_dataset(o);
        int64_t spots = 0;
        for (auto& [id, n] : s.n_spots) spots += n;
        std::cout << "prepared " << s.section_ids.size() << " sections, " << spots << " spots, "
                  << s.genes.size() << " genes (" << s.normalization << ") -> " << a->out
                  << std::endl;
        return 0;
      };
    });

}  // namespace
}  // namespace hiscmcl::cli
