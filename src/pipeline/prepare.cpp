#include "pipeline/prepare.h"

#include <memory>

#include "common/error.h"
#include "common/progress.h"
#include "common/thread_pool.h"
#include "config/choices.h"
#include "io/manifest.h"
#include "io/section_reader.h"

namespace fs = std::filesystem;

namespace hiscmcl {
namespace {

// The file to name when a section's counts are at fault.
std::string counts_source(const ManifestSection& ms) {
  for (const char* key : {"counts", "file", "dir"}) {
    auto it = ms.files.find(key);
    if (it != ms.files.end()) return it->second.string();
  }
  return ms.id;
}

}  // namespace

PrepareSummary prepare_dataset(const PrepareOptions& opts) {
  check_out_replaceable(opts.out);  // fail before the slow part
  Manifest manifest = load_manifest(opts.manifest, opts.data_root);
  std::vector<ManifestSection> chosen = manifest.select(opts.sections);
  if (chosen.empty()) throw InputError(opts.manifest.string(), "no sections to prepare");

  std::vector<Section> sections(chosen.size());
  ReadOptions read_options;
  read_options.allow_missing_spots = opts.allow_missing_spots;
  {
    std::unique_ptr<ProgressBar> bar;
    if (opts.progress) bar = std::make_unique<ProgressBar>("reading sections", int64_t(chosen.size()), "sections");
    parallel_for(int64_t(chosen.size()), [&](int64_t i) {
      sections[size_t(i)] = read_section(chosen[size_t(i)], read_options);
      if (bar) bar->advance();
    });
    if (bar) bar->finish();
  }

  std::vector<std::string> panel = choose_panel(sections, opts.panel);
  std::vector<PreparedSection> prepared(sections.size());
  parallel_for(int64_t(sections.size()), [&](int64_t i) {
    prepared[size_t(i)] = prepare_section(sections[size_t(i)], panel, opts.normalization,
                                          opts.allow_missing_genes, counts_source(chosen[size_t(i)]));
  });
  sections.clear();

  PrepareSummary summary;
  summary.genes = panel;
  for (const auto& p : prepared) {
    summary.section_ids.push_back(p.id);
    summary.n_spots[p.id] = p.n_spots();
  }
  summary.normalization = to_string(opts.normalization);
  summary.manifest = fs::absolute(manifest.path).lexically_normal().string();
  write_store(opts.out, prepared, summary);
  return summary;
}

}  // namespace hiscmcl
