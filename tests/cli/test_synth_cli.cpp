// `hiscmcl synth` end to end through the built binary.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/atomic_output.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace hiscmcl::test;

TEST(SynthCli, WritesAFolderTheManifestDescribes) {
  TempDir tmp;
  auto r = run_hiscmcl("synth --quiet --out '" + (tmp / "syn").string() +
                       "' --sections 3 --grid 5 --genes 30 --um-per-px 2 --seed 7 --patient-per-section");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* f : {"manifest.toml", "S1_counts.tsv.gz", "S2_spots.tsv", "S3.jpg", "S3_labels.tsv"})
    EXPECT_TRUE(fs::exists(tmp / "syn" / f)) << f;
  std::string m = hiscmcl::read_text_file(tmp / "syn" / "manifest.toml");
  EXPECT_NE(m.find("patient = \"P3\""), std::string::npos) << m;
}

TEST(SynthCli, BadArgumentsFailWithoutOutput) {
  TempDir tmp;
  auto r = run_hiscmcl("synth --out '" + (tmp / "a").string() + "' --grid 2");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--grid"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "a"));

  fs::create_directories(tmp / "mine");
  hiscmcl::write_text_file(tmp / "mine" / "keep.txt", "x");
  r = run_hiscmcl("synth --out '" + (tmp / "mine").string() + "' --grid 4 --genes 20 --um-per-px 2 --sections 1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("mine"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("not empty"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(tmp / "mine" / "keep.txt"));
}
