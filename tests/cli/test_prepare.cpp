// `hiscmcl prepare` end to end on the real her2st sections: the 785-gene panel, spot counts,
// stored values, missing panel genes (error or zero fill), and no partial output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/atomic_output.h"
#include "io/h5ad.h"
#include "test_util.h"

using namespace hiscmcl;
namespace fs = std::filesystem;

namespace {

std::string her2st_args(const test::TempDir& tmp, const std::string& extra) {
  return "prepare --manifest '" + std::string(HISCMCL_SOURCE_DIR) + "/configs/her2st.toml' " +
         "--data-root '" + (test::shared_data() / "her2st").string() + "' --out '" +
         (tmp / "store").string() + "' --quiet " + extra;
}

}  // namespace

TEST(PrepareCli, Her2stWithThePublishedPanel) {
  HISCMCL_REQUIRE_DATA("her2st");
  test::TempDir tmp;
  const fs::path panel = test::shared_data() / "her2st/genes/her_hvg_cut_1000.npy";
  auto r = test::run_hiscmcl(her2st_args(tmp, "--genes '" + panel.string() + "'"));
  ASSERT_EQ(r.exit_code, 0) << r.output;

  auto j = nlohmann::json::parse(read_text_file(tmp / "store/summary.json"));
  ASSERT_EQ(j["genes"].size(), 785u);
  EXPECT_EQ(j["genes"][0], "HPS6");
  EXPECT_EQ(j["genes"][784], "TNFRSF14");
  EXPECT_EQ(j["normalization"], "per_spot");
  ASSERT_EQ(j["sections"].size(), 7u);
  const std::map<std::string, int> expected = {{"C2", 187}, {"C3", 180}, {"C4", 184}, {"C5", 181},
                                               {"C6", 178}, {"A1", 346}, {"A2", 325}};
  for (const auto& [id, n] : expected) {
    EXPECT_EQ(j["sections"][id]["n_spots"], n) << id;
    EXPECT_EQ(j["sections"][id]["n_genes"], 785) << id;
    EXPECT_TRUE(fs::exists(tmp / ("store/" + id + ".h5ad"))) << id;
  }

  // The stored expression is log10(1 + 1e4 c / sum c) of the stored panel counts, per spot.
  PreparedSection c2 = read_prepared_h5ad(tmp / "store/C2.h5ad");
  ASSERT_EQ(c2.n_spots(), 187);
  ASSERT_EQ(c2.expression.cols, 785);
  ASSERT_EQ(c2.counts.cols, 785);
  EXPECT_EQ(c2.genes.front(), "HPS6");
  EXPECT_EQ(c2.id, "C2");
  EXPECT_EQ(c2.patient, "C");
  EXPECT_TRUE(fs::path(c2.image.image_path).is_absolute()) << c2.image.image_path;
  EXPECT_TRUE(fs::exists(c2.image.image_path)) << c2.image.image_path;
  for (int64_t r0 : {int64_t(0), int64_t(100)}) {
    double total = 0;
    for (int64_t g = 0; g < 785; ++g) total += c2.counts(r0, g);
    ASSERT_GT(total, 0);
    for (int64_t g : {int64_t(0), int64_t(1), int64_t(784)})
      EXPECT_NEAR(c2.expression(r0, g), std::log10(1 + 1e4 * c2.counts(r0, g) / total), 1e-5);
  }
  // Spot ids are the legacy "XxY" array coordinates.
  const std::string& id0 = c2.spot_ids[0];
  auto x = id0.find('x');
  ASSERT_NE(x, std::string::npos);
  EXPECT_EQ(std::stod(id0.substr(0, x)), c2.array_xy[0][0]);
}

TEST(PrepareCli, MissingPanelGeneIsAnErrorNamingTheCountsFile) {
  HISCMCL_REQUIRE_DATA("her2st");
  test::TempDir tmp;
  std::ofstream(tmp / "panel.txt") << "ERBB2\nNOTAGENE1\nKRT5\n";
  const std::string genes = "--sections C2 --genes '" + (tmp / "panel.txt").string() + "'";
  auto r = test::run_hiscmcl(her2st_args(tmp, genes));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("C2.tsv.gz"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("NOTAGENE1"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "store")) << "no partial output";
  for (const auto& e : fs::directory_iterator(tmp.path))
    EXPECT_EQ(e.path().filename().string().find("store"), std::string::npos) << e.path();

  r = test::run_hiscmcl(her2st_args(tmp, genes + " --allow-missing-genes"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("NOTAGENE1"), std::string::npos) << "warns: " << r.output;
  auto j = nlohmann::json::parse(read_text_file(tmp / "store/summary.json"));
  EXPECT_EQ(j["genes"], nlohmann::json({"ERBB2", "NOTAGENE1", "KRT5"}));
  EXPECT_EQ(j["sections"]["C2"]["n_spots"], 187);
  PreparedSection c2 = read_prepared_h5ad(tmp / "store/C2.h5ad");
  double erbb2 = 0;
  for (int64_t s = 0; s < c2.n_spots(); ++s) {
    EXPECT_EQ(c2.counts(s, 1), 0.f);
    EXPECT_EQ(c2.expression(s, 1), 0.f);
    erbb2 += c2.counts(s, 0);
  }
  EXPECT_GT(erbb2, 0) << "ERBB2 is expressed in a HER2+ tumour";
}

TEST(PrepareCli, RefusesToReplaceAFolderThatIsNotAStore) {
  HISCMCL_REQUIRE_DATA("her2st");
  test::TempDir tmp;
  fs::create_directories(tmp / "store");
  std::ofstream(tmp / "store/precious.txt") << "keep me";
  const fs::path panel = test::shared_data() / "her2st/genes/her_hvg_cut_1000.txt";
  auto r = test::run_hiscmcl(her2st_args(tmp, "--sections C2 --genes '" + panel.string() + "'"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("prepare did not write"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(tmp / "store/precious.txt"));
}

TEST(PrepareCli, HvgPanelObeysTheDetectionRuleAndOrder) {
  HISCMCL_REQUIRE_DATA("her2st");
  test::TempDir tmp;
  auto r = test::run_hiscmcl(her2st_args(tmp, "--sections C2,C3 --hvg 100 --min-spots 100 "
                                              "--normalization per_spot_ln"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(read_text_file(tmp / "store/summary.json"));
  auto genes = j["genes"].get<std::vector<std::string>>();
  ASSERT_GE(genes.size(), 20u);
  ASSERT_LE(genes.size(), 200u) << "a union of two top-100 lists";
  EXPECT_EQ(j["normalization"], "per_spot_ln");
  // The stored raw panel counts give each gene's detection over C2 + C3 (367 spots).
  std::vector<int64_t> detected(genes.size(), 0);
  for (const char* id : {"C2", "C3"}) {
    PreparedSection s = read_prepared_h5ad(tmp / (std::string("store/") + id + ".h5ad"));
    ASSERT_EQ(s.genes, genes);
    for (int64_t sp = 0; sp < s.n_spots(); ++sp)
      for (size_t g = 0; g < genes.size(); ++g) detected[g] += s.counts(sp, int64_t(g)) > 0;
  }
  for (size_t g = 0; g < genes.size(); ++g) {
    EXPECT_GE(detected[g], 100) << genes[g];
    if (g > 0) {
      EXPECT_GE(detected[g - 1], detected[g]) << "ordered by detection: " << genes[g];
      if (detected[g - 1] == detected[g]) EXPECT_LT(genes[g - 1], genes[g]) << "ties by name";
    }
  }
}

TEST(PrepareCli, Her2stMarkersFollowThePublishedPanel) {
  HISCMCL_REQUIRE_DATA("her2st");
  test::TempDir tmp;
  const std::string panel = "--sections C2 --genes '" + (test::shared_data() / "her2st/genes/her_hvg_cut_1000.npy").string() + "'";
  auto plain = test::run_hiscmcl(her2st_args(tmp, panel));
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  auto paper = nlohmann::json::parse(read_text_file(tmp / "store/summary.json"))["genes"];
  ASSERT_EQ(paper.size(), 785u);
  EXPECT_EQ(std::find(paper.begin(), paper.end(), "ERBB2"), paper.end());  // why markers are needed

  // No panel option: the manifest's `genes` panel, as cv takes it.
  auto r = test::run_hiscmcl(her2st_args(tmp, "--sections C2 --markers all"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(read_text_file(tmp / "store/summary.json"));
  const auto& genes = j["genes"];
  // Markers the panel lacks follow it in the manifest's order; those it has keep their place.
  std::vector<std::string> expected;
  for (const char* g : {"ERBB2", "GRB7", "KRT19", "EPCAM", "MKI67", "ESR1", "PTPRC", "CD3E", "CD68", "MS4A1",
                        "CD74", "IGKC", "COL1A1"})
    if (std::find(paper.begin(), paper.end(), g) == paper.end()) expected.push_back(g);
  ASSERT_EQ(expected.size(), 9u);  // nine of the thirteen are not in the paper's panel
  ASSERT_EQ(genes.size(), 785u + expected.size());
  for (size_t g = 0; g < 785; ++g) ASSERT_EQ(genes[g], paper[g]) << g;  // the paper's panel, unchanged
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(genes[785 + i], expected[i]) << i;
  EXPECT_EQ(genes[785], "ERBB2");
  EXPECT_EQ(j["markers"]["immune"], nlohmann::json({"PTPRC", "CD3E", "CD68", "MS4A1", "CD74", "IGKC"}));
  PreparedSection c2 = read_prepared_h5ad(tmp / "store/C2.h5ad");
  double erbb2 = 0;
  for (int64_t s = 0; s < c2.n_spots(); ++s) erbb2 += c2.counts(s, 785);
  EXPECT_GT(erbb2, 100) << "ERBB2 counts in a HER2+ tumour";

  auto bad = test::run_hiscmcl(her2st_args(tmp, panel + " --markers her3"));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("her2_amplicon"), std::string::npos) << bad.output;
}
