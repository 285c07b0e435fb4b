#include "io/dataset_store.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>

#include "common/atomic_output.h"
#include "common/error.h"
#include "common/thread_pool.h"
#include "io/h5ad.h"

namespace fs = std::filesystem;

namespace hiscmcl {

std::vector<std::string> store_section_ids(const fs::path& data_dir) {
  fs::path summary = data_dir / "summary.json";
  if (!fs::exists(summary))
    throw InputError(data_dir.string(), "not a dataset store (no summary.json; run `hiscmcl prepare`)");
  try {
    auto j = nlohmann::ordered_json::parse(read_text_file(summary));  // keeps manifest order
    std::vector<std::string> ids;
    for (auto it = j.at("sections").begin(); it != j.at("sections").end(); ++it) ids.push_back(it.key());
    return ids;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(summary.string(), std::string("malformed summary: ") + e.what());
  }
}

std::vector<MarkerSet> store_marker_sets(const fs::path& data_dir) {
  const fs::path summary = data_dir / "summary.json";
  std::vector<MarkerSet> out;
  try {
    auto j = nlohmann::ordered_json::parse(read_text_file(summary));
    if (!j.contains("markers")) return out;
    for (auto it = j["markers"].begin(); it != j["markers"].end(); ++it)
      out.push_back({it.key(), it->get<std::vector<std::string>>()});
  } catch (const nlohmann::json::exception& e) {
    throw InputError(summary.string(), std::string("malformed markers: ") + e.what());
  }
  return out;
}

std::vector<PreparedSection> load_store_sections(const fs::path& data_dir, const std::vector<std::string>& wanted) {
  auto all = store_section_ids(data_dir);
  auto ids = wanted.empty() ? all : wanted;
  for (auto& id : ids)
    if (std::find(all.begin(), all.end(), id) == all.end()) {
      std::string valid;
      for (auto& a : all) valid += (valid.empty() ? "" : ", ") + a;
      throw InputError((data_dir / "summary.json").string(),
                       "unknown section '" + id + "' (the store has: " + valid + ")");
    }
  std::vector<PreparedSection> out(ids.size());
  parallel_for(int64_t(ids.size()),
               [&](int64_t i) { out[size_t(i)] = read_prepared_h5ad(data_dir / (ids[size_t(i)] + ".h5ad")); });
  return out;
}

}  // namespace hiscmcl
