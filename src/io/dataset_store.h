// The dataset store written by `prepare`: DATA/summary.json and DATA/<id>.h5ad per section.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "io/manifest.h"
#include "io/section.h"

namespace hiscmcl {

// Section ids listed in DATA/summary.json, in order (InputError if DATA is not a store).
std::vector<std::string> store_section_ids(const std::filesystem::path& data_dir);
// The marker sets summary.json records (name -> gene ids of the panel), in order; none for a store
// prepared without markers.
std::vector<MarkerSet> store_marker_sets(const std::filesystem::path& data_dir);
// The sections with these ids (none = all), in the given order; InputError naming unknown ids.
std::vector<PreparedSection> load_store_sections(const std::filesystem::path& data_dir,
                                                 const std::vector<std::string>& ids = {});

}  // namespace hiscmcl
