#include "io/hest_catalogue.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/atomic_output.h"
#include "common/error.h"
#include "io/text_file.h"
#include "io/hest_reader.h"

namespace fs = std::filesystem;

namespace hiscmcl {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool sample_present(const fs::path& root, const std::string& id) {
  HestPaths p = hest_paths(root, id);
  return fs::exists(p.st) && fs::exists(p.wsi) && fs::exists(p.metadata);
}

// A sample's files that are missing, when some of them are present (a download cut short, or a
// metadata file deleted); empty when all or none are there.
std::vector<fs::path> partly_missing(const fs::path& root, const std::string& id) {
  HestPaths p = hest_paths(root, id);
  std::vector<fs::path> missing;
  for (const fs::path& f : {p.st, p.wsi, p.metadata})
    if (!fs::exists(f)) missing.push_back(f);
  if (missing.size() == 3) missing.clear();
  return missing;
}

std::string path_list(const std::vector<fs::path>& files) {
  std::string out;
  for (const auto& f : files) out += (out.empty() ? "" : ", ") + f.string();
  return out;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// A --where key that no sample has is refused, naming the nearest key and every valid one: it
// would match nothing, or (a typo) everything the user meant to leave out.
void require_known_keys(const std::vector<std::pair<std::string, std::string>>& where,
                        const std::vector<HestSample>& samples, const std::string& source) {
  std::set<std::string> keys;
  for (const auto& s : samples)
    for (const auto& [k, v] : s.fields) keys.insert(k);
  for (const auto& [key, value] : where) {
    if (keys.count(key)) continue;
    std::string nearest, all;
    size_t best = SIZE_MAX;
    for (const auto& k : keys) {
      const size_t d = edit_distance(lower(key), lower(k));
      if (d < best) best = d, nearest = k;
      all += (all.empty() ? "" : ", ") + k;
    }
    throw InputError("--where", "unknown key '" + key + "'" +
                                    (nearest.empty() ? "" : " (did you mean '" + nearest + "'?)") + "; the keys of " +
                                    source + " are: " + all);
  }
}

// The catalogue to read: HEST_v1_1_0.csv, else the newest-named HEST_v*.csv; empty when none.
fs::path find_catalogue(const fs::path& root) {
  if (fs::exists(root / "HEST_v1_1_0.csv")) return root / "HEST_v1_1_0.csv";
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(root)) {
    std::string n = e.path().filename().string();
    if (e.is_regular_file() && n.rfind("HEST_v", 0) == 0 && e.path().extension() == ".csv")
      found.push_back(e.path());
  }
  if (found.empty()) return {};
  std::sort(found.begin(), found.end());
  return found.back();
}

std::vector<HestSample> from_catalogue(const fs::path& csv) {
  auto rows = parse_csv(read_text_file(csv), csv.string());
  if (rows.empty()) throw InputError(csv.string(), "empty catalogue");
  const auto& header = rows[0];
  auto id_col = std::find(header.begin(), header.end(), "id");
  if (id_col == header.end()) throw InputError(csv.string(), "no 'id' column in the header");
  std::vector<HestSample> out;
  for (size_t r = 1; r < rows.size(); ++r) {
    if (rows[r].size() == 1 && trim(rows[r][0]).empty()) continue;  // blank line
    if (rows[r].size() != header.size())
      throw InputError(csv.string(), "row " + std::to_string(r + 1) + " has " +
                                         std::to_string(rows[r].size()) + " fields, the header " +
                                         std::to_string(header.size()));
    HestSample s;
    for (size_t c = 0; c < header.size(); ++c) s.fields[std::string(trim(header[c]))] = std::string(trim(rows[r][c]));
    s.id = s.fields["id"];
    if (!s.id.empty()) out.push_back(std::move(s));
  }
  return out;
}

std::vector<HestSample> from_metadata(const fs::path& root) {
  std::vector<HestSample> out;
  const fs::path dir = root / "metadata";
  if (!fs::is_directory(dir)) return out;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    HestSample s;
    s.id = f.stem().string();
    HestMetadata m = read_hest_metadata(f);  // validates the JSON
    s.fields = {{"id", s.id},          {"patient", m.patient}, {"organ", m.organ},
                {"species", m.species}, {"st_technology", m.st_technology},
                {"disease_state", m.disease_state}, {"oncotree_code", m.oncotree_code}};
    out.push_back(std::move(s));
  }
  return out;
}

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') { out += "\\n"; continue; }
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string HestSample::field(const std::string& key) const {
  auto it = fields.find(key);
  return it == fields.end() ? std::string() : it->second;
}

std::vector<std::vector<std::string>> parse_csv(std::string_view text, const std::string& file) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, any = false;
  size_t line = 1, quote_line = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    any = true;
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') field += text[++i];
        else quoted = false;
      } else {
        if (c == '\n') ++line;
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
      quote_line = line;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
      any = false;
      ++line;
    } else {
      field += c;
    }
  }
  if (quoted)
    throw InputError(file, "unclosed quote (opened on line " + std::to_string(quote_line) + ")");
  if (any) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<std::pair<std::string, std::string>> parse_where(const std::string& spec) {
  std::vector<std::pair<std::string, std::string>> out;
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t eq = item.find('=');
    std::string key(trim(item.substr(0, eq == std::string::npos ? 0 : eq)));
    if (eq == std::string::npos || key.empty())
      throw InputError("--where", "expected key=value[,key=value...], got '" + item + "'");
    out.emplace_back(key, std::string(trim(item.substr(eq + 1))));
  }
  return out;
}

std::vector<HestSample> list_hest_samples(const fs::path& root, const HestSelection& sel,
                                          fs::path* source) {
  if (!fs::is_directory(root)) throw InputError(root.string(), "HEST root is not a folder");
  fs::path csv = find_catalogue(root);
  std::vector<HestSample> all = csv.empty() ? from_metadata(root) : from_catalogue(csv);
  if (source) *source = csv.empty() ? root / "metadata" : csv;
  if (all.empty())
    throw InputError(root.string(), "no HEST samples: neither a HEST_v*.csv catalogue nor metadata/*.json");

  const std::string listed_in = csv.empty() ? (root / "metadata").string() : csv.string();
  require_known_keys(sel.where, all, listed_in);

  std::set<std::string> asked(sel.ids.begin(), sel.ids.end());
  std::set<std::string> known;
  for (const auto& s : all) known.insert(s.id);
  for (const auto& id : sel.ids) {
    if (!known.count(id)) {
      HestPaths p = hest_paths(root, id);
      if (csv.empty() && fs::exists(p.st))
        throw InputError(p.metadata.string(), "HEST sample '" + id + "' has " + p.st.string() +
                                                  " but no metadata (file not found)");
      throw InputError(listed_in, "no HEST sample '" + id + "' is listed");
    }
    if (!sample_present(root, id)) {
      HestPaths p = hest_paths(root, id);
      for (const fs::path& f : {p.st, p.wsi, p.metadata})
        if (!fs::exists(f)) throw InputError(f.string(), "HEST sample '" + id + "' is not downloaded (file not found)");
    }
  }
  std::vector<HestSample> out;
  int64_t absent = 0;
  for (auto& s : all) {
    if (!asked.empty() && !asked.count(s.id)) continue;
    bool match = true;
    for (const auto& [k, v] : sel.where) match = match && lower(s.field(k)) == lower(v);
    if (!match) continue;
    if (!sample_present(root, s.id)) {
      const std::vector<fs::path> missing = partly_missing(root, s.id);
      if (missing.empty()) ++absent;
      else
        spdlog::warn("HEST sample '{}' left out of the manifest: {} not found (its other files are present)", s.id,
                     path_list(missing));
      continue;
    }
    out.push_back(std::move(s));
  }
  // Without a catalogue the list comes from metadata/*.json: a sample whose metadata is missing
  // would not be seen at all.
  if (csv.empty() && fs::is_directory(root / "st"))
    for (const auto& e : fs::directory_iterator(root / "st")) {
      const std::string id = e.path().stem().string();
      if (e.path().extension() != ".h5ad" || known.count(id) || (!asked.empty() && !asked.count(id))) continue;
      spdlog::warn("HEST sample '{}' left out of the manifest: {} not found (its {} is present)", id,
                   hest_paths(root, id).metadata.string(), e.path().string());
    }
  if (absent)
    spdlog::info("{} matching samples of the catalogue are not downloaded under {} (skipped)", absent,
                 root.string());
  if (out.empty()) throw InputError(root.string(), "no downloaded HEST sample matches the selection");
  return out;
}

std::string hest_manifest_text(const std::vector<HestSample>& samples, const fs::path& root,
                               const fs::path& manifest_path) {
  fs::path dir = fs::absolute(manifest_path).parent_path();
  std::error_code ec;
  fs::path rel = fs::relative(fs::absolute(root), dir, ec);
  const std::string root_text = ec || rel.empty() ? fs::absolute(root).string() : rel.string();
  std::ostringstream os;
  os << "# HEST-1k samples under " << fs::absolute(root).string() << " (hiscmcl manifest hest)\n";
  os << "name = " << toml_string("hest") << "\n";
  for (const auto& s : samples) {
    os << "\n[[section]]\n";
    os << "id = " << toml_string(s.id) << "\n";
    std::string patient = s.field("patient");
    os << "patient = " << toml_string(patient.empty() ? s.id : patient) << "\n";
    os << "format = \"hest\"\n";
    os << "root = " << toml_string(root_text) << "\n";
    std::string about;
    for (const char* k : {"organ", "st_technology", "species", "oncotree_code"})
      if (!s.field(k).empty()) about += (about.empty() ? "" : ", ") + s.field(k);
    if (!about.empty()) os << "# " << about << "\n";
  }
  return os.str();
}

}  // namespace hiscmcl
