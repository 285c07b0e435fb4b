// Prepare-or-reuse: the dataset store a run works on, rebuilt whenever anything it is made from
// changed (the manifest's text, the selected sections and their files' stamps, the panel choice
// and its file, the normalisation). The key is kept in <store>/stage.json.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pipeline/prepare.h"
#include "io/manifest.h"

namespace hiscmcl {

struct PreparedStore {
  std::vector<PreparedSection> sections;
  std::string key;  // the stage key of the store's inputs
  std::vector<MarkerSet> markers;  // the marker sets its panel carries (summary.json)
};

nlohmann::json prepare_inputs(const PrepareOptions& po, const Manifest& manifest);
PreparedStore prepare_or_reuse(const PrepareOptions& po, const Manifest& manifest);

}  // namespace hiscmcl
