#include "pipeline/slide_viewer.h"

#include <spdlog/spdlog.h>
#include <unistd.h>
#include <vips/vips.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/atomic_output.h"
#include "common/crash_point.h"
#include "common/error.h"
#include "eval/heatmap.h"
#include "pipeline/qupath_geojson.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace hiscmcl {
namespace {

// The static files of the viewer, embedded at build time (cmake/embed_files.cmake): our
// viewer/index.html, viewer.js, viewer.css and OpenSeadragon's build from node_modules.
struct EmbeddedFile {
  const char* name;
  const unsigned char* data;
  size_t size;
};
#include "viewer_assets.inc"  // kViewerAssets[], kViewerAssetCount

constexpr int kTileSize = 254;  // DeepZoom's usual 256 with the overlap
constexpr int kTileOverlap = 1;
const char kTileFormat[] = "jpg";

void ensure_vips() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] {
    ok = vips_init("hiscmcl") == 0;
    if (ok) vips_leak_set(FALSE);
  });
  if (!ok) throw std::runtime_error("libvips failed to start: " + std::string(vips_error_buffer()));
}

std::string vips_message() {
  std::string m = vips_error_buffer();
  vips_error_clear();
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  for (char& c : m)
    if (c == '\n') c = ';';
  return m.empty() ? "libvips gave no reason" : m;
}

// One reference to a VipsImage, released at scope exit.
class VipsRef {
 public:
  explicit VipsRef(VipsImage* p = nullptr) : p_(p) {}
  ~VipsRef() {
    if (p_) g_object_unref(p_);
  }
  VipsRef(const VipsRef&) = delete;
  VipsRef& operator=(const VipsRef&) = delete;
  VipsImage* get() const { return p_; }
  VipsImage** out() { return &p_; }
  // Replaces the image by the result of a vips operation on it.
  template <typename Op>
  void apply(const std::string& file, const char* what, Op op) {
    VipsImage* next = nullptr;
    if (op(p_, &next) != 0) throw InputError(file, std::string("cannot tile the slide (") + what + "): " + vips_message());
    g_object_unref(p_);
    p_ = next;
  }

 private:
  VipsImage* p_;
};

struct Pyramid {
  int width = 0, height = 0, max_level = 0;
};

// The DeepZoom pyramid of image under dir (tiles.dzi, tiles_files/). The slide is opened for
// sequential access: libvips streams it through the pyramid in strips, whatever its size.
Pyramid write_pyramid(const fs::path& image, const fs::path& dir) {
  ensure_vips();
  const std::string file = image.string();
  if (!fs::is_regular_file(image)) throw InputError(file, "the slide to tile is missing");
  // fail_on truncated: a damaged JPEG/TIFF stops the tiling (left alone, libvips would fill the
  // rest of the slide with grey and carry on).
  VipsRef im(vips_image_new_from_file(file.c_str(), "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                      VIPS_FAIL_ON_TRUNCATED, NULL));
  if (!im.get()) throw InputError(file, "cannot open the slide to tile it: " + vips_message());
  if (vips_image_hasalpha(im.get()))
    im.apply(file, "flatten", [](VipsImage* in, VipsImage** out) {
      VipsArrayDouble* white = vips_array_double_newv(3, 255.0, 255.0, 255.0);
      int r = vips_flatten(in, out, "background", white, NULL);
      vips_area_unref(VIPS_AREA(white));
      return r;
    });
  if (im.get()->Bands < 3)
    im.apply(file, "colour", [](VipsImage* in, VipsImage** out) {
      return vips_colourspace(in, out, VIPS_INTERPRETATION_sRGB, NULL);
    });
  if (im.get()->Bands > 3)
    im.apply(file, "bands", [](VipsImage* in, VipsImage** out) { return vips_extract_band(in, out, 0, "n", 3, NULL); });
  if (im.get()->BandFmt != VIPS_FORMAT_UCHAR)
    im.apply(file, "8-bit", [](VipsImage* in, VipsImage** out) { return vips_cast_uchar(in, out, NULL); });
  Pyramid p;
  p.width = vips_image_get_width(im.get());
  p.height = vips_image_get_height(im.get());
  const std::string base = (dir / "tiles").string();
  const std::string suffix = std::string(".") + kTileFormat + "[Q=85]";
  if (vips_dzsave(im.get(), base.c_str(), "layout", VIPS_FOREIGN_DZ_LAYOUT_DZ, "tile_size", kTileSize,
                  "overlap", kTileOverlap, "suffix", suffix.c_str(), NULL) != 0)
    throw InputError(file, "tiling the slide failed: " + vips_message());
  fail_point("viewer.tiled", file);  // tests: tiling that breaks partway
  // Levels 0 (1 x 1 px) .. ceil(log2(long side)), as OpenSeadragon counts them.
  int levels = 0;
  for (const auto& e : fs::directory_iterator(dir / "tiles_files"))
    if (e.is_directory()) ++levels;
  int expect = 0;
  while ((int64_t(1) << expect) < std::max(p.width, p.height)) ++expect;
  if (levels != expect + 1)
    throw InputError(file, "tiling the slide gave " + std::to_string(levels) + " pyramid levels, expected " +
                               std::to_string(expect + 1));
  p.max_level = expect;
  return p;
}

std::string base64(const unsigned char* data, size_t n) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = uint32_t(data[i]) << 16;
    if (i + 1 < n) v |= uint32_t(data[i + 1]) << 8;
    if (i + 2 < n) v |= uint32_t(data[i + 2]);
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += i + 1 < n ? k[(v >> 6) & 63] : '=';
    out += i + 2 < n ? k[v & 63] : '=';
  }
  return out;
}

json quantised_json(const std::vector<float>& values) {
  QuantisedValues q = quantise_values(values);
  return {{"lo", q.lo}, {"step", q.step}, {"q", q.base64}};
}

std::vector<float> column(const Matrix& m, int64_t c) {
  std::vector<float> v(size_t(m.rows));
  for (int64_t i = 0; i < m.rows; ++i) v[size_t(i)] = m(i, c);
  return v;
}

void write_file(const fs::path& path, const void* data, size_t n) {
  std::ofstream f(path, std::ios::binary);
  f.write(static_cast<const char*>(data), std::streamsize(n));
  f.close();
  if (!f) throw InputError(path.string(), "cannot write (disk full or not writable?)");
}
void write_file(const fs::path& path, const std::string& text) { write_file(path, text.data(), text.size()); }

std::string hex_colour(int region) {
  const cv::Vec3b bgr = region_bgr(region);
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", bgr[2], bgr[1], bgr[0]);
  return buf;
}

void check(const ViewerData& d, const std::string& where) {
  const int64_t n = int64_t(d.spot_ids.size()), g = int64_t(d.genes.size());
  auto bad = [&](const std::string& what) { throw InputError(where, "viewer data: " + what); };
  if (int64_t(d.pixel_xy.size()) != n) bad("pixel_xy is not one per spot");
  if (d.predicted.rows != n || d.predicted.cols != g) bad("predicted is not spots x genes");
  if (!d.sd.data.empty() && (d.sd.rows != n || d.sd.cols != g)) bad("sd is not spots x genes");
  if (!d.measured.data.empty() && (d.measured.rows != n || d.measured.cols != g)) bad("measured is not spots x genes");
  if (!d.regions.empty() && int64_t(d.regions.size()) != n) bad("regions is not one per spot");
  for (int r : d.regions)
    if (r < -1 || r >= int(d.region_names.size())) bad("a region without a name");
  for (const auto& s : d.scores)
    if (int64_t(s.values.size()) != n) bad("score " + s.name + " is not one per spot");
  if (!(d.spot_diameter_px > 0) || !std::isfinite(d.spot_diameter_px)) bad("the spot diameter is not positive");
}

}  // namespace

std::string script_safe_json(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '<') out += "\\u003c";
    else if (c == '>') out += "\\u003e";
    else if (c == '&') out += "\\u0026";
    else if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
             (static_cast<unsigned char>(text[i + 2]) == 0xA8 || static_cast<unsigned char>(text[i + 2]) == 0xA9)) {
      out += static_cast<unsigned char>(text[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 2;
    } else out += char(c);
  }
  return out;
}

QuantisedValues quantise_values(const std::vector<float>& values) {
  double lo = INFINITY, hi = -INFINITY;
  for (float v : values)
    if (std::isfinite(v)) {
      lo = std::min(lo, double(v));
      hi = std::max(hi, double(v));
    }
  QuantisedValues q;
  if (!(lo <= hi)) lo = hi = 0;
  q.lo = lo;
  q.step = hi > lo ? (hi - lo) / 65534.0 : 0.0;
  std::vector<unsigned char> bytes(values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t code = 65535;
    if (std::isfinite(values[i]))
      code = q.step > 0 ? uint32_t(std::clamp(std::lround((double(values[i]) - lo) / q.step), 0L, 65534L)) : 0;
    bytes[2 * i] = uint8_t(code & 0xff);
    bytes[2 * i + 1] = uint8_t(code >> 8);
  }
  q.base64 = base64(bytes.data(), bytes.size());
  return q;
}

void write_slide_viewer(const fs::path& out_dir, const fs::path& image, const ViewerData& d) {
  check(d, out_dir.string());
  const auto start = std::chrono::steady_clock::now();
  AtomicPath out(out_dir);  // <out_dir>.tmp<pid>, removed unless committed
  fs::remove_all(out.temp());
  fs::create_directories(out.temp() / "data" / "genes");
  const Pyramid pyr = write_pyramid(image, out.temp());
  const double tiled_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  for (size_t i = 0; i < kViewerAssetCount; ++i) {
    const fs::path p = out.temp() / kViewerAssets[i].name;
    fs::create_directories(p.parent_path());
    write_file(p, kViewerAssets[i].data, kViewerAssets[i].size);
  }

  const auto dump = [](const json& j) { return script_safe_json(j.dump(-1, ' ', false, json::error_handler_t::replace)); };
  json spots;
  spots["version"] = 1;
  spots["section"] = d.section_id;
  spots["image"] = {{"width", pyr.width}, {"height", pyr.height}, {"tileSize", kTileSize},
                    {"overlap", kTileOverlap}, {"format", kTileFormat}, {"maxLevel", pyr.max_level},
                    {"tiles", "tiles_files/"}};
  json x = json::array(), y = json::array();
  for (const auto& p : d.pixel_xy) {
    x.push_back(std::round(p[0] * 10) / 10);
    y.push_back(std::round(p[1] * 10) / 10);
  }
  spots["ids"] = d.spot_ids;
  spots["x"] = std::move(x);
  spots["y"] = std::move(y);
  spots["diameter"] = d.spot_diameter_px;
  spots["genes"] = d.genes;
  spots["hasSd"] = !d.sd.data.empty();
  spots["hasMeasured"] = !d.measured.data.empty();
  if (!d.regions.empty()) {
    json colours = json::array();
    for (size_t r = 0; r < d.region_names.size(); ++r) colours.push_back(hex_colour(int(r)));
    spots["regions"] = {{"names", d.region_names}, {"colours", colours}, {"codes", d.regions}};
  } else {
    spots["regions"] = nullptr;
  }
  json scores = json::array();
  for (const auto& s : d.scores) scores.push_back({{"name", s.name}, {"values", quantised_json(s.values)}});
  spots["scores"] = std::move(scores);
  write_file(out.temp() / "data" / "spots.js", "window.HISCMCL_VIEWER = " + dump(spots) + ";\n");

  for (int64_t g = 0; g < int64_t(d.genes.size()); ++g) {
    json j;
    j["pred"] = quantised_json(column(d.predicted, g));
    if (!d.sd.data.empty()) j["sd"] = quantised_json(column(d.sd, g));
    if (!d.measured.data.empty()) j["measured"] = quantised_json(column(d.measured, g));
    write_file(out.temp() / "data" / "genes" / (std::to_string(g) + ".js"),
               "hiscmclGene(" + std::to_string(g) + ", " + dump(j) + ");\n");
  }
  out.commit();
  const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("viewer: {} ({} x {} px slide, {} levels, tiled in {:.1f} s; {} spots x {} genes; {:.1f} s in all)",
               out_dir.string(), pyr.width, pyr.height, pyr.max_level + 1, tiled_s, d.spot_ids.size(),
               d.genes.size(), total_s);
}

ViewerData viewer_data_of(const PreparedSection& p, const Matrix& measured) {
  ViewerData d;
  d.section_id = p.id;
  d.spot_ids = p.spot_ids;
  d.pixel_xy = p.pixel_xy;
  d.spot_diameter_px = p.image.spot_diameter_px;
  d.genes = p.genes;
  d.predicted = p.expression;
  d.sd = p.spread;
  d.measured = measured;
  for (const auto& c : p.obs_categoricals)
    if (c.name == "region") {
      d.region_names = c.categories;
      d.regions = c.codes;
    }
  d.scores = p.obs_columns;
  return d;
}

bool write_prediction_views(const fs::path& dir, const std::string& viewer_name, const fs::path& image,
                            const ViewerData& data, bool geojson) {
  if (geojson) write_qupath_geojson(dir / "spots.geojson", data);
  try {
    write_slide_viewer(dir / viewer_name, image, data);
    return true;
  } catch (const InputError& e) {
    spdlog::warn("no slide viewer for {}: {}; the prediction's other files are complete", data.section_id, e.what());
    return false;
  }
}

}  // namespace hiscmcl
