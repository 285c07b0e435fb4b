#include "io/hest_reader.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/atomic_output.h"
#include "common/error.h"
#include "io/text_file.h"
#include "io/h5ad.h"
#include "io/image_info.h"
#include "io/spot_spacing.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace hiscmcl {
namespace {

// Python's json.dump writes float('nan') as a bare NaN (and inf as Infinity), which JSON forbids.
// Tokens outside strings become null; strings are copied as they are.
std::string nan_tokens_to_null(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) out += text[++i];
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      out += c;
      continue;
    }
    bool replaced = false;
    for (std::string_view token : {"-Infinity", "Infinity", "NaN"})
      if (text.substr(i, token.size()) == token) {
        out += "null";
        i += token.size() - 1;
        replaced = true;
        break;
      }
    if (!replaced) out += c;
  }
  return out;
}

// A positive number, or a string holding one (the catalogue's columns come through as either);
// missing (absent, null, NaN, empty, not a number) gives nullopt. A number <= 0 is refused
// naming the file: it was replaced by the technology's default before, silently.
std::optional<double> positive(const json& obj, const char* key, const std::string& file) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  double v = 0;
  if (it->is_number()) {
    v = it->get<double>();
  } else if (it->is_string()) {
    std::string s(trim(it->get<std::string>()));
    if (s.empty()) return std::nullopt;
    char* end = nullptr;
    v = std::strtod(s.c_str(), &end);
    if (end == s.c_str()) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (!std::isfinite(v)) return std::nullopt;
  if (v <= 0) {
    std::ostringstream os;
    os << key << " = " << v << " must be positive (µm) or missing";
    throw InputError(file, os.str());
  }
  return v;
}

std::string text(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return {};
  if (it->is_string()) return std::string(trim(it->get<std::string>()));
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return std::string(trim(it->dump()));
}

const fs::path& need_file(const fs::path& p, const std::string& what, const std::string& sample) {
  if (!fs::exists(p))
    throw InputError(p.string(), "HEST sample '" + sample + "' has no " + what + " (file not found)");
  return p;
}

}  // namespace

HestPaths hest_paths(const fs::path& root, const std::string& sample) {
  return {root / "st" / (sample + ".h5ad"), root / "wsis" / (sample + ".tif"),
          root / "metadata" / (sample + ".json"), root / "patches" / (sample + ".h5")};
}

HestMetadata parse_hest_metadata(std::string_view raw, const std::string& file) {
  json j;
  try {
    j = json::parse(nan_tokens_to_null(raw));
  } catch (const json::exception& e) {
    throw InputError(file, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw InputError(file, "expected a JSON object of sample metadata");
  HestMetadata m;
  m.pixel_size_um = positive(j, "pixel_size_um_estimated", file);
  if (!m.pixel_size_um) m.pixel_size_um = positive(j, "pixel_size_um_embedded", file);
  m.spot_diameter_um = positive(j, "spot_diameter", file);
  m.inter_spot_dist_um = positive(j, "inter_spot_dist", file);
  m.st_technology = text(j, "st_technology");
  m.patient = text(j, "patient");
  m.organ = text(j, "organ");
  m.species = text(j, "species");
  m.disease_state = text(j, "disease_state");
  m.oncotree_code = text(j, "oncotree_code");
  return m;
}

HestMetadata read_hest_metadata(const fs::path& path) {
  return parse_hest_metadata(read_text_file(path), path.string());
}

Section read_hest_section(const ManifestSection& ms) {
  const std::string sample = ms.hest_sample.empty() ? ms.id : ms.hest_sample;
  auto root_it = ms.files.find("root");
  if (root_it == ms.files.end()) throw InputError(ms.id, "hest section needs a 'root'");
  const fs::path& root = root_it->second;
  if (!fs::is_directory(root)) throw InputError(root.string(), "HEST root is not a folder");
  const HestPaths paths = hest_paths(root, sample);
  need_file(paths.metadata, "metadata (metadata/" + sample + ".json)", sample);
  need_file(paths.st, "expression (st/" + sample + ".h5ad)", sample);
  // The manifest's image replaces the slide (a re-scanned or converted copy).
  const fs::path image = ms.files.count("image") ? ms.files.at("image") : paths.wsi;
  need_file(image, "whole-slide image (wsis/" + sample + ".tif)", sample);

  // Metadata and image before the counts: a bad geometry fails before the heavier read.
  const HestMetadata meta = read_hest_metadata(paths.metadata);
  const ImageSize size = read_image_size(image);
  double um = 0;
  if (ms.um_per_px) um = *ms.um_per_px;
  else if (meta.pixel_size_um) um = *meta.pixel_size_um;
  else
    throw InputError(paths.metadata.string(),
                     "no pixel size (pixel_size_um_estimated or pixel_size_um_embedded); set "
                     "um_per_px for this section in the manifest");

  double spot_um = 0;
  if (meta.spot_diameter_um) spot_um = *meta.spot_diameter_um;
  else if (meta.st_technology == "Visium") spot_um = 55;
  else if (meta.st_technology == "Spatial Transcriptomics") spot_um = 100;
  double spot_px = ms.spot_diameter_px ? *ms.spot_diameter_px : spot_um / um;
  if (!(spot_px > 0))
    throw InputError(paths.metadata.string(),
                     "no spot diameter (spot_diameter, or an st_technology of Visium or Spatial "
                     "Transcriptomics); set spot_diameter_px for this section in the manifest");

  Section s = read_h5ad_section(paths.st, {ms.counts_layer, ms.assume_normalised});
  s.id = ms.id;
  s.patient = meta.patient.empty() ? ms.id : meta.patient;
  const std::array<double, 6> affine = apply_manifest_affine(ms, s.pixel_xy);
  require_pixels_inside(s.spot_ids, s.pixel_xy, size, paths.st.string(), image.string());
  // HEST-1k states 2 µm (the bin) for Visium HD samples whose spots are pooled far coarser.
  spot_px = settle_spot_diameter(
      ms.id,
      ms.spot_diameter_px       ? std::string("the manifest's spot_diameter_px")
      : meta.spot_diameter_um   ? paths.metadata.string() + " (spot_diameter)"
                                : paths.metadata.string() + " (the " + meta.st_technology + " default)",
      spot_px, s.pixel_xy, meta.st_technology == "Spatial Transcriptomics" ? SpotArray::st : SpotArray::visium);
  ImageGeometry& g = s.image;
  g.image_path = image.string();
  g.width = size.width;
  g.height = size.height;
  g.affine = affine;
  g.um_per_px = um;
  g.spot_diameter_px = spot_px;
  spdlog::debug("{}: HEST {} ({}), {} spots, {:.4g} um/px, spot {:.1f} px", ms.id, sample,
                meta.st_technology, s.n_spots(), um, spot_px);
  return s;
}

}  // namespace hiscmcl
