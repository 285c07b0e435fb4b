#include "predict/cross_validation.h"

#include <toml++/toml.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include "common/atomic_output.h"
#include "common/error.h"
#include "common/file_names.h"
#include "common/log.h"
#include "common/progress.h"
#include "data/normalize.h"
#include "encoders/section_features.h"
#include "eval/clustering.h"
#include "eval/gene_symbols.h"
#include "eval/heatmap.h"
#include "eval/metrics.h"
#include "eval/report.h"
#include "eval/ridge.h"
#include "io/dataset_store.h"
#include "io/h5ad.h"
#include "io/manifest.h"
#include "io/slide_image.h"
#include "predict/retrieval_predictor.h"
#include "train/end_to_end.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace hiscmcl {
namespace {

json metrics_json(const SectionMetrics& m) {
  return {{"acg", m.acg}, {"heg", m.heg}, {"hvg", m.hvg}, {"mse", m.mse}, {"mae", m.mae},
          {"n_spots", m.n_spots}};
}

// NaN is not JSON: write null, read back NaN.
json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
double from_num(const json& j) { return j.is_number() ? j.get<double>() : std::nan(""); }

json clean(const json& j) {
  if (j.is_number_float()) return num(j.get<double>());
  if (j.is_object() || j.is_array()) {
    json out = j;
    for (auto it = out.begin(); it != out.end(); ++it) *it = clean(*it);
    return out;
  }
  return j;
}

Matrix eval_matrix(const PreparedSection& s, Normalization eval_norm) {
  if (to_string(eval_norm) == s.normalization) return s.expression;
  return normalize(s.counts, eval_norm);
}

struct Fold {
  std::string name;
  std::vector<size_t> test, train;  // indices into the sections
};

std::vector<Fold> make_folds(const std::vector<PreparedSection>& sections, const std::string& split) {
  std::vector<Fold> folds;
  if (split == "loso") {
    for (size_t i = 0; i < sections.size(); ++i) {
      Fold f{sections[i].id, {i}, {}};
      for (size_t j = 0; j < sections.size(); ++j)
        if (j != i) f.train.push_back(j);
      folds.push_back(f);
    }
  } else if (split == "lopo") {
    std::vector<std::string> patients;
    for (auto& s : sections)
      if (std::find(patients.begin(), patients.end(), s.patient) == patients.end())
        patients.push_back(s.patient);
    for (auto& p : patients) {
      Fold f{"patient_" + p, {}, {}};
      for (size_t j = 0; j < sections.size(); ++j) (sections[j].patient == p ? f.test : f.train).push_back(j);
      folds.push_back(f);
    }
  } else {
    throw std::invalid_argument("--split must be loso or lopo, not '" + split + "'");
  }
  for (auto& f : folds)
    if (f.train.empty())
      throw std::invalid_argument("fold " + f.name + " leaves no training section (need >= 2 sections" +
                                  std::string(split == "lopo" ? " from >= 2 patients)" : ")"));
  return folds;
}

std::vector<float> column(const Matrix& m, int64_t c) {
  std::vector<float> v(size_t(m.rows));
  for (int64_t r = 0; r < m.rows; ++r) v[size_t(r)] = m(r, c);
  return v;
}

// Everything one held-out section contributes to the outputs.
json evaluate_held_out(const PreparedSection& s, const Matrix& pred, const Matrix& ridge_pred,
                       const Matrix& truth, const std::vector<std::string>& symbols,
                       const fs::path& out, int heatmap_genes) {
  SectionMetrics m = evaluate_section(pred, truth);
  SectionMetrics r = evaluate_section(ridge_pred, truth);
  json j;
  j["method"] = metrics_json(m);
  j["ridge"] = metrics_json(r);
  j["pcc"] = json::array();
  j["p_value"] = json::array();
  j["ridge_pcc"] = json::array();
  for (size_t g = 0; g < m.pcc.size(); ++g) {
    j["pcc"].push_back(num(m.pcc[g]));
    j["p_value"].push_back(num(m.p_value[g]));
    j["ridge_pcc"].push_back(num(r.pcc[g]));
  }
  j["truth_mean"] = m.truth_mean;
  j["truth_var"] = m.truth_var;
  if (!s.labels.empty()) {
    ClusterScore c = cluster_and_score(pred, s.labels);
    ClusterScore cr = cluster_and_score(ridge_pred, s.labels);
    j["method"]["ari"] = c.ari;
    j["method"]["nmi"] = c.nmi;
    j["ridge"]["ari"] = cr.ari;
    j["ridge"]["nmi"] = cr.nmi;
  }

  // The prediction as AnnData.
  PreparedSection p = s;
  p.expression = pred;
  p.counts = Matrix();
  p.normalization = "prediction";
  write_prepared_h5ad(out / "predictions" / (s.id + ".h5ad"), p);

  // Heatmaps of the best-predicted genes, predicted beside measured.
  std::vector<int64_t> order;
  for (int64_t g = 0; g < int64_t(m.pcc.size()); ++g)
    if (std::isfinite(m.pcc[size_t(g)])) order.push_back(g);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return m.pcc[size_t(a)] > m.pcc[size_t(b)]; });
  order.resize(std::min<size_t>(order.size(), size_t(heatmap_genes)));
  j["heatmaps"] = json::array();
  if (!order.empty()) {
    HeatmapBackground bg = heatmap_background(*SlideImage::open(s.image.image_path));
    std::vector<cv::Point2d> pts = to_points(s.pixel_xy);
    for (int64_t g : order) {
      std::string name = symbols[size_t(g)];
      std::string rel = "heatmaps/" + file_safe_name(s.id + "_" + name) + ".png";
      std::ostringstream title;
      title << s.id << "  " << name << "  (r = " << std::fixed << std::setprecision(3)
            << m.pcc[size_t(g)] << ")";
      write_heatmap_pair_png(out / rel, bg.rgb, bg.downsample, pts, column(pred, g), column(truth, g),
                             s.image.spot_diameter_px, title.str());
      j["heatmaps"].push_back({{"gene", name}, {"path", rel}});
    }
  }
  return j;
}

std::optional<std::string> manifest_string(const fs::path& manifest, const char* key) {
  try {
    auto t = toml::parse_file(manifest.string());
    if (auto v = t[key].value<std::string>()) return *v;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

}  // namespace

CvResult run_cross_validation(const CvOptions& opt) {
  auto t0 = std::chrono::steady_clock::now();
  RunConfig cfg = opt.run_config ? *opt.run_config : load_run_config(opt.config);
  if (opt.epochs > 0) cfg.train.epochs = opt.epochs;
  fs::create_directories(opt.out);
  Manifest manifest = load_manifest(opt.manifest, opt.data_root);

  // 1. prepare (reused when the store already holds these sections from this manifest)
  fs::path data = opt.out / "data";
  PrepareOptions po;
  po.manifest = opt.manifest;
  po.data_root = manifest.data_root;
  po.out = data;
  po.sections = opt.sections;
  po.panel = opt.panel;
  if (po.panel.genes_file.empty() && po.panel.hvg_top == 0 && po.panel.top_mean == 0) {
    if (auto g = manifest_string(opt.manifest, "genes")) {
      po.panel.genes_file = manifest.data_root / *g;
    } else {
      po.panel.hvg_top = 1000;
      po.panel.min_spots = 0;
    }
  }
  po.normalization = parse_normalization(cfg.data.normalization);
  po.allow_missing_genes = opt.allow_missing_genes;
  std::vector<std::string> wanted;
  for (auto& ms : manifest.select(opt.sections)) wanted.push_back(ms.id);
  bool reuse = false;
  if (fs::exists(data / "summary.json")) {
    auto have = store_section_ids(data);
    auto j = json::parse(read_text_file(data / "summary.json"));
    reuse = have == wanted && j.value("normalization", "") == cfg.data.normalization &&
            j.value("manifest", "") == fs::absolute(opt.manifest).string();
  }
  if (!reuse) prepare_dataset(po);
  else spdlog::info("cv: reusing the prepared store {}", data.string());
  std::vector<PreparedSection> sections = load_store_sections(data);
  const auto& genes = sections.front().genes;

  std::vector<std::string> symbols = genes;
  if (auto sym = manifest_string(opt.manifest, "gene_symbols")) {
    auto map = load_gene_symbols(manifest.data_root / *sym);
    for (auto& g : symbols)
      if (auto it = map.find(g); it != map.end()) g = it->second;
  }

  // 2. embed every section once (cached)
  std::unique_ptr<Encoder> encoder;
  std::vector<SectionFeatures> features;
  for (auto& s : sections) {
    features.push_back(embed_section(data, s, cfg.encoder, encoder.get()));
  }

  // 3. folds
  auto folds = make_folds(sections, opt.split);
  Normalization eval_norm = parse_normalization(cfg.data.eval_norm);
  json fold_results = json::object();
  std::vector<LossCurve> curves;
  ProgressBar bar("cv folds", int64_t(folds.size()), "fold");
  for (auto& fold : folds) {
    fs::path fdir = opt.out / "folds" / fold.name;
    fs::path result_file = fdir / "result.json";
    json fr;
    if (fs::exists(result_file)) {
      fr = json::parse(read_text_file(result_file));
      spdlog::info("cv: fold {} already done; reusing", fold.name);
    } else {
      std::vector<const PreparedSection*> train_ptrs;
      std::vector<SectionFeatures> train_feats;
      for (size_t i : fold.train) {
        train_ptrs.push_back(&sections[i]);
        train_feats.push_back(features[i]);
      }
      const bool e2e = cfg.train.mode == "end_to_end";
      TrainResult tr = e2e ? train_end_to_end(train_ptrs, cfg) : train_frozen(train_ptrs, train_feats, cfg);
      RetrievalPredictor predictor(tr.bundle);
      std::unique_ptr<Encoder> trained_trunk = e2e ? bundle_encoder(tr.bundle) : nullptr;

      // Ridge baseline on the same image features, alpha by leave-one-section-out.
      Matrix xb, yb;
      std::vector<int> groups;
      for (size_t t = 0; t < fold.train.size(); ++t) {
        const auto& s = sections[fold.train[t]];
        Matrix x = baseline_features(s.pixel_xy, features[fold.train[t]]);
        Matrix y = eval_matrix(s, eval_norm);
        if (xb.rows == 0) {
          xb = Matrix(0, x.cols);
          yb = Matrix(0, y.cols);
        }
        xb.data.insert(xb.data.end(), x.data.begin(), x.data.end());
        yb.data.insert(yb.data.end(), y.data.begin(), y.data.end());
        xb.rows += x.rows;
        yb.rows += y.rows;
        groups.insert(groups.end(), size_t(x.rows), int(t));
      }
      RidgeModel ridge;
      if (cfg.predict.ridge_alpha > 0) ridge = fit_ridge(xb, yb, cfg.predict.ridge_alpha);
      else if (fold.train.size() >= 2)
        ridge = fit_ridge_cv(xb, yb, groups, {1, 10, 100, 1e3, 1e4, 1e5, 1e6}).model;
      else ridge = fit_ridge(xb, yb, 100);

      fr["sections"] = json::object();
      for (size_t i : fold.test) {
        const auto& s = sections[i];
        // An end-to-end model sees the held-out section through its own trained trunk; the
        // ridge baseline keeps the configured encoder's features.
        Matrix pred = e2e ? predictor.predict(s.pixel_xy, embed_spots(*SlideImage::open(s.image.image_path),
                                                                      s.image.image_path, s.pixel_xy,
                                                                      s.image.spot_diameter_px, cfg.encoder,
                                                                      *trained_trunk))
                          : predictor.predict(s.pixel_xy, features[i]);
        Matrix ridge_pred = predict_ridge(ridge, baseline_features(s.pixel_xy, features[i]));
        fr["sections"][s.id] = evaluate_held_out(s, pred, ridge_pred, eval_matrix(s, eval_norm),
                                                 symbols, opt.out, opt.heatmap_genes);
      }
      fr["ridge_alpha"] = ridge.alpha;
      fr["train_seconds"] = tr.seconds;
      fr["loss"] = json::array();
      for (auto& e : tr.log) fr["loss"].push_back({e.epoch, e.loss});
      fs::create_directories(fdir);
      AtomicPath model_dir(fdir / "model");
      fs::create_directories(model_dir.temp());
      save_model_bundle(model_dir.temp(), tr.bundle);
      write_train_log(model_dir.temp() / "train_log.csv", tr.log);
      model_dir.commit();
      write_text_file(result_file, clean(fr).dump(1));  // last: marks the fold finished
    }
    for (auto it = fr["sections"].begin(); it != fr["sections"].end(); ++it) fold_results[it.key()] = *it;
    LossCurve c{"fold " + fold.name, {}};
    for (auto& p : fr["loss"]) c.points.emplace_back(p[0].get<double>(), from_num(p[1]));
    curves.push_back(c);
    bar.advance();
  }
  bar.finish();

  // 4. aggregate
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  json metrics;
  metrics["split"] = opt.split;
  metrics["n_genes"] = genes.size();
  metrics["config"] = to_json(cfg);
  metrics["sections"] = json::object();
  metrics["baseline"]["ridge"]["sections"] = json::object();
  std::vector<std::string> keys = {"acg", "heg", "hvg", "mse", "mae", "ari", "nmi"};
  std::map<std::string, std::vector<double>> mv, rv;
  ReportInput report;
  MethodResult method{"HisCMCL (retrieval)", {}}, baseline{"ridge baseline", {}};
  std::vector<SectionMetrics> per_section;
  std::ostringstream csv;
  csv << "section,gene,symbol,pcc,p_value,mean,variance,ridge_pcc\n";
  csv.precision(6);
  for (auto& s : sections) {
    if (!fold_results.contains(s.id)) continue;
    const json& r = fold_results[s.id];
    metrics["sections"][s.id] = r["method"];
    metrics["baseline"]["ridge"]["sections"][s.id] = r["ridge"];
    SectionMetricsRow row{s.id}, rrow{s.id};
    auto fill = [&](const json& m, SectionMetricsRow& out, std::map<std::string, std::vector<double>>& acc) {
      out.acg = from_num(m["acg"]);
      out.heg = from_num(m["heg"]);
      out.hvg = from_num(m["hvg"]);
      out.mse = from_num(m["mse"]);
      out.mae = from_num(m["mae"]);
      out.n_spots = m["n_spots"];
      if (m.contains("ari")) {
        out.ari = from_num(m["ari"]);
        out.nmi = from_num(m["nmi"]);
      }
      for (auto& k : keys)
        if (m.contains(k)) acc[k].push_back(from_num(m[k]));
    };
    fill(r["method"], row, mv);
    fill(r["ridge"], rrow, rv);
    method.sections.push_back(row);
    baseline.sections.push_back(rrow);
    SectionMetrics sm;
    for (size_t g = 0; g < genes.size(); ++g) {
      sm.pcc.push_back(from_num(r["pcc"][g]));
      sm.p_value.push_back(from_num(r["p_value"][g]));
      csv << s.id << "," << genes[g] << "," << symbols[g] << "," << sm.pcc.back() << ","
          << sm.p_value.back() << "," << r["truth_mean"][g].get<double>() << ","
          << r["truth_var"][g].get<double>() << "," << from_num(r["ridge_pcc"][g]) << "\n";
    }
    per_section.push_back(sm);
    report.section_names.push_back(s.id);
    for (auto& h : r["heatmaps"]) report.heatmaps.push_back({s.id, h["gene"], h["path"]});
  }
  for (auto& [k, v] : mv) {
    MeanSd ms = mean_sd(v);
    metrics["mean"][k] = num(ms.mean);
    metrics["sd"][k] = num(ms.sd);
  }
  for (auto& [k, v] : rv) {
    MeanSd ms = mean_sd(v);
    metrics["baseline"]["ridge"]["mean"][k] = num(ms.mean);
    metrics["baseline"]["ridge"]["sd"][k] = num(ms.sd);
  }
  metrics["wall_seconds"] = wall;
  metrics = clean(metrics);
  write_text_file(opt.out / "metrics.json", metrics.dump(1));
  write_text_file(opt.out / "per_gene.csv", csv.str());

  report.title = opt.title.empty() ? "hiscmcl cross-validation: " + manifest.name : opt.title;
  report.config_name = cfg.name;
  report.dataset = manifest.name;
  report.n_sections = int64_t(method.sections.size());
  report.n_genes = int64_t(genes.size());
  report.wall_seconds = wall;
  report.extra_summary = {{"split", opt.split == "loso" ? "leave one section out" : "leave one patient out"},
                          {"encoder", cfg.encoder.name},
                          {"fusion", cfg.model.fusion},
                          {"epochs", std::to_string(cfg.train.epochs)},
                          {"retrieval", "top-" + std::to_string(cfg.predict.k) + ", " + cfg.predict.distance}};
  report.methods = {method, baseline};
  report.top_genes = rank_genes_by_log10p(symbols, per_section, 20);
  report.loss_curves = curves;
  write_report_html(opt.out / "report.html", report);
  return {metrics, opt.out / "report.html"};
}

std::string format_metrics_table(const json& metrics) {
  std::ostringstream ss;
  auto cell = [](const json& j, const char* k) {
    std::ostringstream c;
    if (j.contains(k) && j[k].is_number()) c << std::fixed << std::setprecision(3) << j[k].get<double>();
    else c << "  -  ";
    return c.str();
  };
  ss << std::left << std::setw(10) << "section" << " | " << std::setw(24) << "HisCMCL  ACG   HEG   HVG"
     << " | " << "ridge  ACG   HEG   HVG" << "\n";
  ss << std::string(72, '-') << "\n";
  const json& rs = metrics["baseline"]["ridge"]["sections"];
  for (auto it = metrics["sections"].begin(); it != metrics["sections"].end(); ++it) {
    const json& r = rs.contains(it.key()) ? rs[it.key()] : json::object();
    ss << std::left << std::setw(10) << it.key() << " |        " << cell(*it, "acg") << " "
       << cell(*it, "heg") << " " << cell(*it, "hvg") << " |      " << cell(r, "acg") << " "
       << cell(r, "heg") << " " << cell(r, "hvg") << "\n";
  }
  ss << std::string(72, '-') << "\n";
  const json& m = metrics.value("mean", json::object());
  const json& rm = metrics["baseline"]["ridge"].value("mean", json::object());
  ss << std::left << std::setw(10) << "mean" << " |        " << cell(m, "acg") << " " << cell(m, "heg")
     << " " << cell(m, "hvg") << " |      " << cell(rm, "acg") << " " << cell(rm, "heg") << " "
     << cell(rm, "hvg") << "\n";
  return ss.str();
}

}  // namespace hiscmcl
