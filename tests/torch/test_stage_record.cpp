// Stage records: an artefact is reused only under the inputs it was made from, and a mismatch says
// which inputs changed.
#include <gtest/gtest.h>

#include "common/atomic_output.h"
#include "common/stage_key.h"
#include "pipeline/stage_record.h"
#include "test_util.h"

using namespace hiscmcl;
using nlohmann::json;

TEST(StageRecord, ReuseOnlyUnderTheSameInputsAndSayWhatChanged) {
  test::TempDir dir;
  const json inputs = {{"settings", {{"train", {{"epochs", 50}, {"lr", 1e-3}}}}}, {"sections", {"C2", "C3"}}};
  EXPECT_EQ(*stale_reason(read_stage_record(dir / "stage.json"), inputs), "none yet");
  write_stage_record(dir / "stage.json", inputs, {{"train_seconds", 1.5}});
  StageRecord r = read_stage_record(dir / "stage.json");
  EXPECT_EQ(r.key, stage_key(inputs));
  EXPECT_EQ(r.extra["train_seconds"], 1.5);
  EXPECT_FALSE(stale_reason(r, inputs).has_value());

  json changed = inputs;
  changed["settings"]["train"]["epochs"] = 3;
  changed["sections"] = {"C2"};
  auto why = stale_reason(r, changed);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("settings.train.epochs"), std::string::npos) << *why;
  EXPECT_NE(why->find("sections"), std::string::npos) << *why;
  EXPECT_EQ(why->find("lr"), std::string::npos) << *why;

  // A truncated record counts as none: the stage is made again rather than trusted.
  std::string text = read_text_file(dir / "stage.json");
  write_text_file(dir / "stage.json", text.substr(0, text.size() / 2));
  EXPECT_EQ(*stale_reason(read_stage_record(dir / "stage.json"), inputs), "none yet");
}

TEST(StageKey, DependsOnEveryValueAndNotOnKeyOrder) {
  json a = {{"x", 1}, {"y", {1, 2}}};
  json b = json::parse(R"({"y": [1, 2], "x": 1})");
  EXPECT_EQ(stage_key(a), stage_key(b));
  EXPECT_NE(stage_key(a), stage_key(json{{"x", 1}, {"y", {2, 1}}}));
  EXPECT_NE(stage_key(a), stage_key(json{{"x", 1.0000001}, {"y", {1, 2}}}));
  EXPECT_EQ(stage_key(a).size(), 32u);
}

TEST(StageKey, FileStampsFollowContentChanges) {
  test::TempDir dir;
  write_text_file(dir / "a.tsv", "abc");
  json s1 = file_stamp(dir / "a.tsv");
  EXPECT_EQ(s1["size"], 3);
  write_text_file(dir / "a.tsv", "abcd");
  EXPECT_NE(file_stamp(dir / "a.tsv"), s1);
  EXPECT_TRUE(file_stamp(dir / "missing.tsv").is_null());
  std::filesystem::create_directories(dir / "sub");
  write_text_file(dir / "sub" / "b.h5", "x");
  EXPECT_EQ(file_stamp(dir.path).size(), 2u);  // a folder stamps every file below it
}
