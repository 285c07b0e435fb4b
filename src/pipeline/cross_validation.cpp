#include "pipeline/cross_validation.h"

#include <algorithm>
#include <chrono>

#include "common/atomic_output.h"
#include "common/output_folder.h"
#include "common/log.h"
#include "common/progress.h"
#include "dist/process_group.h"
#include "eval/gene_symbols.h"
#include "io/manifest.h"
#include "pipeline/cv_outputs.h"
#include "pipeline/fold_stage.h"
#include "pipeline/prepare_stage.h"

namespace fs = std::filesystem;

namespace hiscmcl {
namespace {

PrepareOptions store_options(const CvOptions& opt, const Manifest& manifest, const RunConfig& cfg) {
  PrepareOptions po;
  po.manifest = opt.manifest;
  po.data_root = manifest.data_root;
  po.out = opt.out / "data";
  po.sections = opt.sections;
  po.panel = default_panel(opt.panel, manifest);  // resolved here: the store's key names the panel
  po.normalization = cfg.data.normalization;
  po.allow_missing_genes = opt.allow_missing_genes;
  po.allow_missing_spots = opt.allow_missing_spots;
  po.marker_sets = opt.marker_sets;
  po.add_genes = opt.add_genes;
  return po;
}

// Display names of the panel genes: the manifest's `gene_symbols` table where it has one.
std::vector<std::string> gene_symbols(const Manifest& manifest, const std::vector<std::string>& genes) {
  std::vector<std::string> symbols = genes;
  if (!manifest.gene_symbols.empty()) {
    auto map = load_gene_symbols(manifest.gene_symbols);
    for (auto& g : symbols)
      if (auto it = map.find(g); it != map.end()) g = it->second;
  }
  return symbols;
}

// Distributed, rank 0 prepares (or reuses) the store while the others wait, then they reuse it.
PreparedStore prepare_once(const PrepareOptions& po, const Manifest& manifest) {
  if (!dist::is_main()) dist::wait_for_all("prepare");
  PreparedStore store = prepare_or_reuse(po, manifest);
  if (dist::is_main()) dist::wait_for_all("prepare");
  return store;
}

// Distributed, each rank trains and scores the folds it owns (balanced by held-out spots), alone;
// then rank 0 reads every fold's finished result back in fold order (their stage records).
std::vector<FoldOutcome> run_folds(const CvContext& ctx, const std::vector<Fold>& folds) {
  std::vector<FoldOutcome> outcomes;
  if (dist::active()) {
    std::vector<int64_t> spots;
    for (auto& f : folds) {
      int64_t n = 0;
      for (size_t i : f.test) n += ctx.sections[i].n_spots();
      spots.push_back(n);
    }
    const std::vector<int> owner = dist::balanced_owners(spots, dist::world_size());
    const int me = dist::rank();  // inside the LocalScope below, rank() answers 0
    int64_t mine = std::count(owner.begin(), owner.end(), me);
    spdlog::info("cv: rank {} of {} runs {} of {} folds", me, dist::world_size(), mine, folds.size());
    {
      dist::LocalScope alone;
      ProgressBar bar("cv folds (this rank)", mine, "fold");
      for (size_t f = 0; f < folds.size(); ++f)
        if (owner[f] == me) run_fold(ctx, folds[f]), bar.advance();
      bar.finish();
    }
    dist::wait_for_all("the cv folds");
    if (!dist::is_main()) return outcomes;
  }
  dist::LocalScope alone;  // rank 0 reads the results back (and would recompute one alone)
  ProgressBar bar("cv folds", int64_t(folds.size()), "fold");
  for (auto& fold : folds) {
    outcomes.push_back(run_fold(ctx, fold));
    bar.advance();
  }
  bar.finish();
  return outcomes;
}

}  // namespace

CvResult run_cross_validation(const CvOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const RunConfig cfg = opt.run_config ? *opt.run_config : load_run_config(opt.config);
  // A folder that is new, empty or an earlier cv's (resumed); one run at a time writes it.
  check_output_folder(opt.out, "cv", {opt.manifest, opt.data_root, opt.config}, "data/summary.json");
  std::optional<FolderLock> lock;
  if (dist::is_main()) {
    create_output_folder(opt.out, "cv");
    lock.emplace(opt.out, "cv");
    // The others' temporaries would be in use.
    if (int n = remove_stale_temporaries(opt.out)) spdlog::info("cv: removed {} temporary files a killed run left", n);
  }
  const Manifest manifest = load_manifest(opt.manifest, opt.data_root);

  const PreparedStore store = prepare_once(store_options(opt, manifest, cfg), manifest);
  const std::vector<std::string> symbols = gene_symbols(manifest, store.sections.front().genes);
  std::vector<SectionFeatures> features =
      embed_sections(opt.out / "data", store.sections, cfg.encoder, cfg.train.seed, nullptr);
  for (size_t i = 0; i < features.size(); ++i) apply_feature_norm(features[i], cfg.encoder.feature_norm, store.sections[i].id);

  const CvContext ctx{cfg, store.sections, features, symbols, store.markers, store.key, opt.out, opt.heatmap_genes};
  const std::vector<Fold> folds = make_folds(store.sections, opt.split);
  const std::vector<FoldOutcome> outcomes = run_folds(ctx, folds);
  if (!dist::is_main()) return {};

  CvReportInfo info{opt.title.empty() ? "hiscmcl cross-validation: " + manifest.name : opt.title, manifest.name,
                    opt.split, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
  return {write_cv_outputs(ctx, outcomes, info), opt.out / "report.html"};
}

}  // namespace hiscmcl
