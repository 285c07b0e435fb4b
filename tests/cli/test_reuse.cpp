// Runs you can trust: `cv` reuses exactly what its inputs still determine, an unchanged rerun
// rewrites nothing, and a run killed at any stage resumes to the result of an uninterrupted one.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <iostream>
#include <regex>

#include "common/atomic_output.h"
#include "eval/gene_sets.h"
#include "eval/metrics.h"
#include "io/h5ad.h"
#include "io/hdf5_file.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace hiscmcl::test;

namespace {

struct CvRun {
  TempDir tmp;
  fs::path manifest;  // empty: the small synthetic dataset's
  std::string config(const std::string& overrides) {
    fs::path p = tmp / "config.toml";
    hiscmcl::write_text_file(p, default_config_with("epochs = 2\nensemble = 1\nk = 50\n" + overrides));
    return p.string();
  }
  CommandResult cv(const std::string& overrides = "", const std::string& extra = "", const std::string& env = "") {
    return run_command(env + " '" + std::string(HISCMCL_BIN) + "' cv --manifest '" +
                       (manifest.empty() ? small_synthetic() / "manifest.toml" : manifest).string() + "' --config '" + config(overrides) +
                       "' --heatmap-genes 1 --out '" + (tmp / "cv").string() + "' " + extra);
  }
  json metrics() { return json::parse(hiscmcl::read_text_file(tmp / "cv" / "metrics.json")); }
};

std::map<std::string, fs::file_time_type> mtimes(const fs::path& dir) {
  std::map<std::string, fs::file_time_type> out;
  for (auto& e : fs::recursive_directory_iterator(dir))
    // The lock records the running process (common/output_folder.h): each run writes it.
    if (e.is_regular_file() && e.path().filename() != ".hiscmcl-lock")
      out[fs::relative(e.path(), dir).string()] = e.last_write_time();
  return out;
}

std::vector<std::string> temporaries(const fs::path& dir) {
  static const std::regex temp_name(R"(.*\.tmp[0-9]+$)");
  std::vector<std::string> out;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (std::regex_match(e.path().filename().string(), temp_name)) out.push_back(e.path().string());
  return out;
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST(Reuse, EachStageIsRecomputedExactlyWhenItsInputsChange) {
  CvRun run;
  auto first = run.cv();
  ASSERT_EQ(first.exit_code, 0) << first.output;
  json m0 = run.metrics();
  ASSERT_EQ(m0["folds"].size(), 3u);
  for (auto& [name, f] : m0["folds"].items()) {
    EXPECT_EQ(f["key"].get<std::string>().size(), 32u) << name;
    EXPECT_EQ(f["model_key"].get<std::string>().size(), 32u) << name;
  }

  // Unchanged: nothing is rewritten, not even metrics.json.
  auto before = mtimes(run.tmp / "cv");
  auto same = run.cv();
  ASSERT_EQ(same.exit_code, 0) << same.output;
  EXPECT_TRUE(has(same.output, "nothing rewritten")) << same.output;
  EXPECT_EQ(mtimes(run.tmp / "cv"), before);
  EXPECT_TRUE(has(same.output, "HisCMCL")) << same.output;  // the table is still printed

  // predict.k: predictions again, with the same trained models.
  auto k20 = run.cv("k = 20\n");
  ASSERT_EQ(k20.exit_code, 0) << k20.output;
  EXPECT_TRUE(has(k20.output, "reusing its trained model")) << k20.output;
  auto after_k = mtimes(run.tmp / "cv");
  EXPECT_EQ(after_k.at("folds/S1/model/model.pt"), before.at("folds/S1/model/model.pt"));
  EXPECT_NE(after_k.at("folds/S1/result.json"), before.at("folds/S1/result.json"));
  json mk = run.metrics();
  EXPECT_EQ(mk["config"]["predict"]["k"], 20);
  EXPECT_NE(mk["sections"]["S1"]["acg"], m0["sections"]["S1"]["acg"]);  // k = 20 predicts differently
  EXPECT_EQ(mk["folds"]["S1"]["model_key"], m0["folds"]["S1"]["model_key"]);
  EXPECT_NE(mk["folds"]["S1"]["key"], m0["folds"]["S1"]["key"]);
  // ...and back to k = 50 gives the first numbers again.
  ASSERT_EQ(run.cv().exit_code, 0);
  EXPECT_EQ(run.metrics()["sections"], m0["sections"]);

  // train.epochs: every fold trains again, and the log says why.
  auto e3 = run.cv("epochs = 3\n");
  ASSERT_EQ(e3.exit_code, 0) << e3.output;
  EXPECT_TRUE(has(e3.output, "settings.train.epochs")) << e3.output;
  EXPECT_NE(mtimes(run.tmp / "cv").at("folds/S1/model/model.pt"), before.at("folds/S1/model/model.pt"));
  EXPECT_NE(run.metrics()["folds"]["S1"]["model_key"], m0["folds"]["S1"]["model_key"]);

  // Other sections: the store is prepared again and fold S1 trains on S2 alone.
  auto two = run.cv("", "--sections S1,S2");
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_TRUE(has(two.output, "preparing the store again")) << two.output;
  json model = json::parse(hiscmcl::read_text_file(run.tmp / "cv" / "folds" / "S1" / "model" / "model.json"));
  EXPECT_EQ(model["train_sections"], json::array({"S2"}));
  EXPECT_EQ(run.metrics()["sections"].size(), 2u);

  // Another panel: the store is prepared again with its genes.
  auto hvg = run.cv("", "--sections S1,S2 --hvg 10");
  ASSERT_EQ(hvg.exit_code, 0) << hvg.output;
  EXPECT_LE(run.metrics()["n_genes"].get<int>(), 20);
  EXPECT_LT(run.metrics()["n_genes"].get<int>(), m0["n_genes"].get<int>());
}

TEST(Reuse, ARunKilledAtAnyStageResumesToTheUninterruptedResult) {
  CvRun whole;
  ASSERT_EQ(whole.cv().exit_code, 0);
  const json want = whole.metrics();
  for (const char* point :
       {"embed.features_written", "train.model_uncommitted", "fold.result_unwritten", "report.metrics_unwritten"}) {
    SCOPED_TRACE(point);
    CvRun run;
    auto killed = run.cv("", "", std::string("HISCMCL_CRASH_AT=") + point);
    EXPECT_EQ(killed.exit_code, 137) << killed.output;  // SIGKILL
    EXPECT_FALSE(fs::exists(run.tmp / "cv" / "metrics.json"));
    auto again = run.cv();
    ASSERT_EQ(again.exit_code, 0) << again.output;
    json got = run.metrics();
    EXPECT_EQ(got["sections"], want["sections"]);
    EXPECT_EQ(got["baseline"], want["baseline"]);
    EXPECT_EQ(got["run_key"], want["run_key"]);
    EXPECT_TRUE(temporaries(run.tmp / "cv").empty());
    // Every file the run leaves reads back: JSON parses, the report is whole.
    for (auto& e : fs::recursive_directory_iterator(run.tmp / "cv"))
      if (e.path().extension() == ".json") EXPECT_NO_THROW(json::parse(hiscmcl::read_text_file(e.path()))) << e.path();
    EXPECT_TRUE(has(hiscmcl::read_text_file(run.tmp / "cv" / "report.html"), "</html>"));
  }
}

TEST(Markers, CvScoresMarkerGenesAndSetsBesideRidgeAndPredictDrawsThem) {
  CvRun run;
  const fs::path syn = small_synthetic();
  run.manifest = run.tmp / "manifest.toml";  // the synthetic manifest with marker sets, beside its files
  hiscmcl::write_text_file(run.manifest, hiscmcl::read_text_file(syn / "manifest.toml") +
                                             "\n[markers]\nimmune = [\"PTPRC\", \"CD3E\"]\ntumour = [\"EPCAM\", \"ERBB2\"]\n");
  auto r = run.cv("", "--data-root '" + syn.string() + "' --hvg 5 --markers all");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(has(r.output, "markers, mean PCC")) << r.output;
  json m = run.metrics();
  ASSERT_TRUE(m.contains("markers")) << m.dump(1);
  for (const char* g : {"PTPRC", "CD3E", "EPCAM", "ERBB2"}) {
    const json& e = m["markers"]["genes"][g];
    EXPECT_EQ(e["sections"].size(), 3u) << g;
    EXPECT_EQ(e["ridge"]["sections"].size(), 3u) << g;
    EXPECT_TRUE(e["mean"].is_number()) << g;
    EXPECT_TRUE(fs::exists(run.tmp / "cv" / "heatmaps" / ("S1_" + std::string(g) + ".png"))) << g;
  }
  EXPECT_EQ(m["markers"]["sets"]["immune"]["genes"], json::array({"PTPRC", "CD3E"}));
  // The synthetic immune programme follows the tissue: its predicted score tracks the measured one.
  EXPECT_GT(m["markers"]["sets"]["immune"]["mean"].get<double>(), 0.3) << m["markers"]["sets"].dump();
  EXPECT_GE(m["n_genes"].get<int>(), 4);
  EXPECT_EQ(m["n_markers"], 4);
  std::string html = hiscmcl::read_text_file(run.tmp / "cv" / "report.html");
  EXPECT_TRUE(has(html, "Marker genes and gene-set scores")) << "report";
  EXPECT_TRUE(has(html, "immune score"));

  // predict draws the model's markers when no gene is named.
  auto p = run_hiscmcl("predict --quiet --model '" + (run.tmp / "cv/folds/S1/model").string() + "' --image '" +
                       (syn / "S1.jpg").string() + "' --spots '" + (syn / "S1_spots.tsv").string() + "' --out '" +
                       (run.tmp / "pred").string() + "'");
  ASSERT_EQ(p.exit_code, 0) << p.output;
  for (const char* g : {"PTPRC", "CD3E", "EPCAM", "ERBB2", "immune_score", "tumour_score"})
    EXPECT_TRUE(fs::exists(run.tmp / "pred" / ("heatmap_" + std::string(g) + ".png"))) << g;

  // obs holds each set's score: the mean z of its genes over the predicted X, and the immune
  // score follows the measured one of that section.
  const hiscmcl::hdf5::File f = hiscmcl::hdf5::File::open(run.tmp / "pred" / "prediction.h5ad", "prediction");
  const hiscmcl::PreparedSection pred = hiscmcl::read_prepared_h5ad(f);
  const hiscmcl::PreparedSection truth = hiscmcl::read_prepared_h5ad(run.tmp / "cv" / "data" / "S1.h5ad");
  ASSERT_EQ(pred.spot_ids, truth.spot_ids);
  // layers["sd"]: the retrieved neighbours' spread, one per spot and gene, never negative.
  ASSERT_EQ(pred.spread.rows, pred.n_spots());
  ASSERT_EQ(pred.spread.cols, int64_t(pred.genes.size()));
  EXPECT_TRUE(std::all_of(pred.spread.data.begin(), pred.spread.data.end(), [](float v) { return v >= 0; }));
  EXPECT_GT(*std::max_element(pred.spread.data.begin(), pred.spread.data.end()), 0.f);
  // cv says how well that spread ranks the errors of each held-out section.
  ASSERT_TRUE(m["uncertainty"]["mean"].is_number()) << m["uncertainty"].dump();
  std::printf("[ uncertainty ] Spearman(sd, |error|) mean %.3f\n", m["uncertainty"]["mean"].get<double>());
  const auto immune = f.dataset("obs/immune_score").read_numbers<double>({pred.n_spots()});
  const auto expected = hiscmcl::gene_set_score(pred.expression, hiscmcl::panel_columns(pred.genes, {"PTPRC", "CD3E"}));
  ASSERT_EQ(immune.size(), expected.size());
  for (size_t i = 0; i < immune.size(); ++i) ASSERT_NEAR(immune[i], expected[i], 1e-5) << i;
  const auto measured = hiscmcl::gene_set_score(truth.expression, hiscmcl::panel_columns(truth.genes, {"PTPRC", "CD3E"}));
  std::vector<float> predicted(immune.begin(), immune.end());
  EXPECT_GT(hiscmcl::pearson(predicted.data(), measured.data(), int64_t(measured.size())), 0.3);
  const std::string csv_head = hiscmcl::read_text_file(run.tmp / "pred" / "prediction.csv").substr(0, 4000);
  EXPECT_TRUE(has(csv_head.substr(0, csv_head.find('\n')), ",immune_score,tumour_score")) << csv_head.substr(0, 200);
}

// predict.index = "ivf" probing every list is an exact search: the metrics of a flat run, from the
// same trained models. A model trained with ivf carries its index (keys.ivf) for predict.
TEST(KeyIndexCli, IvfProbingEveryListGivesTheFlatMetricsAndTrainingStoresTheIndex) {
  CvRun run;
  ASSERT_EQ(run.cv().exit_code, 0);
  const json flat = run.metrics();
  EXPECT_FALSE(fs::exists(run.tmp / "cv/folds/S1/model/keys.ivf"));

  auto ivf = run.cv("predict.index = \"ivf\"\nnlist = 3\nnprobe = 3\n");
  ASSERT_EQ(ivf.exit_code, 0) << ivf.output;
  EXPECT_TRUE(has(ivf.output, "reusing its trained model")) << ivf.output;
  const json m = run.metrics();
  EXPECT_EQ(m["config"]["predict"]["index"], "ivf");
  for (const auto& [id, s] : flat["sections"].items())
    for (const char* metric : {"acg", "heg", "hvg"})
      EXPECT_NEAR(m["sections"][id][metric].get<double>(), s[metric].get<double>(), 1e-6) << id << " " << metric;

  // One list probed of three: approximate, and the index is stored with the retrained models.
  auto stored = run.cv("predict.index = \"ivf\"\nnlist = 3\nnprobe = 1\nepochs = 3\n");
  ASSERT_EQ(stored.exit_code, 0) << stored.output;
  for (const char* fold : {"S1", "S2", "S3"})
    EXPECT_TRUE(fs::exists(run.tmp / "cv/folds" / fold / "model/keys.ivf")) << fold;
  const json approx = run.metrics();
  EXPECT_NE(approx["sections"]["S1"]["acg"], m["sections"]["S1"]["acg"]);
}

// predict.predictor: the trained models (and the fair ridge each carries in ridge.h5) are reused
// across predictors. The default "stacked" blends at 0.5; a fitted blend fits per-gene weights on
// each fold's training sections only. Each blend predicts the held-out sections at least as well as
// the weaker of its two halves and better than it would by chance. A blended run also scores
// retrieval alone before the blend: the retrieval run's numbers, so a report shows both halves.
TEST(Stacked, CvBlendsRetrievalWithTheFairRidgeOnTheSameModels) {
  CvRun run;
  auto r0 = run.cv("predictor = \"retrieval\"\n");
  ASSERT_EQ(r0.exit_code, 0) << r0.output;
  json m0 = run.metrics();
  EXPECT_FALSE(m0.contains("blend_weight")) << m0.dump();
  EXPECT_FALSE(m0.contains("components")) << m0.dump();
  EXPECT_FALSE(has(r0.output, "retrieval alone")) << r0.output;
  const double ret = m0["mean"]["acg"], ridge = m0["baseline"]["ridge"]["mean"]["acg"];
  for (auto [overrides, fitted] : {std::pair<std::string, bool>{"", false}, {"stack_weight = -1.0\n", true}}) {
    auto st = run.cv(overrides);
    ASSERT_EQ(st.exit_code, 0) << st.output;
    EXPECT_TRUE(has(st.output, "reusing its trained model")) << st.output;
    EXPECT_TRUE(has(st.output, "per-gene blend")) << st.output;
    json m = run.metrics();
    ASSERT_EQ(m["blend_weight"].size(), 3u) << m.dump();
    for (auto& [fold, w] : m["blend_weight"].items()) {
      if (fitted) {
        EXPECT_GE(w.get<double>(), 0.0) << fold;
        EXPECT_LE(w.get<double>(), 1.0) << fold;
      } else {
        EXPECT_EQ(w.get<double>(), 0.5) << fold;
      }
    }
    EXPECT_EQ(m["baseline"], m0["baseline"]);  // the ridges are the same fits
    const json& alone = m["components"]["retrieval"];
    ASSERT_EQ(alone["sections"].size(), m0["sections"].size()) << m.dump();
    for (const auto& [id, s] : m0["sections"].items())
      for (const char* metric : {"acg", "heg", "hvg", "mse"})
        EXPECT_NEAR(alone["sections"][id][metric].get<double>(), s[metric].get<double>(), 1e-12) << id << " " << metric;
    EXPECT_NEAR(alone["mean"]["acg"].get<double>(), ret, 1e-12);
    EXPECT_TRUE(has(st.output, "retrieval alone")) << st.output;  // the table's column legend
    const double blend = m["mean"]["acg"];
    EXPECT_NE(blend, ret);
    EXPECT_GT(blend, std::min(ret, ridge)) << ret << " " << ridge << " " << blend;
    EXPECT_GT(blend, 0.25);
    std::cout << "retrieval " << ret << " ridge " << ridge << (fitted ? " fitted blend " : " plain average ") << blend
              << "\n";
  }
}

TEST(Reuse, StreamedFeaturesAndAFloat16CacheKeepTheirPromises) {
  CvRun run;
  auto first = run.cv();
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const json m0 = run.metrics();

  // Image tables past train.max_memory_gb are read from the cache on demand: the same models,
  // the same numbers, from scratch.
  CvRun streamed;
  auto s = streamed.cv("max_memory_gb = 1e-9\n", "--verbose");
  ASSERT_EQ(s.exit_code, 0) << s.output;
  EXPECT_TRUE(has(s.output, "rows are read from the feature cache")) << s.output;
  EXPECT_EQ(streamed.metrics()["sections"], m0["sections"]);
  // ...and the memory budget is no reason to train again.
  auto again = run.cv("max_memory_gb = 1e-9\n");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_FALSE(has(again.output, "settings.train")) << again.output;
  EXPECT_EQ(run.metrics()["sections"], m0["sections"]);

  // float16: the float32 cache is rounded into a float16 one beside it (no crop is embedded
  // again), the models train again, and the numbers move a little.
  std::vector<fs::path> f32, f16;
  for (auto& e : fs::recursive_directory_iterator(run.tmp.path))
    if (e.path().extension() == ".npy" && e.path().string().find("/features/") != std::string::npos)
      (e.path().string().find(".f16.npy") != std::string::npos ? f16 : f32).push_back(e.path());
  ASSERT_FALSE(f32.empty());
  EXPECT_TRUE(f16.empty());
  auto half = run.cv("feature_dtype = \"float16\"\n", "--verbose");
  ASSERT_EQ(half.exit_code, 0) << half.output;
  EXPECT_TRUE(has(half.output, "settings.encoder.feature_dtype")) << half.output;
  for (auto& p : f32) {
    fs::path h = p;
    h.replace_extension(".f16.npy");
    ASSERT_TRUE(fs::exists(h)) << h;
    EXPECT_EQ(fs::file_size(h) - 128, (fs::file_size(p) - 128) / 2) << h;
  }
  const json m16 = run.metrics();
  EXPECT_NE(m16["sections"], m0["sections"]);
  // A few epochs on small synthetic sections: a section's ACG moves by up to ~0.05 with the
  // training trajectory; the mean moves less. Broken float16 features would lose most of the 0.5.
  for (auto& [name, sec] : m0["sections"].items())
    EXPECT_NEAR(m16["sections"][name]["acg"].get<double>(), sec["acg"].get<double>(), 0.06) << name;
  EXPECT_NEAR(m16["mean"]["acg"].get<double>(), m0["mean"]["acg"].get<double>(), 0.025);
  // Back to float32: its own cache, untouched, gives the first numbers again.
  ASSERT_EQ(run.cv().exit_code, 0);
  EXPECT_EQ(run.metrics()["sections"], m0["sections"]);
}
