#include "pipeline/prepare_stage.h"

#include "common/atomic_output.h"
#include "common/log.h"
#include "common/stage_key.h"
#include "config/choices.h"
#include "io/dataset_store.h"
#include "pipeline/stage_record.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace hiscmcl {

json prepare_inputs(const PrepareOptions& po, const Manifest& manifest) {
  json sections = json::array();
  for (auto& s : manifest.select(po.sections)) {
    json files = json::object();
    for (auto& [role, path] : s.files) files[role] = file_stamp(path);
    sections.push_back({{"id", s.id}, {"files", files}});
  }
  return {{"version", 1},
          {"manifest", read_text_file(manifest.path)},
          {"data_root", fs::absolute(manifest.data_root).lexically_normal().string()},
          {"sections", sections},
          {"panel",
           {{"genes_file", file_stamp(po.panel.genes_file)},
            {"hvg_top", po.panel.hvg_top},
            {"min_spots", po.panel.min_spots},
            {"top_mean", po.panel.top_mean}}},
          {"normalization", choice_name(po.normalization)},
          {"allow_missing_genes", po.allow_missing_genes},
          {"allow_missing_spots", po.allow_missing_spots},
          {"markers", po.marker_sets},
          {"add_genes", po.add_genes}};
}

PreparedStore prepare_or_reuse(const PrepareOptions& po, const Manifest& manifest) {
  const json inputs = prepare_inputs(po, manifest);
  const fs::path record = po.out / "stage.json";
  if (auto why = stale_reason(read_stage_record(record), inputs)) {
    if (fs::exists(po.out / "summary.json")) spdlog::info("cv: preparing the store again ({})", *why);
    prepare_dataset(po);
    write_stage_record(record, inputs);
  } else {
    spdlog::info("cv: reusing the prepared store {}", po.out.string());
  }
  return {load_store_sections(po.out), stage_key(inputs), store_marker_sets(po.out)};
}

}  // namespace hiscmcl
