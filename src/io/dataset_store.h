// The dataset store written by `prepare`: DATA/summary.json and DATA/<id>.h5ad per section.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "data/section.h"

namespace hiscmcl {

// Section ids listed in DATA/summary.json, in order (InputError if DATA is not a store).
std::vector<std::string> store_section_ids(const std::filesystem::path& data_dir);
// The sections named in a comma list ("" = all); InputError naming unknown ids.
std::vector<PreparedSection> load_store_sections(const std::filesystem::path& data_dir,
                                                 const std::string& comma_list = "");
std::vector<std::string> split_comma_list(const std::string& s);

}  // namespace hiscmcl
