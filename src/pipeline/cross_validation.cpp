#include "pipeline/cross_validation.h"

#include <chrono>

#include "common/atomic_output.h"
#include "common/log.h"
#include "common/progress.h"
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

std::vector<SectionFeatures> embed_all(const fs::path& store, const std::vector<PreparedSection>& sections,
                                       const RunConfig& cfg) {
  std::vector<SectionFeatures> features;
  for (auto& s : sections) features.push_back(embed_section(store, s, cfg.encoder, cfg.train.seed, nullptr));
  return features;
}

}  // namespace

CvResult run_cross_validation(const CvOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  RunConfig cfg = opt.run_config ? *opt.run_config : load_run_config(opt.config);
  if (opt.epochs > 0) cfg.train.epochs = opt.epochs;
  fs::create_directories(opt.out);
  if (int n = remove_stale_temporaries(opt.out)) spdlog::info("cv: removed {} temporary files a killed run left", n);
  const Manifest manifest = load_manifest(opt.manifest, opt.data_root);

  const PreparedStore store = prepare_or_reuse(store_options(opt, manifest, cfg), manifest);
  const std::vector<std::string> symbols = gene_symbols(manifest, store.sections.front().genes);
  const std::vector<SectionFeatures> features = embed_all(opt.out / "data", store.sections, cfg);

  const CvContext ctx{cfg, store.sections, features, symbols, store.markers, store.key, opt.out, opt.heatmap_genes};
  const std::vector<Fold> folds = make_folds(store.sections, opt.split);
  std::vector<FoldOutcome> outcomes;
  ProgressBar bar("cv folds", int64_t(folds.size()), "fold");
  for (auto& fold : folds) {
    outcomes.push_back(run_fold(ctx, fold));
    bar.advance();
  }
  bar.finish();

  CvReportInfo info{opt.title.empty() ? "hiscmcl cross-validation: " + manifest.name : opt.title, manifest.name,
                    opt.split, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
  return {write_cv_outputs(ctx, outcomes, info), opt.out / "report.html"};
}

}  // namespace hiscmcl
