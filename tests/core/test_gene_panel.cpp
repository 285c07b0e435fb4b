// Gene panels: .txt/.npy loading (the real her2st panel), .npy strings/float32, and the HVG
// ("cut") and top-mean panel rules on hand-made sections whose answers follow from the rules.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "common/error.h"
#include "data/gene_panel.h"
#include "io/npy.h"
#include "test_util.h"

using namespace hiscmcl;
namespace fs = std::filesystem;

namespace {

// A .npy file written byte by byte, independent of io/npy.cpp.
void write_raw_npy(const fs::path& p, const std::string& descr, const std::string& shape,
                   const std::string& data) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
  dict += '\n';
  std::ofstream f(p, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  char len[2] = {char(dict.size() & 0xFF), char(dict.size() >> 8)};
  f.write(len, 2);
  f << dict << data;
}

Section make_section(const std::string& id, std::vector<std::string> genes,
                     const std::vector<std::vector<float>>& rows) {
  Section s;
  s.id = id;
  s.genes = std::move(genes);
  Matrix m(int64_t(rows.size()), int64_t(s.genes.size()));
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < rows[r].size(); ++c) m(int64_t(r), int64_t(c)) = rows[r][c];
    s.spot_ids.push_back(id + "_" + std::to_string(r));
    s.pixel_xy.push_back({double(r), 0});
  }
  s.counts = SparseCounts::from_dense(m);
  return s;
}

}  // namespace

TEST(GenePanel, RealHer2stPanelNpyMatchesTxt) {
  HISCMCL_REQUIRE_DATA("her2st/genes");
  const fs::path dir = test::shared_data() / "her2st/genes";
  auto npy = load_gene_panel(dir / "her_hvg_cut_1000.npy");
  ASSERT_EQ(npy.size(), 785u);
  EXPECT_EQ(npy.front(), "HPS6");
  EXPECT_EQ(npy[1], "TNC");
  EXPECT_EQ(npy[785 - 2], "NDRG1");
  EXPECT_EQ(npy.back(), "TNFRSF14");
  auto txt = load_gene_panel(dir / "her_hvg_cut_1000.txt");
  EXPECT_EQ(npy, txt);
}

TEST(GenePanel, TxtSkipsBlanksAndCommentsAndRejectsDuplicates) {
  test::TempDir tmp;
  std::ofstream(tmp / "p.txt") << "# my panel\nKRT5\r\n\n  ERBB2 \n# end\nCD74\n";
  EXPECT_EQ(load_gene_panel(tmp / "p.txt"), (std::vector<std::string>{"KRT5", "ERBB2", "CD74"}));

  std::ofstream(tmp / "dup.txt") << "KRT5\nERBB2\nKRT5\n";
  std::string msg = test::input_error_of([&] { load_gene_panel(tmp / "dup.txt"); });
  EXPECT_NE(msg.find("dup.txt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 3"), std::string::npos) << msg;

  std::ofstream(tmp / "empty.txt") << "# nothing\n\n";
  msg = test::input_error_of([&] { load_gene_panel(tmp / "empty.txt"); });
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
  msg = test::input_error_of([&] { load_gene_panel(tmp / "absent.txt"); });
  EXPECT_NE(msg.find("absent.txt"), std::string::npos) << msg;
}

TEST(Npy, ByteAndUnicodeStrings) {
  test::TempDir tmp;
  write_raw_npy(tmp / "s.npy", "|S5", "(2,)", std::string("ABC\0\0DEFGH", 10));
  EXPECT_EQ(read_npy_strings(tmp / "s.npy"), (std::vector<std::string>{"ABC", "DEFGH"}));
  // '<U2': "é" (U+00E9) then padding, and "ab".
  std::string u("\xE9\0\0\0\0\0\0\0a\0\0\0b\0\0\0", 16);
  write_raw_npy(tmp / "u.npy", "<U2", "(2,)", u);
  EXPECT_EQ(read_npy_strings(tmp / "u.npy"), (std::vector<std::string>{"\xC3\xA9", "ab"}));
}

TEST(Npy, PickledAndTruncatedFilesAreClearErrors) {
  test::TempDir tmp;
  write_raw_npy(tmp / "obj.npy", "|O", "(3,)", "\x80\x02garbage");
  std::string msg = test::input_error_of([&] { read_npy_strings(tmp / "obj.npy"); });
  EXPECT_NE(msg.find("pickled .npy is not supported"), std::string::npos) << msg;
  EXPECT_NE(msg.find("obj.npy"), std::string::npos) << msg;

  write_raw_npy(tmp / "short.npy", "<U4", "(3,)", std::string(20, 'x'));
  msg = test::input_error_of([&] { read_npy_strings(tmp / "short.npy"); });
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;

  std::ofstream(tmp / "not.npy") << "hello";
  msg = test::input_error_of([&] { read_npy_strings(tmp / "not.npy"); });
  EXPECT_NE(msg.find("not a .npy"), std::string::npos) << msg;
}

TEST(Npy, Float32RoundTripAndLayout) {
  test::TempDir tmp;
  Matrix m(2, 3);
  m.data = {1.5f, -2.f, 0.f, 3.25f, 1e-7f, 42.f};
  write_npy_f32(tmp / "f.npy", m);
  Matrix r = read_npy_f32(tmp / "f.npy");
  EXPECT_EQ(r.rows, 2);
  EXPECT_EQ(r.cols, 3);
  EXPECT_EQ(r.data, m.data);
  // Header padded so the data starts on a 64-byte boundary (what numpy expects).
  EXPECT_EQ(fs::file_size(tmp / "f.npy") % 64, (6 * 4) % 64);
  write_raw_npy(tmp / "d.npy", "<f8", "(2, 3)", std::string(48, '\0'));
  std::string msg = test::input_error_of([&] { read_npy_f32(tmp / "d.npy"); });
  EXPECT_NE(msg.find("<f4"), std::string::npos) << msg;
}

// Every spot totals 1e4, so normalised values equal the counts. A and B share a mean (2000,
// the same mean bin), C (mean 6000) sits alone in the top bin. Within the A/B bin the two log
// dispersions z-score to +-1/sqrt(2); a lone gene gets 1 (scanpy's rule).
TEST(Hvg, SeuratNormalisedDispersionByHand) {
  std::vector<std::vector<float>> rows = {
      {1000, 1900, 7100}, {3000, 2100, 4900}, {1000, 1900, 7100}, {3000, 2100, 4900}};
  Section s = make_section("s", {"A", "B", "C"}, rows);
  auto norm = seurat_normalized_dispersion(s.counts);
  ASSERT_EQ(norm.size(), 3u);
  EXPECT_NEAR(norm[0], 1 / std::sqrt(2.0), 1e-9);
  EXPECT_NEAR(norm[1], -1 / std::sqrt(2.0), 1e-9);
  EXPECT_NEAR(norm[2], 1.0, 1e-9);
  EXPECT_EQ(seurat_hvg(s.counts, 1), (std::vector<int64_t>{2}));
  EXPECT_EQ(seurat_hvg(s.counts, 2), (std::vector<int64_t>{0, 2}));

  // Depth does not matter: a spot sequenced 3x deeper normalises to the same values.
  for (auto& v : rows[1]) v *= 3;
  Section deeper = make_section("d", {"A", "B", "C"}, rows);
  auto norm3 = seurat_normalized_dispersion(deeper.counts);
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(norm3[size_t(j)], norm[size_t(j)], 1e-9);
}

TEST(Hvg, PanelIsTheUnionOfPerSectionTopGenes) {
  // S1 ranks C first (as above); S2 has A alone in the top bin. Union of top-1 = {A, C};
  // B is in every section but never top. All 8 spots detect A and C: tie, so by name.
  Section s1 = make_section("s1", {"A", "B", "C"},
                            {{1000, 1900, 7100}, {3000, 2100, 4900}, {1000, 1900, 7100}, {3000, 2100, 4900}});
  Section s2 = make_section("s2", {"A", "B", "C"},
                            {{7100, 1000, 1900}, {4900, 3000, 2100}, {7100, 1000, 1900}, {4900, 3000, 2100}});
  EXPECT_EQ(select_hvg_panel({s1, s2}, 1, 0), (std::vector<std::string>{"A", "C"}));
  EXPECT_EQ(select_hvg_panel({s1, s2}, 1, 9), std::vector<std::string>{}) << "8 spots < 9";
}

TEST(Hvg, PanelKeepsGenesPresentEverywhereAndDetectedEnough) {
  // n_top large: every non-constant gene is highly variable. X and Y exist in one section
  // only. Detection over both sections: A 3+3 = 6, B 2+1 = 3, C 4+3 = 7.
  Section s1 = make_section("s1", {"A", "B", "C", "X"},
                            {{5, 0, 3, 1}, {2, 1, 2, 2}, {0, 4, 6, 0}, {7, 0, 1, 5}});
  Section s2 = make_section("s2", {"C", "B", "A", "Y"}, {{2, 0, 1, 3}, {5, 3, 4, 0}, {1, 0, 2, 1}});
  EXPECT_EQ(select_hvg_panel({s1, s2}, 100, 4), (std::vector<std::string>{"C", "A"}));
  EXPECT_EQ(select_hvg_panel({s1, s2}, 100, 0), (std::vector<std::string>{"C", "A", "B"}));
  EXPECT_EQ(select_hvg_panel({s1, s2}, 100, 7), (std::vector<std::string>{"C"}));
}

TEST(TopMean, RanksCommonGenesByMeanLogExpression) {
  // Proportions C > B > A in both sections; Z is the largest in s2 but absent from s1.
  Section s1 = make_section("s1", {"A", "B", "C"}, {{1, 2, 7}, {1, 2, 7}});
  Section s2 = make_section("s2", {"C", "A", "B", "Z"}, {{7, 1, 2, 90}});
  EXPECT_EQ(select_top_mean_panel({s1, s2}, 2), (std::vector<std::string>{"C", "B"}));
  EXPECT_EQ(select_top_mean_panel({s1, s2}, 10), (std::vector<std::string>{"C", "B", "A"}));
}
