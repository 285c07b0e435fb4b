// Outputs are never destructive: a command writes only into a folder it created or one holding
// its own earlier output; every other folder, the current directory and the command's inputs are
// refused before any work, with the folder named and nothing touched. Write failures (a full disk)
// are named errors that leave no temporary behind; a cv folder is written by one run at a time.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>

#include "common/atomic_output.h"
#include "common/checksums.h"
#include "common/file_names.h"
#include "common/output_folder.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace hiscmcl::test;

namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// A dataset store and a model trained on it, made once per process.
struct Trained {
  TempDir tmp;
  fs::path store, model, config, image, spots;
  Trained() {
    const fs::path syn = small_synthetic();
    store = tmp / "store";
    model = tmp / "model";
    config = tmp / "config.toml";
    image = syn / "S1.jpg";
    spots = syn / "S1_spots.tsv";
    hiscmcl::write_text_file(config, default_config_with("epochs = 2\nensemble = 1\nk = 20\n"));
    auto p = run_hiscmcl("prepare --quiet --manifest " + q(syn / "manifest.toml") + " --out " + q(store));
    EXPECT_EQ(p.exit_code, 0) << p.output;
    auto t = run_hiscmcl("train --quiet --data " + q(store) + " --config " + q(config) + " --out " + q(model));
    EXPECT_EQ(t.exit_code, 0) << t.output;
  }
  std::string predict_args(const fs::path& out) const {
    return "predict --quiet --model " + q(model) + " --image " + q(image) + " --spots " + q(spots) + " --out " + q(out);
  }
};

const Trained& trained() {
  static Trained t;
  return t;
}

std::vector<std::string> temporaries_beside(const fs::path& out) {
  std::vector<std::string> found;
  const std::string stem = out.filename().string();
  for (auto& e : fs::directory_iterator(out.parent_path()))
    if (e.path().filename().string().rfind(stem + ".", 0) == 0) found.push_back(e.path().string());
  return found;
}

fs::path user_folder(const TempDir& tmp) {
  fs::path dir = tmp / "my_results";
  fs::create_directories(dir);
  hiscmcl::write_text_file(dir / "notes.txt", "a user's own file\n");
  return dir;
}

}  // namespace

TEST(OutputSafety, PredictRefusesAFolderHoldingAUsersFileAndTouchesNothing) {
  const Trained& t = trained();
  TempDir tmp;
  const fs::path dir = user_folder(tmp);
  auto r = run_hiscmcl(t.predict_args(dir));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, dir.string())) << r.output;
  EXPECT_TRUE(has(r.output, "did not write")) << r.output;
  EXPECT_EQ(hiscmcl::read_text_file(dir / "notes.txt"), "a user's own file\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  EXPECT_TRUE(temporaries_beside(dir).empty());
}

TEST(OutputSafety, OutputFolderIsCheckedBeforeAnyWork) {
  // The image does not exist: a check after the work would name the image instead.
  const Trained& t = trained();
  TempDir tmp;
  const fs::path dir = user_folder(tmp);
  auto r = run_hiscmcl("predict --quiet --model " + q(t.model) + " --image " + q(tmp / "missing.jpg") + " --grid --out " + q(dir));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "my_results")) << r.output;
  EXPECT_FALSE(has(r.output, "missing.jpg")) << r.output;
}

TEST(OutputSafety, PredictRefusesTheCurrentDirectory) {
  const Trained& t = trained();
  TempDir tmp;
  const fs::path dir = user_folder(tmp);
  auto r = run_command("cd " + q(dir) + " && '" + std::string(HISCMCL_BIN) + "' " + t.predict_args(".") + " 2>&1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "current directory")) << r.output;
  EXPECT_TRUE(fs::exists(dir / "notes.txt"));
  // An empty current directory is refused too: renaming over it cannot work, and `.` is no name.
  fs::create_directories(tmp / "empty");
  r = run_command("cd " + q(tmp / "empty") + " && '" + std::string(HISCMCL_BIN) + "' " + t.predict_args(".") + " 2>&1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(fs::is_directory(tmp / "empty"));
}

TEST(OutputSafety, InputsAreNeverAnOutput) {
  const Trained& t = trained();
  // predict into its own model folder, or into the folder holding the image.
  auto r = run_hiscmcl(t.predict_args(t.model));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "is an input of `hiscmcl predict`")) << r.output;
  EXPECT_TRUE(fs::exists(t.model / "model.json"));
  r = run_hiscmcl(t.predict_args(t.image.parent_path()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "holds an input")) << r.output;
  EXPECT_TRUE(fs::exists(t.image));
  // train into its own data store.
  r = run_hiscmcl("train --quiet --data " + q(t.store) + " --config " + q(t.config) + " --out " + q(t.store));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "is an input of `hiscmcl train`")) << r.output;
  EXPECT_TRUE(fs::exists(t.store / "summary.json"));
  // train into a predict output: another command's folder.
  TempDir tmp;
  ASSERT_EQ(run_hiscmcl(t.predict_args(tmp / "pred")).exit_code, 0);
  r = run_hiscmcl("train --quiet --data " + q(t.store) + " --config " + q(t.config) + " --out " + q(tmp / "pred"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "holds the output of `hiscmcl predict`")) << r.output;
  EXPECT_TRUE(fs::exists(tmp / "pred" / "prediction.h5ad"));
}

TEST(OutputSafety, ARerunReplacesItsOwnOutputAndRemovesAKilledRunsTemporaries) {
  const Trained& t = trained();
  TempDir tmp;
  const fs::path out = tmp / "pred";
  ASSERT_EQ(run_hiscmcl(t.predict_args(out)).exit_code, 0);
  EXPECT_EQ(hiscmcl::output_folder_owner(out), "predict");
  hiscmcl::write_text_file(out / "stale.txt", "from the first run\n");
  // What a SIGKILLed run leaves: a temporary named after a process that no longer exists.
  const fs::path killed = tmp / "pred.tmp3999999";
  fs::create_directories(killed);
  hiscmcl::write_text_file(killed / "prediction.csv", "partial\n");
  auto r = run_hiscmcl(t.predict_args(out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(out / "prediction.h5ad"));
  EXPECT_FALSE(fs::exists(out / "stale.txt"));  // replaced as a whole, atomically
  EXPECT_FALSE(fs::exists(killed));
  EXPECT_TRUE(temporaries_beside(out).empty());
}

TEST(OutputSafety, CvIsWrittenByOneRunAtATime) {
  TempDir tmp;
  const fs::path out = tmp / "cv";
  hiscmcl::create_output_folder(out, "cv");
  const fs::path cfg = tmp / "config.toml";
  hiscmcl::write_text_file(cfg, default_config_with("epochs = 1\nensemble = 1\nk = 20\n"));
  const std::string cv = "cv --quiet --manifest " + q(small_synthetic() / "manifest.toml") + " --config " + q(cfg) +
                         " --heatmap-genes 1 --out " + q(out);
  {
    hiscmcl::FolderLock running(out, "cv");  // this process plays the running cv
    auto r = run_hiscmcl(cv);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_TRUE(has(r.output, "process " + std::to_string(::getpid()))) << r.output;
    EXPECT_FALSE(fs::exists(out / "metrics.json"));
  }
  // The lock file of a run that has ended stays behind and is taken over.
  ASSERT_TRUE(fs::exists(out / ".hiscmcl-lock"));
  auto r = run_hiscmcl(cv);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(out / "metrics.json"));
  // And a folder of the user's is refused.
  const fs::path dir = user_folder(tmp);
  r = run_hiscmcl("cv --quiet --manifest " + q(small_synthetic() / "manifest.toml") + " --config " + q(cfg) +
                  " --out " + q(dir));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

// A small tmpfs: a disk that fills up (mounting needs root, which CI has).
struct SmallDisk {
  fs::path path;
  bool mounted = false;
  SmallDisk(const fs::path& p, const char* size) : path(p) {
    fs::create_directories(path);
    mounted = ::mount("tmpfs", path.c_str(), "tmpfs", 0, size) == 0;
  }
  ~SmallDisk() {
    if (mounted) ::umount2(path.c_str(), MNT_DETACH);
  }
};

std::vector<std::string> temporaries_below(const fs::path& dir) {
  static const std::regex temp_name(R"(.*\.tmp[0-9]+$)");
  std::vector<std::string> found;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (std::regex_match(e.path().filename().string(), temp_name)) found.push_back(e.path().string());
  return found;
}

TEST(OutputSafety, DiskFullInTrainIsANamedErrorWithNothingLeft) {
  const Trained& t = trained();
  TempDir tmp;
  SmallDisk small(tmp / "small_disk", "size=256k");
  if (!small.mounted) GTEST_SKIP() << "cannot mount a small tmpfs here (needs root): " << std::strerror(errno);
  const fs::path disk = small.path;
  auto r = run_hiscmcl("train --quiet --data " + q(t.store) + " --config " + q(t.config) + " --out " + q(disk / "model"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "No space left on device") || has(r.output, "disk full")) << r.output;
  EXPECT_FALSE(has(r.output, "terminate")) << r.output;
  EXPECT_TRUE(fs::is_empty(disk)) << "left behind: " << fs::directory_iterator(disk)->path();
}

TEST(OutputSafety, ThreadsOutOfRangeAreRefusedAtOnce) {
  auto r = run_hiscmcl("info --threads 100000");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "--threads 100000: must be between 1 and")) << r.output;
  r = run_hiscmcl("info --threads -3");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

TEST(OutputSafety, SectionIdsThatDifferOnlyInNonAsciiGetTheirOwnFiles) {
  EXPECT_NE(hiscmcl::file_safe_name("Ö 1"), hiscmcl::file_safe_name("Ä 1"));
  EXPECT_TRUE(std::regex_match(hiscmcl::file_safe_name("Ö 1"), std::regex("___1-[0-9a-f]{8}")));
  EXPECT_EQ(hiscmcl::file_safe_name("C1_ERBB2"), "C1_ERBB2");  // safe names are kept as they are
}

TEST(OutputSafety, ADamagedModelFileIsNamedByPredict) {
  const Trained& t = trained();
  TempDir tmp;
  const fs::path model = tmp / "model";
  fs::copy(t.model, model, fs::copy_options::recursive);
  ASSERT_TRUE(fs::exists(model / hiscmcl::kChecksumFile));
  for (const std::string file : {"model.pt", "tensors.pt", "ridge.h5"}) {
    SCOPED_TRACE(file);
    const fs::path p = model / file;
    ASSERT_TRUE(fs::exists(p));
    std::string bytes = hiscmcl::read_text_file(p);
    const std::string original = bytes;
    bytes[bytes.size() / 2] ^= 0x10;  // one flipped bit
    hiscmcl::write_text_file(p, bytes);
    auto r = run_hiscmcl("predict --quiet --model " + q(model) + " --image " + q(t.image) + " --spots " + q(t.spots) +
                         " --out " + q(tmp / ("pred_" + file)));
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_TRUE(has(r.output, p.string() + ": damaged")) << r.output;
    EXPECT_FALSE(fs::exists(tmp / ("pred_" + file)));
    hiscmcl::write_text_file(p, original);
  }
  auto r = run_hiscmcl("predict --quiet --model " + q(model) + " --image " + q(t.image) + " --spots " + q(t.spots) +
                       " --out " + q(tmp / "pred"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(OutputSafety, DiskFullInCvIsANamedErrorWithNoTemporaryLeft) {
  TempDir tmp;
  SmallDisk small(tmp / "small_disk", "size=2m");
  if (!small.mounted) GTEST_SKIP() << "cannot mount a small tmpfs here (needs root): " << std::strerror(errno);
  const fs::path cfg = tmp / "config.toml";
  hiscmcl::write_text_file(cfg, default_config_with("epochs = 1\nensemble = 1\nk = 20\n"));
  auto r = run_hiscmcl("cv --quiet --manifest " + q(small_synthetic() / "manifest.toml") + " --config " + q(cfg) +
                       " --out " + q(small.path / "cv"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "No space left on device") || has(r.output, "disk full")) << r.output;
  EXPECT_FALSE(has(r.output, "terminate")) << r.output;
  EXPECT_TRUE(temporaries_below(small.path).empty());
}

TEST(OutputSafety, ASlideWhoseTilingFailsKeepsThePredictionAndFails) {
  // Tiling that breaks partway (a test hook fails it after the pyramid's first files).
  const Trained& t = trained();
  TempDir tmp;
  auto r = run_command("HISCMCL_FAIL_AT=viewer.tiled '" + std::string(HISCMCL_BIN) + "' " + t.predict_args(tmp / "pred") +
                       " 2>&1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(has(r.output, "could not be tiled")) << r.output;
  EXPECT_TRUE(has(r.output, "is complete without viewer/")) << r.output;
  EXPECT_TRUE(fs::exists(tmp / "pred" / "prediction.h5ad"));
  EXPECT_TRUE(fs::exists(tmp / "pred" / "spots.geojson"));
  EXPECT_FALSE(fs::exists(tmp / "pred" / "viewer"));
  for (auto& e : fs::directory_iterator(tmp / "pred")) EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  EXPECT_TRUE(temporaries_beside(tmp / "pred").empty());
}
