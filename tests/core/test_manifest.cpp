// Manifest parsing: the shipped configs, path resolution, and the errors a typo produces.
#include <gtest/gtest.h>

#include <fstream>

#include "common/error.h"
#include "io/manifest.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace hiscmcl;

namespace {

fs::path config(const std::string& name) { return fs::path(HISCMCL_SOURCE_DIR) / "configs" / name; }

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

// Runs f, expecting an InputError whose message contains every needle.
template <class F>
void expect_input_error(F f, std::initializer_list<std::string> needles) {
  try {
    f();
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(Manifest, Her2stConfigHasSevenSectionsWithGeometry) {
  Manifest m = load_manifest(config("her2st.toml"), "/data/her2st");
  EXPECT_EQ(m.name, "her2st");
  ASSERT_EQ(m.sections.size(), 7u);
  const ManifestSection& c2 = m.section("C2");
  EXPECT_EQ(c2.patient, "C");
  EXPECT_EQ(c2.format, "st_legacy");
  EXPECT_EQ(c2.files.at("counts"), fs::path("/data/her2st/data/ST-cnts/C2.tsv.gz"));
  EXPECT_DOUBLE_EQ(*c2.spot_diameter_px, 136.0);
  EXPECT_FALSE(c2.affine.has_value());
  const ManifestSection& a2 = m.section("A2");
  EXPECT_EQ(a2.patient, "A");
  ASSERT_TRUE(a2.affine.has_value());
  // s * 0.995476 with s = 2000/6966 (PROVENANCE.md), and s * -300.469.
  EXPECT_NEAR((*a2.affine)[0], 2000.0 / 6966 * 0.995476, 1e-12);
  EXPECT_NEAR((*a2.affine)[5], 2000.0 / 6966 * -300.469, 1e-9);
  EXPECT_EQ(m.section("A1").files.count("labels"), 1u);
}

TEST(Manifest, DataRootDefaultsToTheManifestFolder) {
  test::TempDir tmp;
  write(tmp / "m.toml",
        "[[section]]\nid = \"S1\"\nformat = \"h5ad\"\nfile = \"sub/x.h5ad\"\nspot_diameter_px = 20\n");
  Manifest m = load_manifest(tmp / "m.toml");
  EXPECT_EQ(m.name, "m");
  EXPECT_EQ(m.sections[0].files.at("file"), tmp.path / "sub/x.h5ad");
  EXPECT_EQ(m.sections[0].patient, "S1");  // no patient: its own
}

TEST(Manifest, StutilityAndVisiumConfigsLoad) {
  Manifest mob = load_manifest(config("stutility_mob.toml"));
  ASSERT_EQ(mob.sections.size(), 3u);
  EXPECT_EQ(mob.section("MOB2").patient, "1");
  EXPECT_EQ(mob.section("MOB3").patient, "2");
  Manifest vis = load_manifest(config("visium_fixture.toml"));
  ASSERT_EQ(vis.sections.size(), 1u);
  EXPECT_EQ(vis.sections[0].format, "visium");
}

TEST(Manifest, SelectKeepsManifestOrder) {
  Manifest m = load_manifest(config("her2st.toml"));
  auto s = m.select({"C4", "C2"});
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].id, "C2");
  EXPECT_EQ(s[1].id, "C4");
  EXPECT_EQ(m.select({}).size(), 7u);
}

TEST(Manifest, SelectUnknownSectionNamesItAndListsValidIds) {
  Manifest m = load_manifest(config("her2st.toml"));
  expect_input_error([&] { m.select({"C2", "Z9"}); }, {"her2st.toml", "Z9", "C2, C3, C4, C5, C6, A1, A2"});
}

TEST(Manifest, UnknownFormatNamesManifestAndSection) {
  test::TempDir tmp;
  write(tmp / "bad.toml", "[[section]]\nid = \"S1\"\nformat = \"csv\"\nfile = \"x\"\n");
  expect_input_error([&] { load_manifest(tmp / "bad.toml"); },
                     {(tmp / "bad.toml").string(), "section S1", "unknown format 'csv'", "line 3"});
}

TEST(Manifest, MissingRequiredKeyAndDuplicateId) {
  test::TempDir tmp;
  write(tmp / "a.toml", "[[section]]\nid = \"S1\"\nformat = \"st_legacy\"\ncounts = \"c.tsv\"\n");
  expect_input_error([&] { load_manifest(tmp / "a.toml"); },
                     {"a.toml", "section S1", "missing required key 'spots'"});
  write(tmp / "b.toml",
        "[[section]]\nid = \"S1\"\nformat = \"h5ad\"\nfile = \"x\"\n"
        "[[section]]\nid = \"S1\"\nformat = \"h5ad\"\nfile = \"y\"\n");
  expect_input_error([&] { load_manifest(tmp / "b.toml"); }, {"b.toml", "duplicate section id 'S1'"});
  write(tmp / "c.toml", "[[section]]\nformat = \"h5ad\"\nfile = \"x\"\n");
  expect_input_error([&] { load_manifest(tmp / "c.toml"); }, {"c.toml", "section #1", "'id'"});
  write(tmp / "d.toml", "[[section]]\nid = \"S1\"\nformat = \"h5ad\"\nfile = \"x\"\naffine = [1, 2]\n");
  expect_input_error([&] { load_manifest(tmp / "d.toml"); }, {"d.toml", "affine", "6 numbers"});
  write(tmp / "e.toml", "[[section]\nid = \"S1\"\n");
  expect_input_error([&] { load_manifest(tmp / "e.toml"); }, {"e.toml", "invalid TOML", "line 1"});
  expect_input_error([&] { load_manifest(tmp / "missing.toml"); }, {"missing.toml", "not found"});
}

TEST(Manifest, CountsSourceAndMissingSpotKeys) {
  test::TempDir tmp;
  write(tmp / "m.toml",
        "[[section]]\nid = \"A\"\nformat = \"h5ad\"\nfile = \"a.h5ad\"\ncounts_layer = \"counts\"\n"
        "[[section]]\nid = \"B\"\nformat = \"h5ad\"\nfile = \"b.h5ad\"\nassume_normalised = true\n"
        "[[section]]\nid = \"C\"\nformat = \"st_legacy\"\ncounts = \"c.tsv\"\nspots = \"s.tsv\"\n"
        "image = \"i.png\"\nallow_missing_spots = true\nsome_future_key = 3\n"
        "[[section]]\nid = \"D\"\nformat = \"h5ad\"\nfile = \"d.h5ad\"\n");
  Manifest m = load_manifest(tmp / "m.toml");  // the unknown key is warned, not fatal
  EXPECT_EQ(m.section("A").counts_layer, "counts");
  EXPECT_FALSE(m.section("A").assume_normalised);
  EXPECT_TRUE(m.section("B").assume_normalised);
  EXPECT_TRUE(m.section("B").counts_layer.empty());
  EXPECT_TRUE(m.section("C").allow_missing_spots);
  EXPECT_FALSE(m.section("D").allow_missing_spots);
  EXPECT_FALSE(m.section("D").assume_normalised);
  EXPECT_TRUE(m.section("D").counts_layer.empty());
}

TEST(Manifest, CountsSourceKeysAreValidated) {
  test::TempDir tmp;
  const std::string head = "[[section]]\nid = \"S1\"\nformat = \"h5ad\"\nfile = \"x\"\n";
  write(tmp / "a.toml", head + "assume_normalised = \"yes\"\n");
  expect_input_error([&] { load_manifest(tmp / "a.toml"); },
                     {"a.toml", "section S1", "line 5", "'assume_normalised' must be true or false"});
  write(tmp / "b.toml", head + "counts_layer = 3\n");
  expect_input_error([&] { load_manifest(tmp / "b.toml"); }, {"b.toml", "line 5", "'counts_layer'"});
  write(tmp / "c.toml", head + "counts_layer = \"\"\n");
  expect_input_error([&] { load_manifest(tmp / "c.toml"); }, {"c.toml", "'counts_layer'"});
  write(tmp / "d.toml", head + "counts_layer = \"counts\"\nassume_normalised = true\n");
  expect_input_error([&] { load_manifest(tmp / "d.toml"); },
                     {"d.toml", "section S1", "not both"});
  write(tmp / "e.toml", head + "allow_missing_spots = 1\n");
  expect_input_error([&] { load_manifest(tmp / "e.toml"); }, {"e.toml", "'allow_missing_spots'"});
}
