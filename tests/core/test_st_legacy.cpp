// Legacy ST reader on the real her2st and STUtility sections (counts from PROVENANCE.md), plus
// the pure helpers on hand-made input.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>

#include "common/error.h"
#include "io/image_info.h"
#include "io/manifest.h"
#include "io/section_reader.h"
#include "io/st_legacy_reader.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace hiscmcl;

namespace {

Manifest her2st() {
  return load_manifest(fs::path(HISCMCL_SOURCE_DIR) / "configs/her2st.toml",
                       test::shared_data() / "her2st");
}

// her2st's spot files list a few selected spots that have no count row (PROVENANCE.md: spot-file
// rows vs spots in both), so reading them needs allow_missing_spots.
ReadOptions allow_missing_spots() {
  ReadOptions o;
  o.allow_missing_spots = true;
  return o;
}

int64_t gene_index(const Section& s, const std::string& g) {
  for (size_t j = 0; j < s.genes.size(); ++j)
    if (s.genes[j] == g) return int64_t(j);
  return -1;
}

float count_at(const SparseCounts& c, int64_t r, int64_t col) {
  for (int64_t k = c.indptr[size_t(r)]; k < c.indptr[size_t(r) + 1]; ++k)
    if (c.indices[size_t(k)] == col) return c.values[size_t(k)];
  return 0;
}

}  // namespace

TEST(StLegacyHelpers, SpotKeyRoundsAndAffineMaps) {
  EXPECT_EQ(spot_key(24.914, 13.042), "25x13");
  EXPECT_EQ(spot_key(9.02, 20.994), "9x21");
  // A2's warp at (1000, 2000): 0.995476*1000 + 0.095020*2000 - 16.363 = 1169.153.
  auto p = apply_affine({0.995476, 0.095020, -16.363, -0.095020, 0.995475, -300.469}, 1000, 2000);
  EXPECT_NEAR(p[0], 1169.153, 1e-9);
  EXPECT_NEAR(p[1], -95.020 + 1990.950 - 300.469, 1e-9);
}

TEST(StLegacyHelpers, CountsTsvParsesQuotedIdsAndSparseValues) {
  test::TempDir tmp;
  std::ofstream(tmp / "c.tsv") << "\tG1\tG2\tG3\n\"1x2\"\t0\t5\t0\n3x4\t2\t0\t1.0\r\n";
  CountsTable t = read_counts_tsv(tmp / "c.tsv");
  EXPECT_EQ(t.genes, (std::vector<std::string>{"G1", "G2", "G3"}));
  EXPECT_EQ(t.spot_ids, (std::vector<std::string>{"1x2", "3x4"}));
  EXPECT_EQ(t.counts.indptr, (std::vector<int64_t>{0, 1, 3}));
  EXPECT_EQ(t.counts.indices, (std::vector<int32_t>{1, 0, 2}));
  EXPECT_EQ(t.counts.values, (std::vector<float>{5, 2, 1}));
}

TEST(StLegacyHelpers, CountsTsvAcceptsRWriteTableHeader) {
  // write.table(row.names = TRUE) omits the row-name column from the header.
  test::TempDir tmp;
  std::ofstream(tmp / "c.tsv") << "G1\tG2\n1x2\t3\t0\n";
  CountsTable t = read_counts_tsv(tmp / "c.tsv");
  EXPECT_EQ(t.genes, (std::vector<std::string>{"G1", "G2"}));
  EXPECT_EQ(t.counts.values, (std::vector<float>{3}));
}

TEST(StLegacyHer2st, C2SpotsGenesAndAKnownCount) {
  HISCMCL_REQUIRE_DATA("her2st");
  Manifest m = her2st();
  auto t0 = std::chrono::steady_clock::now();
  Section s = read_section(m.section("C2"));
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ timing ] her2st C2 read_section: %.0f ms (%ld spots x %ld genes)\n", ms,
              long(s.n_spots()), long(s.n_genes()));
  EXPECT_EQ(s.id, "C2");
  EXPECT_EQ(s.patient, "C");
  EXPECT_EQ(s.n_spots(), 187);
  EXPECT_EQ(s.n_genes(), 15706);
  EXPECT_EQ(s.counts.rows, 187);
  EXPECT_EQ(s.genes[0], "FO538757.1");  // gene order = file order
  EXPECT_EQ(s.genes[1], "SAMD11");
  // zcat C2.tsv.gz | awk: ERBB2 is column 6382; spot 10x21 (first row) has 7, 10x22 has 30.
  int64_t erbb2 = gene_index(s, "ERBB2");
  ASSERT_EQ(erbb2, 6380);
  EXPECT_EQ(s.spot_ids[0], "10x21");
  EXPECT_EQ(count_at(s.counts, 0, erbb2), 7.f);
  EXPECT_EQ(s.spot_ids[1], "10x22");
  EXPECT_EQ(count_at(s.counts, 1, erbb2), 30.f);
  // C2_selection.tsv: 10x21 has x=10, y=21 and its pixel centre is used unchanged.
  EXPECT_EQ(s.array_xy[0][0], 10);
  EXPECT_EQ(s.array_xy[0][1], 21);
  EXPECT_EQ(s.image.width, 9274);
  EXPECT_EQ(s.image.height, 9911);
  EXPECT_DOUBLE_EQ(s.image.spot_diameter_px, 136);
  EXPECT_NEAR(s.image.um_per_px, 100.0 / 136, 1e-12);
  EXPECT_TRUE(s.labels.empty());
}

TEST(StLegacyHer2st, SpotCountsOfEverySection) {
  HISCMCL_REQUIRE_DATA("her2st");
  Manifest m = her2st();
  // PROVENANCE.md: spots in both, and spot-file rows (all selected).
  const std::map<std::string, std::pair<int64_t, int64_t>> expected = {
      {"C3", {180, 182}}, {"C4", {184, 187}}, {"C5", {181, 183}},
      {"C6", {178, 179}}, {"A1", {346, 348}}, {"A2", {325, 325}}};
  for (const auto& [id, n] : expected) {
    StLegacyJoinStats st;
    Section s = read_st_legacy(m.section(id), &st, allow_missing_spots());
    EXPECT_EQ(s.n_spots(), n.first) << id;
    EXPECT_EQ(st.counts_without_spot, 0) << id;  // every count row is in the spot file
    EXPECT_EQ(st.joined, n.first) << id;
    EXPECT_EQ(st.table_rows, n.second) << id;
    EXPECT_EQ(st.spots_without_counts, n.second - n.first) << id;
  }
}

TEST(StLegacyHer2st, SelectedSpotsWithoutCountsFailUnlessAllowed) {
  HISCMCL_REQUIRE_DATA("her2st");
  Manifest m = her2st();
  ManifestSection c3 = m.section("C3");
  EXPECT_TRUE(c3.allow_missing_spots);  // configs/her2st.toml says so for C3
  EXPECT_EQ(read_section(c3).n_spots(), 180);
  c3.allow_missing_spots = false;
  std::string msg = test::input_error_of([&] { read_section(c3); });
  // awk over C3_selection.tsv and C3.tsv.gz: 13x9 and 17x14 are selected but have no count row.
  EXPECT_NE(msg.find(c3.files.at("counts").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find(c3.files.at("spots").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("2 of 182 selected spots"), std::string::npos) << msg;
  EXPECT_NE(msg.find("13x9"), std::string::npos) << msg;
  EXPECT_NE(msg.find("17x14"), std::string::npos) << msg;
  EXPECT_NE(msg.find("allow_missing_spots"), std::string::npos) << msg;
  EXPECT_EQ(read_section(m.section("C2")).n_spots(), 187);  // none missing: no option needed
}

TEST(StLegacyHer2st, A1A2CentresInsideTheirImagesAndA1Labels) {
  HISCMCL_REQUIRE_DATA("her2st");
  Manifest m = her2st();
  for (const char* id : {"A1", "A2"}) {
    Section s = read_section(m.section(id), allow_missing_spots());
    EXPECT_EQ(s.image.width, 2000) << id;
    double min_y = 1e9;
    for (const auto& p : s.pixel_xy) {
      EXPECT_GE(p[0], 0);
      EXPECT_LT(p[0], s.image.width);
      EXPECT_GE(p[1], 0);
      EXPECT_LT(p[1], s.image.height);
      min_y = std::min(min_y, p[1]);
    }
    // PROVENANCE: mapped centres have y >= 668 px (clear of the inset in the top-right corner).
    EXPECT_GE(min_y, 668 - 3) << id;
  }
  Section a1 = read_section(m.section("A1"), allow_missing_spots());
  EXPECT_EQ(a1.image.height, 2138);
  ASSERT_EQ(a1.labels.size(), 346u);
  std::map<std::string, int> n;
  for (const auto& l : a1.labels) ++n[l];
  // PROVENANCE's 348-spot counts (284 invasive cancer ...) restricted to the 346 joined spots.
  EXPECT_EQ(n["invasive cancer"], 282);
  EXPECT_EQ(n["connective tissue"], 24);
  EXPECT_EQ(n["cancer in situ"], 21);
  EXPECT_EQ(n["adipose tissue"], 12);
  EXPECT_EQ(n["undetermined"], 5);
  EXPECT_EQ(n["immune infiltrate"], 2);
}

TEST(StLegacyMob, SelectedSpotsOnly) {
  HISCMCL_REQUIRE_DATA("stutility_mob");
  Manifest m = load_manifest(fs::path(HISCMCL_SOURCE_DIR) / "configs/stutility_mob.toml",
                             test::shared_data() / "stutility_mob");
  const std::map<std::string, int64_t> expected = {{"MOB1", 379}, {"MOB2", 407}, {"MOB3", 438}};
  for (const auto& [id, n] : expected) {
    StLegacyJoinStats st;
    Section s = read_st_legacy(m.section(id), &st);
    EXPECT_EQ(s.n_spots(), n) << id;
    EXPECT_EQ(s.n_genes(), 1000) << id;
    EXPECT_EQ(s.image.width, 1905) << id;
    EXPECT_EQ(st.spots_without_counts, 0) << id;  // every selected spot has a count row
    EXPECT_GT(st.unselected, 1500) << id;         // off-tissue rows dropped quietly
  }
}
