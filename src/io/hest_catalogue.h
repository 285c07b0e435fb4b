// The samples of a HEST-1k root and a manifest over them (`hiscmcl manifest hest`). The sample
// list comes from the catalogue CSV in the root (HEST_v1_1_0.csv, or the newest HEST_v*.csv:
// UTF-8 with a BOM, RFC 4180 quoting), else from metadata/*.json. Only samples whose
// st/<id>.h5ad, wsis/<id>.tif and metadata/<id>.json are all present are listed.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace hiscmcl {

struct HestSample {
  std::string id;
  std::map<std::string, std::string> fields;  // catalogue columns (or metadata keys), trimmed
  std::string field(const std::string& key) const;  // "" when absent
};

// A CSV's rows as fields (header row included). Pure; a leading BOM is skipped, quoted fields
// may hold commas, doubled quotes and newlines. InputError naming `file` on an unclosed quote.
std::vector<std::vector<std::string>> parse_csv(std::string_view text, const std::string& file);

struct HestSelection {
  std::vector<std::string> ids;                             // empty: all
  std::vector<std::pair<std::string, std::string>> where;  // key = value, case-insensitive
};
// "organ=Breast,st_technology=Visium" -> pairs; InputError naming the option when malformed.
std::vector<std::pair<std::string, std::string>> parse_where(const std::string& spec);

// The samples of root (present on disk) that match; InputError when an asked id is absent or
// nothing matches. `source` receives the file the list came from.
std::vector<HestSample> list_hest_samples(const std::filesystem::path& root,
                                          const HestSelection& selection,
                                          std::filesystem::path* source = nullptr);

// The manifest text for these samples: one [[section]] of format "hest" each, patient from the
// catalogue (else the id), root written relative to the manifest's folder.
std::string hest_manifest_text(const std::vector<HestSample>& samples,
                               const std::filesystem::path& root,
                               const std::filesystem::path& manifest_path);

}  // namespace hiscmcl
