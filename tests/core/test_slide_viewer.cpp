// The slide viewer folder (pipeline/slide_viewer.h), the QuPath GeoJSON (pipeline/qupath_geojson.h)
// and the scanpy spatial image of a prediction's h5ad (io/spatial_image.h, uns/spatial).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <sstream>

#include "common/error.h"
#include "io/h5ad.h"
#include "io/slide_image.h"
#include "io/spatial_image.h"
#include "pipeline/qupath_geojson.h"
#include "pipeline/slide_viewer.h"
#include "test_util.h"

using namespace hiscmcl;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A noisy RGB JPEG (noise compresses badly: a truncated copy really lacks image data).
fs::path write_jpeg(const fs::path& path, int w, int h) {
  cv::Mat m(h, w, CV_8UC3);
  cv::randu(m, cv::Scalar::all(0), cv::Scalar::all(255));
  EXPECT_TRUE(cv::imwrite(path.string(), m));
  return path;
}

ViewerData sample_data() {
  ViewerData d;
  d.section_id = "C6 <b>&\"";
  d.spot_ids = {"10x13", "11x14", "<img src=x onerror=alert(1)>"};
  d.pixel_xy = {{100.5, 120.25}, {300, 200}, {650, 480}};
  d.spot_diameter_px = 40;
  d.genes = {"ERBB2", "</script><script>alert(1)</script>", "a\"b'c", "x\u2028y", "Gène"};
  d.predicted = Matrix(3, 5);
  d.sd = Matrix(3, 5);
  d.measured = Matrix(3, 5);
  for (int i = 0; i < 15; ++i) {
    d.predicted.data[size_t(i)] = 0.37f * float(i) - 1.5f;
    d.sd.data[size_t(i)] = 0.01f * float(i);
    d.measured.data[size_t(i)] = float(i % 4);
  }
  d.predicted(1, 3) = NAN;
  d.region_names = {"region 1", "region <2>"};
  d.regions = {0, 1, -1};
  d.scores = {{"luminal score", {0.5f, -0.25f, 1.0f}}};
  return d;
}

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// The JSON inside "<prefix>{...});" or "<prefix>{...};".
json script_json(const std::string& text, const std::string& prefix) {
  EXPECT_EQ(text.rfind(prefix, 0), 0u) << text.substr(0, 80);
  std::string body = text.substr(prefix.size());
  while (!body.empty() && (body.back() == '\n' || body.back() == ';' || body.back() == ')')) body.pop_back();
  return json::parse(body);
}

std::vector<float> decode(const json& q) {
  std::string b64 = q["q"], bytes;
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : 63;
  };
  for (size_t i = 0; i + 3 < b64.size(); i += 4) {
    uint32_t v = uint32_t(val(b64[i])) << 18 | uint32_t(val(b64[i + 1])) << 12;
    bytes += char(v >> 16);
    if (b64[i + 2] != '=') v |= uint32_t(val(b64[i + 2])) << 6, bytes += char((v >> 8) & 255);
    if (b64[i + 3] != '=') v |= uint32_t(val(b64[i + 3])), bytes += char(v & 255);
  }
  std::vector<float> out;
  for (size_t i = 0; i + 1 < bytes.size(); i += 2) {
    const unsigned code = unsigned(uint8_t(bytes[i])) | unsigned(uint8_t(bytes[i + 1])) << 8;
    out.push_back(code == 65535 ? NAN : float(q["lo"].get<double>() + code * q["step"].get<double>()));
  }
  return out;
}

bool leftovers(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find("viewer") != std::string::npos) return true;
  return false;
}

}  // namespace

TEST(SlideViewer, WritesPyramidAssetsAndEscapedData) {
  test::TempDir tmp;
  const fs::path img = write_jpeg(tmp / "slide.jpg", 700, 500);
  const ViewerData d = sample_data();
  write_slide_viewer(tmp / "viewer", img, d);
  const fs::path v = tmp / "viewer";
  for (const char* f : {"index.html", "viewer.js", "viewer.css", "openseadragon/openseadragon.min.js",
                        "openseadragon/LICENSE.txt", "openseadragon/images/zoomin_rest.png", "tiles.dzi",
                        "tiles_files/0/0_0.jpg", "tiles_files/10/2_1.jpg", "data/spots.js", "data/genes/4.js"})
    EXPECT_TRUE(fs::is_regular_file(v / f)) << f;
  EXPECT_FALSE(fs::exists(v / "tiles_files/11")) << "levels 0..ceil(log2(700)) = 10";
  EXPECT_FALSE(fs::exists(tmp / ("viewer.tmp" + std::to_string(::getpid()))));
  const std::string html = read_all(v / "index.html");
  EXPECT_EQ(html.find("http://"), std::string::npos) << "no network";
  EXPECT_EQ(html.find("https://"), std::string::npos) << "no network";

  const std::string spots_js = read_all(v / "data/spots.js");
  for (const char* raw : {"<", ">", "&", "\u2028"}) EXPECT_EQ(spots_js.find(raw), std::string::npos) << raw;
  json s = script_json(spots_js, "window.HISCMCL_VIEWER = ");
  EXPECT_EQ(s["genes"].get<std::vector<std::string>>(), d.genes);
  EXPECT_EQ(s["ids"].get<std::vector<std::string>>(), d.spot_ids);
  EXPECT_EQ(s["section"], d.section_id);
  EXPECT_EQ(s["image"]["width"], 700);
  EXPECT_EQ(s["image"]["height"], 500);
  EXPECT_EQ(s["image"]["maxLevel"], 10);
  EXPECT_EQ(s["regions"]["codes"], json({0, 1, -1}));
  EXPECT_EQ(s["regions"]["names"][1], "region <2>");
  EXPECT_DOUBLE_EQ(s["x"][0].get<double>(), 100.5);
  EXPECT_DOUBLE_EQ(s["y"][0].get<double>(), 120.3);
  EXPECT_TRUE(s["hasSd"].get<bool>());
  EXPECT_TRUE(s["hasMeasured"].get<bool>());
  const auto score = decode(s["scores"][0]["values"]);
  ASSERT_EQ(score.size(), 3u);
  EXPECT_NEAR(score[1], -0.25, 1.6 / 65534);

  for (int g = 0; g < 5; ++g) {
    const std::string text = read_all(v / ("data/genes/" + std::to_string(g) + ".js"));
    json j = script_json(text, "hiscmclGene(" + std::to_string(g) + ", ");
    const auto pred = decode(j["pred"]), sd = decode(j["sd"]), measured = decode(j["measured"]);
    ASSERT_EQ(pred.size(), 3u);
    for (int i = 0; i < 3; ++i) {
      const float want = d.predicted(i, g);
      if (std::isnan(want)) EXPECT_TRUE(std::isnan(pred[size_t(i)]));
      else EXPECT_NEAR(pred[size_t(i)], want, 6.0 / 65534) << g << " " << i;
      EXPECT_NEAR(sd[size_t(i)], d.sd(i, g), 0.2 / 65534);
      EXPECT_NEAR(measured[size_t(i)], d.measured(i, g), 4.0 / 65534);
    }
  }
}

TEST(SlideViewer, ScriptSafeJsonEscapesWhatEndsAScript) {
  EXPECT_EQ(script_safe_json("\"</script>&\u2028\u2029\""), "\"\\u003c/script\\u003e\\u0026\\u2028\\u2029\"");
  EXPECT_EQ(json::parse(script_safe_json(json("a</script>\u2028b").dump())).get<std::string>(), "a</script>\u2028b");
}

TEST(SlideViewer, QuantisesToUint16WithMissingValues) {
  QuantisedValues q = quantise_values({1.f, NAN, 3.f});
  EXPECT_DOUBLE_EQ(q.lo, 1.0);
  EXPECT_DOUBLE_EQ(q.step, 2.0 / 65534);
  EXPECT_EQ(q.base64, "AAD///7/");  // little-endian 0, 65535 (missing), 65534
  EXPECT_EQ(quantise_values({2.f, 2.f}).step, 0.0);
}

TEST(SlideViewer, UnreadableSlideIsANamedErrorWithNothingLeft) {
  test::TempDir tmp;
  std::ofstream(tmp / "slide.jpg") << "not an image";
  const std::string msg = test::input_error_of([&] { write_slide_viewer(tmp / "viewer", tmp / "slide.jpg", sample_data()); });
  EXPECT_NE(msg.find("slide.jpg"), std::string::npos) << msg;
  EXPECT_FALSE(leftovers(tmp.path));
  const std::string missing = test::input_error_of([&] { write_slide_viewer(tmp / "viewer", tmp / "none.tif", sample_data()); });
  EXPECT_NE(missing.find("none.tif"), std::string::npos) << missing;
  EXPECT_FALSE(leftovers(tmp.path));
}

TEST(SlideViewer, SlideTruncatedPartwayIsANamedErrorWithNothingLeft) {
  test::TempDir tmp;
  const fs::path img = write_jpeg(tmp / "big.jpg", 1500, 1200);
  const std::string bytes = read_all(img);
  std::ofstream(img, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(bytes.size() / 2));
  const std::string msg = test::input_error_of([&] { write_slide_viewer(tmp / "viewer", img, sample_data()); });
  EXPECT_NE(msg.find("big.jpg"), std::string::npos) << msg;
  EXPECT_FALSE(leftovers(tmp.path));
}

TEST(SlideViewer, InconsistentDataIsRefusedBeforeTiling) {
  test::TempDir tmp;
  const fs::path img = write_jpeg(tmp / "slide.jpg", 64, 64);
  ViewerData d = sample_data();
  d.predicted = Matrix(2, 5);
  EXPECT_NE(test::input_error_of([&] { write_slide_viewer(tmp / "viewer", img, d); }).find("spots x genes"),
            std::string::npos);
  EXPECT_FALSE(leftovers(tmp.path));
}

TEST(QupathGeojson, ParsesBackWithEveryMeasurement) {
  test::TempDir tmp;
  const ViewerData d = sample_data();
  write_qupath_geojson(tmp / "spots.geojson", d, 24);
  json j = json::parse(read_all(tmp / "spots.geojson"));
  EXPECT_EQ(j["type"], "FeatureCollection");
  ASSERT_EQ(j["features"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const json& f = j["features"][size_t(i)];
    EXPECT_EQ(f["type"], "Feature");
    EXPECT_EQ(f["id"], d.spot_ids[size_t(i)]);
    EXPECT_EQ(f["properties"]["objectType"], "detection");
    EXPECT_EQ(f["geometry"]["type"], "Polygon");
    const json& ring = f["geometry"]["coordinates"][0];
    ASSERT_EQ(ring.size(), 25u);
    EXPECT_EQ(ring[0], ring[24]) << "closed ring";
    for (const auto& p : ring) {
      const double dx = p[0].get<double>() - d.pixel_xy[size_t(i)][0], dy = p[1].get<double>() - d.pixel_xy[size_t(i)][1];
      EXPECT_NEAR(std::hypot(dx, dy), 20.0, 0.01);
    }
    const json& m = f["properties"]["measurements"];
    for (int g = 0; g < 5; ++g) {
      const float v = d.predicted(i, g);
      if (std::isnan(v)) EXPECT_FALSE(m.contains(d.genes[size_t(g)])) << "NaN left out";
      else EXPECT_EQ(float(m[d.genes[size_t(g)]].get<double>()), v) << d.genes[size_t(g)];  // float32 round trip
      EXPECT_EQ(float(m["measured: " + d.genes[size_t(g)]].get<double>()), d.measured(i, g));
    }
    double mean_sd = 0;
    for (int g = 0; g < 5; ++g) mean_sd += d.sd(i, g) / 5.0;
    EXPECT_NEAR(m["mean sd"].get<double>(), mean_sd, 1e-6);
    EXPECT_EQ(float(m["luminal score"].get<double>()), d.scores[0].values[size_t(i)]);
  }
  EXPECT_EQ(j["features"][1]["properties"]["classification"]["name"], "region <2>");
  EXPECT_EQ(j["features"][1]["properties"]["classification"]["color"].size(), 3u);
  EXPECT_FALSE(j["features"][2]["properties"].contains("classification")) << "no region";
}

TEST(SpatialImage, LongSideAtMost2000AndScanpyReadsIt) {
  cv::Mat rgb(1500, 3000, CV_8UC3, cv::Scalar(200, 100, 50));
  auto slide = SlideImage::from_rgb(rgb);
  SpatialImage im = spatial_image_of(*slide, 2000);
  EXPECT_EQ(im.width, 2000);
  EXPECT_EQ(im.height, 1000);
  EXPECT_NEAR(im.hires_scalef, 2000.0 / 3000.0, 1e-12);
  ASSERT_EQ(im.rgb.size(), 2000u * 1000u * 3u);
  EXPECT_EQ(int(im.rgb[0]), 200) << "RGB order";
  EXPECT_EQ(spatial_image_of(*SlideImage::from_rgb(cv::Mat(100, 50, CV_8UC3)), 2000).width, 50) << "never enlarged";

  const std::string py = test::python_with("anndata");
  if (py.empty()) GTEST_SKIP() << "python3-anndata is absent (scripts/setup.sh installs it where Debian has it: 12, not 13)";
  test::TempDir tmp;
  PreparedSection s;
  s.id = "C6";
  s.patient = "C";
  s.genes = {"ERBB2", "KRT5"};
  s.spot_ids = {"a", "b", "c"};
  s.expression = Matrix(3, 2, 1.f);
  s.pixel_xy = {{0, 0}, {2999, 1499}, {1500.5, 750.25}};
  s.image.spot_diameter_px = 55.5;
  s.image.width = 3000;
  s.image.height = 1500;
  s.normalization = "prediction";
  s.spatial_image = im;
  write_prepared_h5ad(tmp / "p.h5ad", s);
  EXPECT_EQ(read_prepared_h5ad(tmp / "p.h5ad").spot_ids, s.spot_ids) << "still reads back";
  std::ofstream(tmp / "check.py")
      << "import sys, json, anndata, numpy as np\n"
         "a = anndata.read_h5ad(sys.argv[1])\n"
         "lib = a.uns['spatial']['C6']\n"
         "img = lib['images']['hires']\n"
         "sf = lib['scalefactors']\n"
         "xy = np.asarray(a.obsm['spatial']) * sf['tissue_hires_scalef']\n"
         "inside = bool(((xy >= 0) & (xy[:, [0]] < img.shape[1]) & (xy[:, [1]] < img.shape[0])).all())\n"
         "print(json.dumps({'shape': list(img.shape), 'dtype': str(img.dtype),\n"
         "  'scalef': float(sf['tissue_hires_scalef']), 'diam': float(sf['spot_diameter_fullres']),\n"
         "  'inside': inside, 'pixel': [int(x) for x in img[0, 0]],\n"
         "  'spatial': np.asarray(a.obsm['spatial']).tolist()}))\n";
  auto res = test::run_command(py + " " + (tmp / "check.py").string() + " " + (tmp / "p.h5ad").string() + " 2>/dev/null");
  ASSERT_EQ(res.exit_code, 0) << res.output;
  json j = json::parse(res.output);
  EXPECT_EQ(j["shape"], json({1000, 2000, 3}));
  EXPECT_EQ(j["dtype"], "uint8");
  EXPECT_NEAR(j["scalef"].get<double>(), 2.0 / 3.0, 1e-12);
  EXPECT_EQ(j["diam"].get<double>(), 55.5);
  EXPECT_TRUE(j["inside"].get<bool>());
  EXPECT_EQ(j["pixel"], json({200, 100, 50}));
  EXPECT_EQ(j["spatial"][2], json({1500.5, 750.25})) << "obsm stays in full-resolution pixels";
}
