// Manifest loading with toml++: validates every section up front so that a typo fails before any
// long-running stage starts, naming the manifest, the section and the line.
#include "io/manifest.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "common/error.h"
#include "common/log.h"

namespace fs = std::filesystem;

namespace hiscmcl {
namespace {

const std::set<std::string> kFileKeys = {"counts", "spots", "image", "labels", "clusters", "dir", "file", "root"};
const std::set<std::string> kOtherKeys = {"id", "patient", "format", "spot_diameter_px",
                                          "um_per_px", "affine", "counts_layer",
                                          "assume_normalised", "allow_missing_spots", "sample"};

// Files each format needs (the rest of kFileKeys are optional).
std::vector<std::string> required_files(const std::string& format) {
  if (format == "st_legacy") return {"counts", "spots", "image"};
  if (format == "visium") return {"dir"};
  if (format == "h5ad") return {"file"};
  if (format == "hest") return {"root"};
  return {};
}

std::string line_of(const toml::node& n) {
  const auto& src = n.source();
  return src.begin.line ? "line " + std::to_string(src.begin.line) : "";
}

std::string where(const std::string& section_desc, const toml::node& n) {
  std::string l = line_of(n);
  return l.empty() ? section_desc : section_desc + ", " + l;
}

std::optional<double> number(const toml::table& t, const std::string& key, const std::string& file,
                             const std::string& desc) {
  const toml::node* n = t.get(key);
  if (!n) return std::nullopt;
  auto v = n->value<double>();  // integers convert
  if (!v) throw InputError(file, "'" + key + "' must be a number", where(desc, *n));
  if (!(*v > 0)) throw InputError(file, "'" + key + "' must be positive", where(desc, *n));
  return v;
}

// A key that only `format` reads: warned (like an unknown key) in a section of another format.
void warn_if_other_format(const toml::table& t, const toml::node& n, const std::string& key,
                          const std::string& format, const std::string& file,
                          const std::string& desc) {
  if (t["format"].value_or(std::string()) != format)
    spdlog::warn("{} ({}): '{}' applies to format = \"{}\" only; ignored", file, where(desc, n),
                 key, format);
}

// A boolean key: absent = false.
bool flag(const toml::table& t, const std::string& key, const std::string& format,
          const std::string& file, const std::string& desc) {
  const toml::node* n = t.get(key);
  if (!n) return false;
  if (!n->is_boolean()) throw InputError(file, "'" + key + "' must be true or false", where(desc, *n));
  warn_if_other_format(t, *n, key, format, file, desc);
  return *n->value<bool>();
}

}  // namespace

Manifest load_manifest(const fs::path& path, const fs::path& data_root) {
  const std::string file = path.string();
  if (!fs::exists(path)) throw InputError(file, "manifest not found");
  toml::table root;
  try {
    root = toml::parse_file(file);
  } catch (const toml::parse_error& e) {
    throw InputError(file, "invalid TOML: " + std::string(e.description()),
                     "line " + std::to_string(e.source().begin.line));
  }

  Manifest m;
  m.path = path;
  m.data_root = data_root.empty() ? path.parent_path() : data_root;
  if (m.data_root.empty()) m.data_root = ".";
  m.name = root["name"].value_or(path.stem().string());
  if (auto g = root["genes"].value<std::string>()) m.genes = m.data_root / *g;
  if (auto g = root["gene_symbols"].value<std::string>()) m.gene_symbols = m.data_root / *g;
  if (const toml::node* node = root.get("markers")) {
    const toml::table* sets = node->as_table();
    if (!sets) throw InputError(file, "[markers] must be a table of named gene lists, e.g. her2 = [\"ERBB2\"]");
    std::vector<uint32_t> marker_lines;
    for (auto&& [name, list] : *sets) {
      MarkerSet set{std::string(name.str()), {}};
      const toml::array* genes = list.as_array();
      if (genes)
        for (auto&& g : *genes)
          if (auto v = g.value<std::string>(); v && !v->empty()) set.genes.push_back(*v);
      if (!genes || set.genes.size() != genes->size() || set.genes.empty())
        throw InputError(file, "[markers] " + set.name + " must be a non-empty list of gene names",
                         "line " + std::to_string(list.source().begin.line));
      m.markers.push_back(std::move(set));
      marker_lines.push_back(list.source().begin.line);
    }
    // toml++ keeps a table's keys sorted; the sets keep the order the file gives them.
    std::vector<size_t> order(m.markers.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return marker_lines[a] < marker_lines[b]; });
    std::vector<MarkerSet> sorted;
    for (size_t i : order) sorted.push_back(std::move(m.markers[i]));
    m.markers = std::move(sorted);
  }

  const toml::array* sections = root["section"].as_array();
  if (!sections || sections->empty())
    throw InputError(file, "no [[section]] tables: a manifest lists at least one section");

  std::set<std::string> seen;
  for (size_t i = 0; i < sections->size(); ++i) {
    const toml::table* t = (*sections)[i].as_table();
    std::string desc = "section #" + std::to_string(i + 1);
    if (!t) throw InputError(file, "each [[section]] entry must be a table", desc);

    ManifestSection s;
    auto id = (*t)["id"].value<std::string>();
    if (!id || id->empty()) throw InputError(file, "missing required key 'id'", where(desc, *t));
    s.id = *id;
    desc = "section " + s.id;
    if (!seen.insert(s.id).second)
      throw InputError(file, "duplicate section id '" + s.id + "'", where(desc, *t));

    auto format = (*t)["format"].value<std::string>();
    if (!format) throw InputError(file, "missing required key 'format'", where(desc, *t));
    s.format = *format;
    if (required_files(s.format).empty())
      throw InputError(file,
                       "unknown format '" + s.format + "' (expected st_legacy, visium, h5ad or hest)",
                       where(desc, *t->get("format")));
    // The patient drives leave-one-patient-out; a section without one is its own patient.
    // hest: an unset patient comes from the sample's metadata (io/hest_reader.h).
    s.patient = (*t)["patient"].value_or(s.format == "hest" ? std::string() : s.id);
    if (const toml::node* n = t->get("sample")) {
      auto v = n->value<std::string>();
      if (!v || v->empty()) throw InputError(file, "'sample' must be a HEST id string", where(desc, *n));
      warn_if_other_format(*t, *n, "sample", "hest", file, desc);
      s.hest_sample = *v;
    }

    for (auto&& [k, v] : *t) {
      std::string key(k.str());
      if (kFileKeys.count(key)) {
        auto rel = v.value<std::string>();
        if (!rel || rel->empty())
          throw InputError(file, "'" + key + "' must be a non-empty path string", where(desc, v));
        fs::path p(*rel);
        s.files[key] = p.is_absolute() ? p : m.data_root / p;
      } else if (!kOtherKeys.count(key)) {
        spdlog::warn("{} ({}): unknown key '{}' ignored", file, where(desc, v), key);
      }
    }
    for (const auto& need : required_files(s.format))
      if (!s.files.count(need))
        throw InputError(file, "missing required key '" + need + "' for format '" + s.format + "'",
                         where(desc, *t));

    s.spot_diameter_px = number(*t, "spot_diameter_px", file, desc);
    s.um_per_px = number(*t, "um_per_px", file, desc);
    if (const toml::node* a = t->get("affine")) {
      const toml::array* arr = a->as_array();
      if (!arr || arr->size() != 6)
        throw InputError(file, "'affine' must be an array of 6 numbers [a, b, c, d, e, f]",
                         where(desc, *a));
      std::array<double, 6> aff{};
      for (size_t j = 0; j < 6; ++j) {
        auto v = (*arr)[j].value<double>();
        if (!v) throw InputError(file, "'affine' must be an array of 6 numbers", where(desc, *a));
        aff[j] = *v;
      }
      s.affine = aff;
    }
    if (const toml::node* n = t->get("counts_layer")) {
      auto v = n->value<std::string>();
      if (!v || v->empty() || v->find('/') != std::string::npos)
        throw InputError(file, "'counts_layer' must be the name of a layer (layers/NAME), e.g. \"counts\"",
                         where(desc, *n));
      warn_if_other_format(*t, *n, "counts_layer", "h5ad", file, desc);
      s.counts_layer = *v;
    }
    s.assume_normalised = flag(*t, "assume_normalised", "h5ad", file, desc);
    if (s.assume_normalised && !s.counts_layer.empty())
      throw InputError(file, "set either 'counts_layer' (raw counts in a layer) or "
                             "'assume_normalised' (take X as it is), not both",
                       where(desc, *t->get("assume_normalised")));
    s.allow_missing_spots = flag(*t, "allow_missing_spots", "st_legacy", file, desc);
    m.sections.push_back(std::move(s));
  }
  return m;
}

const ManifestSection& Manifest::section(const std::string& id) const {
  for (const auto& s : sections)
    if (s.id == id) return s;
  std::string valid;
  for (const auto& s : sections) valid += (valid.empty() ? "" : ", ") + s.id;
  throw InputError(path.string(), "unknown section '" + id + "' (valid ids: " + valid + ")");
}

std::vector<ManifestSection> Manifest::select(const std::vector<std::string>& ids) const {
  std::set<std::string> wanted;
  for (const auto& id : ids) {
    section(id);  // throws, naming the id and the valid ones
    wanted.insert(id);
  }
  std::vector<ManifestSection> out;
  for (const auto& s : sections)
    if (wanted.empty() || wanted.count(s.id)) out.push_back(s);
  return out;
}

}  // namespace hiscmcl
