#include "pipeline/qupath_geojson.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "common/atomic_output.h"
#include "common/error.h"
#include "eval/heatmap.h"

namespace fs = std::filesystem;

namespace hiscmcl {
namespace {

std::string json_quoted(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Shortest text that reads back as the same float (JSON numbers are doubles; float -> double is
// exact).
void number(std::string& out, double v, const char* format = "%.9g") {
  char buf[40];
  std::snprintf(buf, sizeof buf, format, v);
  out += buf;
}

}  // namespace

void write_qupath_geojson(const fs::path& path, const ViewerData& d, int vertices) {
  const std::string file = path.string();
  const int64_t n = int64_t(d.spot_ids.size()), g = int64_t(d.genes.size());
  if (vertices < 3) throw InputError(file, "a spot polygon needs at least 3 vertices");
  if (int64_t(d.pixel_xy.size()) != n || d.predicted.rows != n || d.predicted.cols != g ||
      (!d.sd.data.empty() && (d.sd.rows != n || d.sd.cols != g)) ||
      (!d.measured.data.empty() && (d.measured.rows != n || d.measured.cols != g)) ||
      (!d.regions.empty() && int64_t(d.regions.size()) != n))
    throw InputError(file, "spot data are not one row per spot");
  for (const auto& s : d.scores)
    if (int64_t(s.values.size()) != n) throw InputError(file, "score " + s.name + " is not one value per spot");

  // Measurement names, each once: the genes, then the rest (renamed where one would repeat).
  std::set<std::string> taken(d.genes.begin(), d.genes.end());
  auto unique_name = [&](std::string name) {
    while (!taken.insert(name).second) name += " (2)";
    return json_quoted(name);
  };
  std::vector<std::string> gene_keys, measured_keys, score_keys;
  for (const auto& gene : d.genes) gene_keys.push_back(json_quoted(gene));
  const std::string sd_key = d.sd.data.empty() ? "" : unique_name("mean sd");
  if (!d.measured.data.empty())
    for (const auto& gene : d.genes) measured_keys.push_back(unique_name("measured: " + gene));
  for (const auto& s : d.scores) score_keys.push_back(unique_name(s.name));
  std::vector<std::string> classes;
  for (size_t r = 0; r < d.region_names.size(); ++r) {
    const cv::Vec3b bgr = region_bgr(int(r));
    classes.push_back("{\"name\":" + json_quoted(d.region_names[r]) + ",\"color\":[" + std::to_string(bgr[2]) + "," +
                      std::to_string(bgr[1]) + "," + std::to_string(bgr[0]) + "]}");
  }

  AtomicPath out(path);
  std::ofstream f(out.temp(), std::ios::binary);
  if (!f) throw InputError(file, "cannot write");
  f << "{\"type\":\"FeatureCollection\",\"features\":[\n";
  const double radius = d.spot_diameter_px / 2;
  std::string line;
  for (int64_t i = 0; i < n; ++i) {
    line.clear();
    line += i ? ",\n" : "";
    line += "{\"type\":\"Feature\",\"id\":" + json_quoted(d.spot_ids[size_t(i)]) +
            ",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[";
    const double cx = d.pixel_xy[size_t(i)][0], cy = d.pixel_xy[size_t(i)][1];
    for (int k = 0; k <= vertices; ++k) {  // the last vertex closes the ring
      const double a = 2 * M_PI * double(k % vertices) / double(vertices);
      line += k ? ",[" : "[";
      number(line, cx + radius * std::cos(a), "%.2f");
      line += ",";
      number(line, cy + radius * std::sin(a), "%.2f");
      line += "]";
    }
    line += "]]},\"properties\":{\"objectType\":\"detection\"";
    if (!d.regions.empty() && d.regions[size_t(i)] >= 0)
      line += ",\"classification\":" + classes[size_t(d.regions[size_t(i)])];
    line += ",\"measurements\":{";
    bool first = true;
    auto measurement = [&](const std::string& key, double v) {
      if (!std::isfinite(v)) return;
      line += first ? "" : ",";
      first = false;
      line += key + ":";
      number(line, v);
    };
    for (int64_t j = 0; j < g; ++j) measurement(gene_keys[size_t(j)], d.predicted(i, j));
    if (!d.sd.data.empty()) {
      double sum = 0;
      int64_t m = 0;
      for (int64_t j = 0; j < g; ++j)
        if (std::isfinite(d.sd(i, j))) sum += d.sd(i, j), ++m;
      measurement(sd_key, m ? sum / double(m) : NAN);
    }
    for (int64_t j = 0; j < int64_t(measured_keys.size()); ++j) measurement(measured_keys[size_t(j)], d.measured(i, j));
    for (size_t s = 0; s < d.scores.size(); ++s) measurement(score_keys[s], d.scores[s].values[size_t(i)]);
    line += "}}}";
    f << line;
  }
  f << "\n]}\n";
  f.close();
  if (!f) throw InputError(file, "cannot write (disk full or not writable?)");
  out.commit();
}

}  // namespace hiscmcl
