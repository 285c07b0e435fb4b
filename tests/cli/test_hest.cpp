// HEST-1k samples: metadata and catalogue parsing (pure), and a HEST-layout copy of two her2st
// sections made at test time (tests/fixtures/her2st_to_hest.py: python3-anndata, vips) read back
// identical to the legacy layout, `hiscmcl manifest hest`, and each bad input a named error.
#include <gtest/gtest.h>

#include <fstream>
#include <opencv2/core.hpp>

#include "common/atomic_output.h"
#include "common/error.h"
#include "data/patches.h"
#include "io/hest_catalogue.h"
#include "io/hest_patches.h"
#include "io/npy.h"
#include "io/slide_image.h"
#include "io/hest_reader.h"
#include "io/manifest.h"
#include "io/section_reader.h"
#include "test_util.h"

using namespace hiscmcl;
using namespace hiscmcl::test;
namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// A HEST root holding C5 (CSR counts) and C6 (dense, no obsm/spatial), made once per process;
// empty when the data, anndata or vips is missing (`why` says which).
const fs::path& hest_fixture(std::string* why) {
  static TempDir dir;
  static std::string reason = [] {
    if (shared_data().empty() || !fs::exists(shared_data() / "her2st")) return std::string("real data ../shared/data/her2st is absent");
    std::string py = python_with("anndata");
    if (py.empty()) return std::string("python3-anndata is absent (scripts/setup.sh installs it where Debian has it: 12, not 13)");
    if (run_command("command -v vips").exit_code != 0) return std::string("vips (libvips-tools) is absent");
    auto r = run_command("OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SKYLAKEX} " + py + " '" +
                         std::string(HISCMCL_SOURCE_DIR) + "/tests/fixtures/her2st_to_hest.py' --her2st '" +
                         (shared_data() / "her2st").string() + "' --out '" + (dir / "hest").string() +
                         "' --sections C5,C6 --patches");
    return r.exit_code == 0 ? std::string() : "fixture script failed: " + r.output;
  }();
  *why = reason;
  return dir.path;
}

#define REQUIRE_HEST_FIXTURE(root)                        \
  std::string why_;                                       \
  const fs::path root = hest_fixture(&why_) / "hest";     \
  if (why_.rfind("fixture script failed", 0) == 0) FAIL() << why_; \
  if (!why_.empty()) GTEST_SKIP() << why_

// A copy of the fixture root (for tests that break a file), with the named files removed.
fs::path copy_root(const fs::path& root, const TempDir& tmp) {
  fs::path out = tmp / "hest";
  fs::copy(root, out, fs::copy_options::recursive);
  return out;
}

ManifestSection hest_section(const fs::path& root, const std::string& id) {
  ManifestSection ms;
  ms.id = id;
  ms.format = "hest";
  ms.files["root"] = root;
  return ms;
}

}  // namespace

TEST(HestMetadata, NanTokensAreMissingAndStringsKept) {
  HestMetadata m = parse_hest_metadata(R"({
     "id": "NaN in a string: NaN", "patient": "   ", "st_technology": "Visium",
     "pixel_size_um_embedded": NaN, "pixel_size_um_estimated": 0.2125,
     "spot_diameter": 55.0, "inter_spot_dist": -Infinity, "organ": "Bowel" })", "m.json");
  ASSERT_TRUE(m.pixel_size_um);
  EXPECT_DOUBLE_EQ(*m.pixel_size_um, 0.2125);
  EXPECT_DOUBLE_EQ(*m.spot_diameter_um, 55.0);
  EXPECT_FALSE(m.inter_spot_dist_um);
  EXPECT_EQ(m.patient, "");  // whitespace-only, as 114 catalogue rows have
  EXPECT_EQ(m.st_technology, "Visium");
  // The embedded size is the fallback; numbers written as strings count.
  m = parse_hest_metadata(R"({"pixel_size_um_estimated": NaN, "pixel_size_um_embedded": "0.5"})", "m.json");
  EXPECT_DOUBLE_EQ(*m.pixel_size_um, 0.5);
  EXPECT_FALSE(parse_hest_metadata(R"({"pixel_size_um_estimated": ""})", "m.json").pixel_size_um);
  EXPECT_NE(input_error_of([] { parse_hest_metadata("[1, 2]", "m.json"); }).find("m.json"), std::string::npos);
  EXPECT_NE(input_error_of([] { parse_hest_metadata("{\"a\": ", "m.json"); }).find("not valid JSON"), std::string::npos);
}

TEST(HestCatalogue, CsvWithBomQuotesAndCrLf) {
  auto rows = parse_csv("\xEF\xBB\xBFid,title,n\r\nA1,\"x, \"\"y\"\"\",3\r\nB2,,4", "c.csv");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"id", "title", "n"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"A1", "x, \"y\"", "3"}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"B2", "", "4"}));
  EXPECT_NE(input_error_of([] { parse_csv("id\n\"open", "c.csv"); }).find("unclosed quote"), std::string::npos);
  auto w = parse_where("organ=Breast, st_technology = Visium");
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[1], (std::pair<std::string, std::string>{"st_technology", "Visium"}));
  EXPECT_NE(input_error_of([] { parse_where("organ"); }).find("key=value"), std::string::npos);
}

TEST(HestReader, Her2stCopyReadsAsTheLegacyLayout) {
  REQUIRE_HEST_FIXTURE(root);
  Manifest legacy = load_manifest(fs::path(HISCMCL_SOURCE_DIR) / "configs/her2st.toml", shared_data() / "her2st");
  for (const char* id : {"C5", "C6"}) {
    SCOPED_TRACE(id);
    Section a = read_section(legacy.section(id), {});
    Section b = read_section(hest_section(root, id), {});
    EXPECT_EQ(b.patient, "C");  // from the metadata
    EXPECT_EQ(b.spot_ids, a.spot_ids);  // the off-tissue spots are dropped
    EXPECT_EQ(b.genes, a.genes);
    EXPECT_EQ(b.pixel_xy, a.pixel_xy);  // C6: from obs pxl_*_in_fullres
    EXPECT_EQ(b.array_xy, a.array_xy);
    ASSERT_EQ(b.counts.rows, a.counts.rows);
    EXPECT_EQ(b.counts.dense().data, a.counts.dense().data);
    EXPECT_NEAR(b.image.spot_diameter_px, 136.0, 1e-9);
    EXPECT_NEAR(b.image.um_per_px, a.image.um_per_px, 1e-12);
    EXPECT_EQ(b.image.width, a.image.width);
    EXPECT_EQ(b.image.height, a.image.height);
    EXPECT_EQ(fs::path(b.image.image_path).filename(), std::string(id) + ".tif");
  }
  // The manifest's patient and geometry win.
  ManifestSection ms = hest_section(root, "C5");
  ms.patient = "P9";
  ms.spot_diameter_px = 100;
  ms.id = "renamed";
  ms.hest_sample = "C5";
  Section s = read_section(ms, {});
  EXPECT_EQ(s.patient, "P9");
  EXPECT_EQ(s.id, "renamed");
  EXPECT_DOUBLE_EQ(s.image.spot_diameter_px, 100);
}

TEST(HestReader, ManifestCommandSelectsSamples) {
  REQUIRE_HEST_FIXTURE(root);
  TempDir tmp;
  auto r = run_hiscmcl("manifest hest --root '" + root.string() + "' --out '" + (tmp / "m/all.toml").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Manifest m = load_manifest(tmp / "m/all.toml");
  ASSERT_EQ(m.sections.size(), 2u);
  EXPECT_EQ(m.sections[0].id, "C5");
  EXPECT_EQ(m.sections[0].patient, "C");
  EXPECT_EQ(m.sections[0].format, "hest");
  EXPECT_EQ(fs::canonical(m.sections[0].files.at("root")), fs::canonical(root));
  EXPECT_EQ(read_section(m.sections[1], {}).n_spots(), 178);

  r = run_hiscmcl("manifest hest --root '" + root.string() + "' --out '" + (tmp / "one.toml").string() +
                  "' --where 'organ=breast,st_technology=Spatial Transcriptomics' --ids C6");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  m = load_manifest(tmp / "one.toml");
  ASSERT_EQ(m.sections.size(), 1u);
  EXPECT_EQ(m.sections[0].id, "C6");

  r = run_hiscmcl("manifest hest --root '" + root.string() + "' --out '" + (tmp / "none.toml").string() + "' --where organ=Brain");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("no downloaded HEST sample matches"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "none.toml"));
  r = run_hiscmcl("manifest hest --root '" + root.string() + "' --out '" + (tmp / "x.toml").string() + "' --ids C9");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("no HEST sample 'C9'"), std::string::npos) << r.output;

  // Without the catalogue the list comes from metadata/*.json.
  TempDir tmp2;
  fs::path copy = copy_root(root, tmp2);
  fs::remove(copy / "HEST_v1_1_0.csv");
  HestSelection sel;
  fs::path source;
  auto samples = list_hest_samples(copy, sel, &source);
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[1].field("patient"), "C");
  EXPECT_EQ(source.filename(), "metadata");
}

TEST(HestReader, BadInputIsANamedError) {
  REQUIRE_HEST_FIXTURE(root);
  {  // each of the three files missing
    for (const char* rel : {"st/C6.h5ad", "wsis/C6.tif", "metadata/C6.json"}) {
      TempDir tmp;
      fs::path copy = copy_root(root, tmp);
      fs::remove(copy / rel);
      std::string msg = input_error_of([&] { read_section(hest_section(copy, "C6"), {}); });
      EXPECT_NE(msg.find(rel), std::string::npos) << msg;
      EXPECT_NE(msg.find("file not found"), std::string::npos) << msg;
    }
  }
  {  // metadata without a pixel size
    TempDir tmp;
    fs::path copy = copy_root(root, tmp);
    write_file(copy / "metadata/C6.json", R"({"id": "C6", "pixel_size_um_estimated": NaN, "spot_diameter": 100})");
    std::string msg = input_error_of([&] { read_section(hest_section(copy, "C6"), {}); });
    EXPECT_NE(msg.find("C6.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("no pixel size"), std::string::npos) << msg;
  }
  {  // spots outside the slide: the manifest points at a smaller image
    TempDir tmp;
    fs::path copy = copy_root(root, tmp);
    ASSERT_EQ(run_command("vips resize '" + (copy / "wsis/C6.tif").string() + "' '" + (tmp / "small.png").string() + "' 0.1").exit_code, 0);
    ManifestSection ms = hest_section(copy, "C6");
    ms.files["image"] = tmp / "small.png";
    std::string msg = input_error_of([&] { read_section(ms, {}); });
    EXPECT_NE(msg.find("lies outside the image"), std::string::npos) << msg;
    EXPECT_NE(msg.find("C6.h5ad"), std::string::npos) << msg;
  }
  {  // an h5ad without spatial coordinates (C6 has no obsm/spatial; drop the obs columns too)
    TempDir tmp;
    fs::path copy = copy_root(root, tmp);
    std::string py = python_with("h5py");
    if (py.empty()) GTEST_SKIP() << "python3-h5py is absent";
    auto r = run_command(py + " -c \"import h5py; f = h5py.File('" + (copy / "st/C6.h5ad").string() +
                         "', 'r+'); del f['obs/pxl_col_in_fullres']; f.close()\"");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::string msg = input_error_of([&] { read_section(hest_section(copy, "C6"), {}); });
    EXPECT_NE(msg.find("C6.h5ad"), std::string::npos) << msg;
    EXPECT_NE(msg.find("pixel coordinates are required"), std::string::npos) << msg;
  }
}

namespace {
double pixel_pcc(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat fa, fb;
  a.reshape(1).convertTo(fa, CV_64F);
  b.reshape(1).convertTo(fb, CV_64F);
  fa -= cv::mean(fa)[0];
  fb -= cv::mean(fb)[0];
  return fa.dot(fb) / std::sqrt(fa.dot(fa) * fb.dot(fb));
}
}  // namespace

TEST(HestPatches, JoinedByBarcodeAndReadPerSpot) {
  REQUIRE_HEST_FIXTURE(root);
  Section s = read_section(hest_section(root, "C6"), {});
  const fs::path file = hest_patches_file(s.image.image_path);
  EXPECT_EQ(file, root / "patches" / "C6.h5");
  HestPatches patches(file, s.spot_ids);  // stored in reverse spot order
  ASSERT_EQ(patches.side(), 224);
  auto jpeg = SlideImage::open(shared_data() / "her2st/data/ST-imgs/C/C6/5714_HE_BT_E2.jpg");
  std::vector<cv::Mat> got = patches.read(10, 3);
  ASSERT_EQ(got.size(), 3u);
  for (int k = 0; k < 3; ++k) {
    const auto& c = s.pixel_xy[size_t(10 + k)];
    cv::Mat want = crop_patch(*jpeg, c, 152, 224);  // 112 um at 100/136 um/px
    cv::Mat other = crop_patch(*jpeg, s.pixel_xy[size_t(60 + k)], 152, 224);
    ASSERT_EQ(got[size_t(k)].type(), CV_8UC3);
    EXPECT_GT(pixel_pcc(got[size_t(k)], want), 0.9) << k;
    EXPECT_LT(pixel_pcc(got[size_t(k)], other), pixel_pcc(got[size_t(k)], want) - 0.2) << k;
  }
  std::string msg = input_error_of([&] { HestPatches(file, {s.spot_ids[0], "no-such-barcode"}); });
  EXPECT_NE(msg.find("spot no-such-barcode has no patch"), std::string::npos) << msg;
  EXPECT_NE(msg.find("C6.h5"), std::string::npos) << msg;
}

TEST(HestPatches, EmbedTakesTheSpotLevelFromThem) {
  REQUIRE_HEST_FIXTURE(root);
  TempDir tmp;
  write_file(tmp / "m.toml", "[[section]]\nid = \"C6\"\nformat = \"hest\"\nroot = \"" + root.string() + "\"\n");
  hiscmcl::write_text_file(tmp / "patches.toml", default_config_with("hest_patches = true"));
  auto r = run_hiscmcl("prepare -q -m '" + (tmp / "m.toml").string() + "' -o '" + (tmp / "data").string() + "' --hvg 100");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_hiscmcl("embed -q --data '" + (tmp / "data").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const fs::path f = tmp / "data/features/C6";
  Matrix spot = read_npy_f32(f / "histo.spot.npy"), nb = read_npy_f32(f / "histo.neighbourhood.npy");
  r = run_hiscmcl("embed -q --data '" + (tmp / "data").string() + "' --config '" + (tmp / "patches.toml").string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Matrix spot_p = read_npy_f32(f / "histo.spot.npy"), nb_p = read_npy_f32(f / "histo.neighbourhood.npy");
  ASSERT_EQ(spot_p.rows, 178);
  EXPECT_EQ(nb_p.data, nb.data);      // the neighbourhood still comes from the slide
  EXPECT_NE(spot_p.data, spot.data);  // the spot level from HEST's 112 um patches
  // Same spots, a slightly wider field of view: each feature still tracks the slide's crop.
  int close = 0;
  for (int64_t j = 0; j < spot.cols; ++j) {
    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
    for (int64_t i = 0; i < spot.rows; ++i) {
      double a = spot.data[size_t(i * spot.cols + j)], b = spot_p.data[size_t(i * spot.cols + j)];
      sa += a, sb += b, saa += a * a, sbb += b * b, sab += a * b;
    }
    const double n = double(spot.rows);
    double cov = sab - sa * sb / n, va = saa - sa * sa / n, vb = sbb - sb * sb / n;
    if (va > 0 && vb > 0 && cov / std::sqrt(va * vb) > 0.7) ++close;
  }
  EXPECT_GT(close, spot.cols / 2) << close << " of " << spot.cols;
}
