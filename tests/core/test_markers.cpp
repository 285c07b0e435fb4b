// Marker genes: manifest [markers] sets, added to a panel after it, mapped from symbols to the
// counts' ids, and gene-set scores.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "data/gene_panel.h"
#include "eval/gene_sets.h"
#include "io/manifest.h"
#include "pipeline/prepare.h"
#include "test_util.h"

using namespace hiscmcl;

TEST(Markers, AddedAfterThePanelInTheGivenOrderOnce) {
  EXPECT_EQ(with_added_genes({"A", "B", "C"}, {"E", "B", "D", "E"}),
            (std::vector<std::string>{"A", "B", "C", "E", "D"}));
  EXPECT_EQ(with_added_genes({"A"}, {}), (std::vector<std::string>{"A"}));
}

TEST(Markers, GeneSetScoreIsTheMeanZScore) {
  // Column 0: 1 2 3 (z = -1.2247, 0, 1.2247); column 1: 10 10 10 (constant: adds 0);
  // column 2: 3 2 1 (z reversed). Score over {0, 2} = 0 everywhere; over {0, 1} = z0 / 2.
  Matrix x(3, 3);
  float v[3][3] = {{1, 10, 3}, {2, 10, 2}, {3, 10, 1}};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) x(r, c) = v[r][c];
  auto s02 = gene_set_score(x, {0, 2});
  for (float f : s02) EXPECT_NEAR(f, 0.0, 1e-6);
  auto s01 = gene_set_score(x, {0, 1});
  const double z = std::sqrt(1.5);  // (3 - 2) / sd, sd = sqrt(2/3)
  EXPECT_NEAR(s01[0], -z / 2, 1e-5);
  EXPECT_NEAR(s01[1], 0.0, 1e-6);
  EXPECT_NEAR(s01[2], z / 2, 1e-5);
  EXPECT_EQ(panel_columns({"A", "B", "C"}, {"C", "Z", "A"}), (std::vector<int64_t>{2, 0}));
}

TEST(Markers, ManifestSetsAndTheirErrors) {
  test::TempDir tmp;
  const std::string section = "[[section]]\nid = \"S\"\nformat = \"st_legacy\"\ncounts = \"c.tsv\"\nspots = \"s.tsv\"\nimage = \"i.jpg\"\n";
  std::ofstream(tmp / "m.toml") << "[markers]\nimmune = [\"PTPRC\", \"CD3E\"]\nher2 = [\"ERBB2\"]\n" << section;
  Manifest m = load_manifest(tmp / "m.toml");
  ASSERT_EQ(m.markers.size(), 2u);
  EXPECT_EQ(m.markers[0].name, "immune");
  EXPECT_EQ(m.markers[0].genes, (std::vector<std::string>{"PTPRC", "CD3E"}));
  EXPECT_EQ(m.markers[1].name, "her2");

  PrepareOptions o;
  o.marker_sets = {"her2"};
  o.add_genes = {"MKI67"};
  auto sets = resolve_markers(o, m, {"ERBB2", "MKI67"});
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets[0].genes, (std::vector<std::string>{"ERBB2"}));
  EXPECT_EQ(sets[1].name, "added");
  o.marker_sets = {"all"};
  o.add_genes.clear();
  EXPECT_EQ(resolve_markers(o, m, {}).size(), 2u);
  o.marker_sets = {"tcells"};
  std::string msg = test::input_error_of([&] { resolve_markers(o, m, {}); });
  EXPECT_NE(msg.find("tcells"), std::string::npos) << msg;
  EXPECT_NE(msg.find("immune, her2"), std::string::npos) << msg;

  std::ofstream(tmp / "bad.toml") << "[markers]\nimmune = \"PTPRC\"\n" << section;
  msg = test::input_error_of([&] { load_manifest(tmp / "bad.toml"); });
  EXPECT_NE(msg.find("[markers] immune"), std::string::npos) << msg;
}

TEST(Markers, MouseLayerMarkersMapFromSymbolsToTheCountsIds) {
  HISCMCL_REQUIRE_DATA("stutility_mob");
  Manifest m = load_manifest(std::filesystem::path(HISCMCL_SOURCE_DIR) / "configs" / "stutility_mob.toml",
                             test::shared_data() / "stutility_mob");
  ASSERT_FALSE(m.markers.empty());
  PrepareOptions o;
  o.marker_sets = {"all"};
  // The ids of the counts table: Penk is ENSMUSG00000045573.9 there; a symbol the counts lack stays.
  auto sets = resolve_markers(o, m, {"ENSMUSG00000045573.9", "ENSMUSG00000021803.9"});
  std::vector<std::string> all;
  for (auto& s : sets) all.insert(all.end(), s.genes.begin(), s.genes.end());
  EXPECT_NE(std::find(all.begin(), all.end(), "ENSMUSG00000045573.9"), all.end());
  EXPECT_NE(std::find(all.begin(), all.end(), "ENSMUSG00000021803.9"), all.end());
  EXPECT_NE(std::find(all.begin(), all.end(), "S100a5"), all.end());  // not in the ids given
}
