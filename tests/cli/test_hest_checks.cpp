// HEST-1k input that used to be taken silently: a stated spot size far from the spots' spacing
// (Visium HD's 2 µm bin over pooled spots), a negative spot_diameter, a downloaded sample without
// its metadata, an unknown --where key, and the options every subcommand takes after `manifest
// hest`. On a HEST-layout copy of her2st's C5 and C6 (tests/fixtures/her2st_to_hest.py).
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

#include "io/hest_reader.h"
#include "io/manifest.h"
#include "io/section_reader.h"
#include "io/spot_spacing.h"
#include "test_util.h"

using namespace hiscmcl;
using namespace hiscmcl::test;
namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// A HEST root holding C5 and C6, made once per process; empty `why` when made.
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
                         "' --sections C5,C6");
    return r.exit_code == 0 ? std::string() : "fixture script failed: " + r.output;
  }();
  *why = reason;
  return dir.path;
}

#define REQUIRE_HEST_FIXTURE(root)                                 \
  std::string why_;                                                \
  const fs::path root = hest_fixture(&why_) / "hest";              \
  if (why_.rfind("fixture script failed", 0) == 0) FAIL() << why_; \
  if (!why_.empty()) GTEST_SKIP() << why_

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

// The default logger's output while fn runs.
std::string logged(const std::function<void()>& fn) {
  std::ostringstream os;
  auto old = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_mt>(os)));
  fn();
  spdlog::set_default_logger(old);
  return os.str();
}

}  // namespace

TEST(HestChecks, StatedSpotSizeIsCheckedAgainstTheSpacing) {
  REQUIRE_HEST_FIXTURE(root);
  {  // as the HEST copy is: 100 um spots 200 um apart, nothing said
    Section s;
    const std::string log = logged([&] { s = read_section(hest_section(root, "C6"), {}); });
    EXPECT_EQ(log.find("spacing"), std::string::npos) << log;
    EXPECT_NEAR(s.image.spot_diameter_px, 136.0, 1e-9);
  }
  // HEST-1k's Visium HD rows: spot_diameter = inter_spot_dist = 2 um (the bin), over an h5ad whose
  // spots are pooled to a far coarser grid (here her2st's, ~270 px apart).
  TempDir tmp;
  fs::path copy = copy_root(root, tmp);
  write_file(copy / "metadata/C6.json",
             R"({"id": "C6", "patient": "C", "st_technology": "Visium HD", "spot_diameter": 2.0,
                 "inter_spot_dist": 2.0, "pixel_size_um_estimated": 0.7352941176470589})");
  Section s;
  const std::string log = logged([&] { s = read_section(hest_section(copy, "C6"), {}); });
  const double spacing = median_nearest_spot_distance(s.pixel_xy);
  ASSERT_GT(spacing, 200);
  EXPECT_NEAR(s.image.spot_diameter_px, spacing / 1.8, 1e-9);  // not 2 um = 2.7 px
  EXPECT_NE(log.find("C6: the spot diameter stated in"), std::string::npos) << log;
  EXPECT_NE(log.find((copy / "metadata/C6.json").string()), std::string::npos) << log;
  EXPECT_NE(log.find("2.72 px"), std::string::npos) << log;
  EXPECT_NE(log.find("does not fit the spots' spacing"), std::string::npos) << log;

  // A negative spot_diameter was replaced by the technology's default, silently: refused.
  write_file(copy / "metadata/C6.json",
             R"({"id": "C6", "st_technology": "Spatial Transcriptomics", "spot_diameter": -100,
                 "pixel_size_um_estimated": 0.7352941176470589})");
  std::string msg = input_error_of([&] { read_section(hest_section(copy, "C6"), {}); });
  EXPECT_NE(msg.find("C6.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("spot_diameter = -100 must be positive"), std::string::npos) << msg;
  msg = input_error_of([] { parse_hest_metadata(R"({"spot_diameter": "-55"})", "m.json"); });
  EXPECT_NE(msg.find("m.json: spot_diameter = -55"), std::string::npos) << msg;
}

TEST(HestChecks, ManifestCommandSaysWhatItLeavesOut) {
  REQUIRE_HEST_FIXTURE(root);
  TempDir tmp;
  const std::string args = "manifest hest --root '" + root.string() + "' --out '" + (tmp / "m.toml").string() + "'";
  // The options every subcommand takes, after `hest` too.
  auto r = run_hiscmcl(args + " --threads 1 --quiet");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(load_manifest(tmp / "m.toml").sections.size(), 2u);
  // A --where key that no sample has: named with the nearest one and the valid ones.
  fs::remove(tmp / "m.toml");
  r = run_hiscmcl(args + " --where organn=Breast");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown key 'organn' (did you mean 'organ'?)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("st_technology"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("HEST_v1_1_0.csv"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "m.toml"));

  // A downloaded sample without its metadata: left out with a warning naming it and the file, or
  // refused when asked for by id; with and without the catalogue.
  TempDir tmp2;
  fs::path copy = copy_root(root, tmp2);
  fs::remove(copy / "metadata/C6.json");
  for (bool catalogue : {true, false}) {
    SCOPED_TRACE(catalogue ? "catalogue" : "metadata files");
    if (!catalogue) fs::remove(copy / "HEST_v1_1_0.csv");
    const std::string out = (tmp2 / (catalogue ? "a.toml" : "b.toml")).string();
    r = run_hiscmcl("manifest hest --root '" + copy.string() + "' --out '" + out + "'");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("HEST sample 'C6' left out of the manifest"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find((copy / "metadata/C6.json").string() + " not found"), std::string::npos) << r.output;
    Manifest m = load_manifest(out);
    ASSERT_EQ(m.sections.size(), 1u);
    EXPECT_EQ(m.sections[0].id, "C5");
    r = run_hiscmcl("manifest hest --root '" + copy.string() + "' --out '" + out + ".ids' --ids C6");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find((copy / "metadata/C6.json").string()), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("file not found"), std::string::npos) << r.output;
  }
}
