// The synthetic tissue generator: determinism, file formats, expression that follows the
// generator's own ground truth, image geometry and colour.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/atomic_output.h"
#include "common/error.h"
#include "common/thread_pool.h"
#include "synth/synth_dataset.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace hiscmcl;
using namespace hiscmcl::synth;

namespace {

SynthOptions small_options() {
  SynthOptions o;
  o.sections = 2;
  o.grid = 6;
  o.genes = 40;
  o.um_per_px = 2.0;  // 700 px images: fast
  return o;
}

std::string read_gz(const fs::path& p) {
  gzFile f = gzopen(p.c_str(), "rb");
  EXPECT_NE(f, nullptr) << p;
  std::string s;
  char buf[65536];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) s.append(buf, size_t(n));
  gzclose(f);
  return s;
}

std::vector<std::vector<std::string>> split_tsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    size_t start = 0;
    for (;;) {
      size_t t = line.find('\t', start);
      f.push_back(line.substr(start, t == std::string::npos ? std::string::npos : t - start));
      if (t == std::string::npos) break;
      start = t + 1;
    }
    rows.push_back(f);
  }
  return rows;
}

std::map<std::string, std::string> folder_bytes(const fs::path& dir) {
  std::map<std::string, std::string> m;
  for (auto& e : fs::directory_iterator(dir)) m[e.path().filename().string()] = read_text_file(e.path());
  return m;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) { ma += a[i]; mb += b[i]; }
  ma /= double(a.size());
  mb /= double(b.size());
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

}  // namespace

TEST(Synth, SameSeedSameBytesAnyThreadCountDifferentSeedDiffers) {
  test::TempDir tmp;
  SynthOptions o = small_options();
  set_num_threads(1);
  generate_synthetic_dataset(o, tmp / "a");
  set_num_threads(2);
  generate_synthetic_dataset(o, tmp / "b");
  o.seed = 2;
  generate_synthetic_dataset(o, tmp / "c");
  auto a = folder_bytes(tmp / "a"), b = folder_bytes(tmp / "b"), c = folder_bytes(tmp / "c");
  ASSERT_EQ(a.size(), 11u);  // 2 x (counts, spots, labels, jpg) + manifest + ceiling.json + output marker
  EXPECT_EQ(a, b);
  for (const char* f : {"S1_counts.tsv.gz", "S1.jpg", "S2_spots.tsv"}) EXPECT_NE(a[f], c[f]) << f;
}

TEST(Synth, FilesParseInTheLegacyStLayout) {
  test::TempDir tmp;
  SynthOptions o = small_options();
  auto res = generate_synthetic_dataset(o, tmp / "d");
  ASSERT_EQ(res.section_ids, (std::vector<std::string>{"S1", "S2"}));
  ASSERT_EQ(res.genes.size(), 40u);

  std::string manifest = read_text_file(tmp / "d" / "manifest.toml");
  EXPECT_EQ(manifest.rfind("name = \"synthetic\"\n", 0), 0u);
  for (const char* line : {"id = \"S1\"", "patient = \"P1\"", "id = \"S2\"", "patient = \"P2\"",
                           "format = \"st_legacy\"", "counts = \"S2_counts.tsv.gz\"",
                           "spots = \"S1_spots.tsv\"", "image = \"S1.jpg\"",
                           "spot_diameter_px = 50.000", "um_per_px = 2.000"})
    EXPECT_NE(manifest.find(line), std::string::npos) << line;

  for (size_t k = 0; k < 2; ++k) {
    const std::string id = res.section_ids[k];
    auto counts = split_tsv(read_gz(tmp / "d" / (id + "_counts.tsv.gz")));
    auto spots = split_tsv(read_text_file(tmp / "d" / (id + "_spots.tsv")));
    ASSERT_EQ(counts[0].size(), 41u);
    EXPECT_EQ(counts[0][0], "");
    EXPECT_EQ(std::vector<std::string>(counts[0].begin() + 1, counts[0].end()), res.genes);
    EXPECT_EQ(spots[0], (std::vector<std::string>{"x", "y", "new_x", "new_y", "pixel_x", "pixel_y", "selected"}));

    std::set<std::string> selected, all;
    for (size_t r = 1; r < spots.size(); ++r) {
      ASSERT_EQ(spots[r].size(), 7u);
      std::string id_xy = spots[r][0] + "x" + spots[r][1];
      EXPECT_TRUE(all.insert(id_xy).second) << "duplicate spot " << id_xy;
      EXPECT_LT(std::fabs(std::stod(spots[r][2]) - std::stod(spots[r][0])), 0.05);
      ASSERT_TRUE(spots[r][6] == "1" || spots[r][6] == "0");
      if (spots[r][6] == "1") selected.insert(id_xy);
    }
    std::set<std::string> counted;
    int64_t total = 0;
    for (size_t r = 1; r < counts.size(); ++r) {
      ASSERT_EQ(counts[r].size(), 41u);
      counted.insert(counts[r][0]);
      for (size_t g = 1; g < counts[r].size(); ++g) {
        const std::string& v = counts[r][g];
        ASSERT_FALSE(v.empty());
        ASSERT_EQ(v.find_first_not_of("0123456789"), std::string::npos) << v;
        total += std::stoll(v);
      }
    }
    EXPECT_EQ(counted, selected);  // one counts row per selected spot, same ids
    EXPECT_EQ(int(counted.size()), res.spots_per_section[k]);
    EXPECT_GT(total, int64_t(counted.size()) * 100);  // library sizes of hundreds per spot
  }
}

TEST(Synth, ExpressionFollowsTheGeneratorsComposition) {
  SynthOptions o;  // full-size grid, no image rendering
  GenePanel panel = make_gene_panel(o.genes, o.seed);
  const size_t G = panel.genes.size();
  std::vector<double> tumour_frac, immune_frac;
  std::vector<std::vector<double>> expr(G);  // log1p(1e4 * c / total)
  for (int k = 0; k < 3; ++k) {
    SynthSection s = synthesize_section(o, panel, k, /*render_image=*/false);
    for (size_t i = 0; i < s.counted.size(); ++i) {
      const SynthSpot& p = s.spots[size_t(s.counted[i])];
      tumour_frac.push_back(p.spot.frac[1]);
      immune_frac.push_back(p.spot.frac[2]);
      double tot = 0;
      for (size_t g = 0; g < G; ++g) tot += s.counts[i * G + g];
      for (size_t g = 0; g < G; ++g) expr[g].push_back(std::log1p(1e4 * s.counts[i * G + g] / tot));
    }
  }
  ASSERT_GT(tumour_frac.size(), 300u);
  double mean_r = 0;
  auto tumour = panel.genes_of(0);
  ASSERT_GE(tumour.size(), 8u);
  for (int g : tumour) mean_r += pearson(expr[size_t(g)], tumour_frac) / double(tumour.size());
  EXPECT_GT(mean_r, 0.5);
  EXPECT_GT(pearson(expr[size_t(tumour[0])], tumour_frac), 0.5) << panel.genes[size_t(tumour[0])];
  EXPECT_EQ(panel.genes[size_t(tumour[0])], "EPCAM");
  double immune_r = 0;
  auto immune = panel.genes_of(1);
  for (int g : immune) immune_r += pearson(expr[size_t(g)], immune_frac) / double(immune.size());
  EXPECT_GT(immune_r, 0.5);
  auto noise = panel.genes_of(-1);
  EXPECT_EQ(noise.size(), 24u);  // 20% of 120
  for (int g : noise) EXPECT_LT(std::fabs(pearson(expr[size_t(g)], tumour_frac)), 0.2) << panel.genes[size_t(g)];
}

TEST(Synth, NoiseCeilingIsTheTruthScoredAgainstTheCounts) {
  SynthOptions o;  // the demo's settings, no image rendering
  GenePanel panel = make_gene_panel(o.genes, o.seed);
  const size_t G = panel.genes.size();
  SynthSection s = synthesize_section(o, panel, 0, /*render_image=*/false);
  ASSERT_EQ(s.expected.size(), s.counted.size() * G);
  // Shares are positive; a noise gene keeps the same share in every spot (no signal).
  for (size_t i = 0; i < s.counted.size(); ++i)
    for (size_t g = 0; g < G; ++g) {
      ASSERT_GT(s.expected[i * G + g], 0.0);
      if (panel.programme[g] < 0) ASSERT_EQ(s.expected[i * G + g], s.expected[g]);
    }
  SectionMetrics c = noise_ceiling(s, panel);
  // Noise genes are constant in the truth and count as 0; ACG is over all genes.
  double signal = 0;
  for (size_t g = 0; g < G; ++g) {
    if (panel.programme[g] < 0) EXPECT_EQ(c.pcc[g], 0.0) << panel.genes[g];
    else signal += c.pcc[g];
  }
  EXPECT_NEAR(c.acg, signal / double(G), 1e-12);
  EXPECT_GT(c.acg, 0.5);   // the demo's counts carry real signal ...
  EXPECT_LT(c.acg, 0.8);   // ... under real noise, and 20% of genes carry none
  EXPECT_GT(c.hvg, c.acg);
  // The same counts scored against a blurred truth (every spot pulled halfway to the section
  // mean, then shuffled between spots for one gene) lose correlation: the ceiling is a ceiling.
  SynthSection worse = s;
  const size_t n = s.counted.size();
  for (size_t g = 0; g < G; ++g) {
    double mean = 0;
    for (size_t i = 0; i < n; ++i) mean += s.expected[i * G + g] / double(n);
    for (size_t i = 0; i < n; ++i)
      worse.expected[i * G + g] = 0.5 * s.expected[i * G + g] + 0.5 * s.expected[((i * 7919) % n) * G + g];
  }
  EXPECT_LT(noise_ceiling(worse, panel).acg, c.acg - 0.05);
}

TEST(Synth, ImageGeometryAndHeColours) {
  SynthOptions o = small_options();
  o.grid = 8;
  GenePanel panel = make_gene_panel(o.genes, o.seed);
  SynthSection s = synthesize_section(o, panel, 0);
  // (grid + 1) pitches of 200 um at 2 um/px
  ASSERT_EQ(s.image.cols, 900);
  ASSERT_EQ(s.image.rows, 900);
  ASSERT_EQ(s.image.type(), CV_8UC3);
  EXPECT_DOUBLE_EQ(s.spot_diameter_px, 50.0);
  for (const SynthSpot& p : s.spots) {
    EXPECT_GE(p.pixel_x - 25, 0);
    EXPECT_GE(p.pixel_y - 25, 0);
    EXPECT_LE(p.pixel_x + 25, 900);
    EXPECT_LE(p.pixel_y + 25, 900);
    if (p.selected) EXPECT_GE(p.spot.tissue, 0.5);
  }
  // Mean RGB per class: glass near white, stroma pink (R >> G), immune aggregates dark blue-purple.
  std::map<int, std::array<double, 4>> sum;
  for (int y = 0; y < s.image.rows; ++y)
    for (int x = 0; x < s.image.cols; ++x) {
      auto px = s.image.at<cv::Vec3b>(y, x);
      auto& a = sum[s.layout.at(x, y)];
      for (int k = 0; k < 3; ++k) a[size_t(k)] += px[k];
      a[3] += 1;
    }
  auto mean = [&](int cls, int ch) { return sum[cls][size_t(ch)] / sum[cls][3]; };
  ASSERT_GT(sum[kBackground][3], 0);
  ASSERT_GT(sum[kImmune][3], 0);
  EXPECT_GT(mean(kBackground, 1), 225);                     // white glass
  EXPECT_GT(mean(kStroma, 0), mean(kStroma, 1) + 40);       // eosin: red well above green
  EXPECT_GT(mean(kImmune, 2), mean(kImmune, 0));            // haematoxylin: blue above red
  EXPECT_LT(mean(kImmune, 0) + mean(kImmune, 1), mean(kStroma, 0) + mean(kStroma, 1) - 60);
}

TEST(Synth, CompositionOfAHandMadeLayout) {
  TissueLayout L;
  L.width = L.height = 200;
  L.um_per_px = 1;
  L.classes.assign(200 * 200, kStroma);
  for (int y = 0; y < 200; ++y)
    for (int x = 0; x < 100; ++x) L.classes[size_t(y) * 200 + x] = kTumour;  // left half tumour
  L.nuclei.push_back({100.5f, 100.5f, 3, 3, 0, 1, 0, 0, 0, NucleusKind::immune});
  Composition c = measure_composition(L, 100, 100, 20);
  EXPECT_NEAR(c.frac[1], 0.5, 0.03);
  EXPECT_NEAR(c.frac[0], 0.5, 0.03);
  EXPECT_DOUBLE_EQ(c.tissue, 1.0);
  // One nucleus in a ~pi*20^2 um^2 disk: about 0.8 per 1000 um^2.
  EXPECT_NEAR(c.nuclei_per_kum2, 1000.0 / (M_PI * 400), 0.05);
  // A disk half outside the image: tissue fraction about one half.
  Composition edge = measure_composition(L, 0, 100, 20);
  EXPECT_NEAR(edge.tissue, 0.5, 0.05);
  EXPECT_NEAR(edge.frac[1], 1.0, 1e-9);

  Composition spot{}, ring{};
  spot.frac = {0.2, 0.6, 0.2, 0, 0};
  ring.frac = {0.5, 0.3, 0.1, 0.1, 0};
  Activity a = programme_activity(spot, ring);
  EXPECT_DOUBLE_EQ(a[0], 0.6);
  EXPECT_DOUBLE_EQ(a[1], 0.2 + 0.25 * 0.1);
  EXPECT_NEAR(a[6], 0.6 * 0.3, 1e-12);  // immune-adjacent tumour: tumour x min(1, 3 x ring immune)
}

TEST(Synth, BadOptionsAndForeignFoldersAreRefused) {
  test::TempDir tmp;
  SynthOptions o = small_options();
  o.grid = 2;
  EXPECT_THROW(validate_synth_options(o), InputError);
  o = small_options();
  o.genes = 5;
  EXPECT_THROW(generate_synthetic_dataset(o, tmp / "x"), InputError);
  EXPECT_FALSE(fs::exists(tmp / "x"));
  // A non-empty folder that is not an earlier synth output is left alone.
  fs::create_directories(tmp / "mine");
  write_text_file(tmp / "mine" / "notes.txt", "keep me");
  o = small_options();
  EXPECT_THROW(generate_synthetic_dataset(o, tmp / "mine"), InputError);
  EXPECT_EQ(read_text_file(tmp / "mine" / "notes.txt"), "keep me");
  // An earlier synth output is replaced.
  o.sections = 1;
  generate_synthetic_dataset(o, tmp / "s");
  o.sections = 2;
  generate_synthetic_dataset(o, tmp / "s");
  EXPECT_TRUE(fs::exists(tmp / "s" / "S2.jpg"));
}
