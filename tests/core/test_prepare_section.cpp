// prepare_section / write_store on hand-made sections: panel order, missing genes (error naming
// the counts file, or zero fill), bad counts, absolute image paths, atomic store output.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "common/atomic_output.h"
#include "common/error.h"
#include "data/prepare.h"
#include "io/h5ad.h"
#include "test_util.h"

using namespace hiscmcl;
namespace fs = std::filesystem;

namespace {

Section two_spot_section() {
  Section s;
  s.id = "S1";
  s.patient = "P";
  s.genes = {"G1", "G2", "G3"};
  s.spot_ids = {"1x1", "2x1"};
  Matrix m(2, 3);
  m.data = {0, 1, 9, 2, 0, 8};
  s.counts = SparseCounts::from_dense(m);
  s.array_xy = {{1, 1}, {2, 1}};
  s.pixel_xy = {{10, 10}, {20, 10}};
  s.image.image_path = "relative/img.jpg";
  s.image.spot_diameter_px = 5;
  return s;
}

}  // namespace

TEST(PrepareSection, RestrictsToThePanelInPanelOrderAndNormalises) {
  PreparedSection p = prepare_section(two_spot_section(), {"G3", "G2"}, Normalization::per_spot,
                                      false, "counts.tsv");
  EXPECT_EQ(p.genes, (std::vector<std::string>{"G3", "G2"}));
  EXPECT_EQ(p.counts.data, (std::vector<float>{9, 1, 8, 0}));
  // Library size over the panel only: spot 0 totals 10, spot 1 totals 8.
  EXPECT_NEAR(p.expression(0, 0), std::log10(1 + 9000.0), 1e-5);
  EXPECT_NEAR(p.expression(0, 1), std::log10(1 + 1000.0), 1e-5);
  EXPECT_NEAR(p.expression(1, 0), std::log10(1 + 10000.0), 1e-5);
  EXPECT_EQ(p.expression(1, 1), 0.f);
  EXPECT_EQ(p.normalization, "per_spot");
  EXPECT_TRUE(fs::path(p.image.image_path).is_absolute());
  EXPECT_EQ(fs::path(p.image.image_path).filename(), "img.jpg");
  EXPECT_EQ(p.pixel_xy, two_spot_section().pixel_xy);
}

TEST(PrepareSection, MissingGeneNamesTheFileOrIsZeroFilled) {
  std::string msg;
  try {
    prepare_section(two_spot_section(), {"G1", "NOPE", "G3"}, Normalization::per_spot, false,
                    "data/S1.tsv.gz");
  } catch (const InputError& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("data/S1.tsv.gz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("NOPE"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--allow-missing-genes"), std::string::npos) << msg;

  PreparedSection p = prepare_section(two_spot_section(), {"G1", "NOPE", "G3"},
                                      Normalization::per_spot, true, "data/S1.tsv.gz");
  EXPECT_EQ(p.counts.data, (std::vector<float>{0, 0, 9, 2, 0, 8}));
  EXPECT_NEAR(p.expression(1, 0), std::log10(1 + 2000.0), 1e-5);  // 2 of 10
  EXPECT_EQ(p.expression(0, 1), 0.f);
}

TEST(PrepareSection, NegativeOrNaNCountsAndEmptySectionsAreErrors) {
  Section s = two_spot_section();
  s.counts.values[0] = -1;
  EXPECT_THROW(prepare_section(s, {"G1", "G2"}, Normalization::per_spot, false, "c.tsv"), InputError);
  s = two_spot_section();
  s.counts.values[1] = std::nanf("");
  EXPECT_THROW(prepare_section(s, {"G3"}, Normalization::per_spot, false, "c.tsv"), InputError);
  Section empty;
  empty.id = "E";
  empty.genes = {"G1"};
  empty.counts.cols = 1;
  empty.counts.indptr = {0};
  EXPECT_THROW(prepare_section(empty, {"G1"}, Normalization::per_spot, false, "c.tsv"), InputError);
}

TEST(PrepareSection, StoreIsWrittenWholeWithSummary) {
  test::TempDir tmp;
  PreparedSection p = prepare_section(two_spot_section(), {"G1", "G3"},
                                      Normalization::per_gene_compat, false, "c.tsv");
  PrepareSummary sum;
  sum.genes = p.genes;
  sum.section_ids = {"S1"};
  sum.n_spots["S1"] = 2;
  sum.normalization = "per_gene_compat";
  sum.manifest = "/m.toml";
  write_store(tmp / "out", {p}, sum);
  auto j = nlohmann::json::parse(read_text_file(tmp / "out/summary.json"));
  EXPECT_EQ(j["genes"], nlohmann::json({"G1", "G3"}));
  EXPECT_EQ(j["sections"]["S1"]["n_spots"], 2);
  EXPECT_EQ(j["sections"]["S1"]["n_genes"], 2);
  EXPECT_EQ(j["normalization"], "per_gene_compat");
  PreparedSection r = read_prepared_h5ad(tmp / "out/S1.h5ad");
  // per gene: G1 over spots [0, 2] -> [0, log10(1 + 1e4)].
  EXPECT_EQ(r.expression(0, 0), 0.f);
  EXPECT_NEAR(r.expression(1, 0), 4.0000434, 1e-5);
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path), fs::directory_iterator()), 1)
      << "only OUT, no temporary left";
}
