// `hiscmcl cv`: prepare, embed, train and predict every fold; metrics.json, per_gene.csv, report.html.
#include <iostream>

#include "cli/command.h"
#include "dist/process_group.h"
#include "common/log.h"
#include "pipeline/cross_validation.h"
#include "pipeline/cv_outputs.h"

namespace hiscmcl::cli {
namespace {

struct Options {
  CvOptions cv;
  ConfigArgs config;
  std::string genes, data_root, manifest, out, split = "loso";
};

CommandRegistrar reg(
    "cv", "Cross-validate end to end (leave one section or patient out) and write the report",
    [](CLI::App& cmd) -> std::function<int()> {
      auto o = std::make_shared<Options>();
      cmd.add_option("--manifest", o->manifest, "Manifest (TOML) listing the sections")->required();
      cmd.add_option("--data-root", o->data_root, "Folder the manifest's paths are relative to");
      cmd.add_option("--config", o->config.file, "Run config, e.g. configs/default.toml")->required();
      o->config.add_set_option(cmd);
      cmd.add_option("--out", o->out, "Output folder (re-running resumes finished folds)")->required();
      cmd.add_option("--sections", o->cv.sections, "Comma list of sections (default: all)")->delimiter(',');
      cmd.add_option("--split", o->split, "loso (leave one section out) | lopo (leave one patient out)")
          ->check(CLI::IsMember({"loso", "lopo"}));
      cmd.add_option("--genes", o->genes, "Gene panel file (.txt or .npy); default: the manifest's `genes`");
      cmd.add_option("--hvg", o->cv.panel.hvg_top, "Top-N highly variable genes per section (cut rule)");
      cmd.add_option("--min-spots", o->cv.panel.min_spots, "With --hvg: detected in at least M spots");
      cmd.add_flag("--allow-missing-genes", o->cv.allow_missing_genes, "Zero-fill panel genes a section lacks");
      cmd.add_flag("--allow-missing-spots", o->cv.allow_missing_spots,
                   "Drop selected spots that have no count row (else an error: a counts file cut short)");
      cmd.add_option("--markers", o->cv.marker_sets,
                     "Add the manifest's [markers] sets to the panel and score them: set names, or all")
          ->delimiter(',');
      cmd.add_option("--add-genes", o->cv.add_genes, "Add these genes to the panel and score them (comma list)")
          ->delimiter(',');
      o->config.add_shortcut<int>(cmd, "--epochs", "train.epochs", "Override train.epochs");
      cmd.add_option("--heatmap-genes", o->cv.heatmap_genes, "Heatmaps per section (default 4)");
      return [o] {
        o->cv.manifest = o->manifest;
        o->cv.data_root = o->data_root;
        o->cv.config = o->config.file;
        o->cv.run_config = o->config.load();
        o->cv.out = o->out;
        o->cv.panel.genes_file = o->genes;
        parse_choice(o->split, o->cv.split);  // CLI11 checked the spelling
        CvResult r = run_cross_validation(o->cv);
        if (!dist::is_main()) return 0;  // rank 0 writes and prints the aggregate
        std::cout << format_metrics_table(r.metrics);
        std::cout << "wall time " << r.metrics["wall_seconds"].get<double>() << " s; report: "
                  << r.report.string() << std::endl;
        return 0;
      };
    },
    /*distributed=*/true);

}  // namespace
}  // namespace hiscmcl::cli
