#include "pipeline/cv_outputs.h"

#include <optional>

#include <algorithm>
#include <functional>
#include <iomanip>
#include <map>
#include <sstream>

#include "common/atomic_output.h"
#include "common/crash_point.h"
#include "common/log.h"
#include "common/stage_key.h"
#include "eval/metrics.h"
#include "eval/report.h"
#include "pipeline/json_numbers.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace hiscmcl {
namespace {

const std::vector<std::string> kMetricKeys = {"acg", "heg", "hvg", "mse", "mae", "ari", "nmi", "ari_clusters", "nmi_clusters"};

using Samples = std::map<std::string, std::vector<double>>;

// Under the stacked predictor each held-out section also scores retrieval's own prediction before
// the blend (fold_stage): the learned model without the ridge half, on the same models.
constexpr const char* kRetrievalAloneLabel = "retrieval alone (the paper's predictor, before the blend)";

std::string method_label(const PredictConfig& p) {
  switch (p.predictor) {
    case PredictorKind::regression: return "HisCMCL (regression head)";
    case PredictorKind::stacked:
      if (p.stack_weight == 0.5) return "HisCMCL (retrieval + ridge, averaged)";
      if (p.stack_weight < 0) return "HisCMCL (retrieval + ridge, per-gene blend)";
      return "HisCMCL (retrieval + ridge, weight " + json(p.stack_weight).dump() + " on retrieval)";
    case PredictorKind::retrieval: break;
  }
  return "HisCMCL (retrieval)";
}

SectionMetricsRow metrics_row(const std::string& id, const json& m, Samples& acc) {
  SectionMetricsRow out{id};
  out.acg = number_or_nan(m["acg"]);
  out.heg = number_or_nan(m["heg"]);
  out.hvg = number_or_nan(m["hvg"]);
  out.mse = number_or_nan(m["mse"]);
  out.mae = number_or_nan(m["mae"]);
  out.n_spots = m["n_spots"];
  if (m.contains("ari")) {
    out.ari = number_or_nan(m["ari"]);
    out.nmi = number_or_nan(m["nmi"]);
  }
  if (m.contains("ari_clusters")) {
    out.ari_clusters = number_or_nan(m["ari_clusters"]);
    out.nmi_clusters = number_or_nan(m["nmi_clusters"]);
  }
  for (auto& k : kMetricKeys)
    if (m.contains(k)) acc[k].push_back(number_or_nan(m[k]));
  return out;
}

void put_mean_sd(json& at, const Samples& acc) {
  for (auto& [k, v] : acc) {
    MeanSd ms = mean_sd(v);
    at["mean"][k] = json_number(ms.mean);
    at["sd"][k] = json_number(ms.sd);
  }
}

json run_inputs(const CvContext& ctx, const std::vector<FoldOutcome>& folds, const CvReportInfo& info) {
  json keys = json::array();
  for (auto& f : folds) keys.push_back(f.key);
  return {{"folds", keys}, {"title", info.title}, {"dataset", info.dataset}, {"split", choice_name(info.split)},
          {"config", to_json(ctx.cfg)}};
}

// Per-marker and per-set PCC by held-out section, with their means, beside each baseline's:
// {"genes": {symbol: {"gene", "set", "sections", "mean", <baseline key>: {"sections", "mean"}...}},
//  "sets": {name: {"genes", "sections", "mean", <baseline key>: {...}...}}}. Rows for the report too,
// beside the first (fair) baseline.
json marker_metrics(const CvContext& ctx, const json& results, std::vector<MarkerRow>& rows) {
  json out = {{"genes", json::object()}, {"sets", json::object()}};
  const auto& genes = ctx.sections.front().genes;
  // value(result, "pcc" or "<baseline>_pcc")
  auto fill = [&](json& entry, MarkerRow& row, const std::function<json(const json&, const std::string&)>& value) {
    auto samples = [&](json& at, const std::string& field) {
      std::vector<double> v;
      at["sections"] = json::object();
      for (auto& s : ctx.sections) {
        if (!results.contains(s.id)) continue;
        v.push_back(number_or_nan(value(results[s.id], field)));
        at["sections"][s.id] = json_number(v.back());
      }
      at["mean"] = json_number(mean_sd(v).mean);
      return v;
    };
    row.method = samples(entry, "pcc");
    row.method_mean = mean_sd(row.method).mean;
    for (const auto& b : ridge_baselines()) {
      auto v = samples(entry[b.key], std::string(b.key) + "_pcc");
      if (&b == &ridge_baselines().front()) row.ridge = v, row.ridge_mean = mean_sd(v).mean;
    }
  };
  for (const auto& set : ctx.markers) {
    for (const auto& id : set.genes) {
      auto it = std::find(genes.begin(), genes.end(), id);
      if (it == genes.end()) continue;
      const size_t g = size_t(it - genes.begin());
      const std::string& name = ctx.symbols[g];
      if (out["genes"].contains(name)) continue;
      json entry = {{"gene", id}, {"set", set.name}};
      MarkerRow row{name, "gene"};
      fill(entry, row, [g](const json& r, const std::string& f) { return r.contains(f) ? r[f][g] : json(); });
      out["genes"][name] = entry;
      rows.push_back(row);
    }
  }
  for (const auto& set : ctx.markers) {
    json entry = {{"genes", set.genes}};
    MarkerRow row{set.name + " score", "set"};
    const std::string n = set.name;
    fill(entry, row, [n](const json& r, const std::string& f) {
      return r.contains("gene_sets") && r["gene_sets"].contains(n) ? r["gene_sets"][n].value(f, json()) : json();
    });
    out["sets"][set.name] = entry;
    rows.push_back(row);
  }
  return out;
}

// The metrics of an earlier run whose outputs are complete and made from the same inputs.
std::optional<json> up_to_date_metrics(const CvContext& ctx, const std::string& run_key) {
  const fs::path metrics_file = ctx.out / "metrics.json";
  if (!fs::exists(metrics_file) || !fs::exists(ctx.out / "per_gene.csv") || !fs::exists(ctx.out / "report.html"))
    return std::nullopt;
  try {
    json kept = json::parse(read_text_file(metrics_file));
    if (kept.value("run_key", "") == run_key) return kept;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

// How well the predicted sd ranks the errors, by section and on average.
json uncertainty_metrics(const json& results) {
  json out = {{"sections", json::object()}};
  std::vector<double> u;
  for (auto& [id, r] : results.items()) {
    const json v = r.value("uncertainty_spearman", json());
    out["sections"][id] = v;
    u.push_back(number_or_nan(v));
  }
  out["mean"] = json_number(mean_sd(u).mean);
  out["what"] = "per-gene Spearman between layers/sd and |prediction - truth|, mean over genes";
  return out;
}

// Every fold's held-out sections' results, its stage keys and its loss curve.
struct FoldsGathered {
  json results = json::object();  // by held-out section
  json fold_keys = json::object();
  std::vector<LossCurve> curves;
};

FoldsGathered gather_folds(const std::vector<FoldOutcome>& folds) {
  FoldsGathered g;
  for (auto& f : folds) {
    for (auto it = f.result["sections"].begin(); it != f.result["sections"].end(); ++it) g.results[it.key()] = *it;
    g.fold_keys[f.name] = {{"key", f.key}, {"model_key", f.model_key}};
    LossCurve c{"fold " + f.name, {}};
    for (auto& p : f.result["loss"]) c.points.emplace_back(p[0].get<double>(), number_or_nan(p[1]));
    g.curves.push_back(c);
  }
  return g;
}

std::string per_gene_csv_header() {
  std::string h = "section,gene,symbol,pcc,p_value,mean,variance";
  for (const auto& b : ridge_baselines()) h += "," + std::string(b.key) + "_pcc";
  return h + "\n";
}

// One held-out section's rows of per_gene.csv; returns its per-gene PCC and p-values.
SectionMetrics per_gene_rows(const CvContext& ctx, const std::string& id, const json& r, std::ostream& csv) {
  const auto& genes = ctx.sections.front().genes;
  SectionMetrics sm;
  for (size_t g = 0; g < genes.size(); ++g) {
    sm.pcc.push_back(number_or_nan(r["pcc"][g]));
    sm.p_value.push_back(number_or_nan(r["p_value"][g]));
    csv << id << "," << genes[g] << "," << ctx.symbols[g] << "," << sm.pcc.back() << "," << sm.p_value.back() << ","
        << r["truth_mean"][g].get<double>() << "," << r["truth_var"][g].get<double>();
    for (const auto& b : ridge_baselines()) csv << "," << number_or_nan(r[std::string(b.key) + "_pcc"][g]);
    csv << "\n";
  }
  return sm;
}

// The report's header: what ran, on what, for how long.
void describe_run(ReportInput& report, const CvContext& ctx, const CvReportInfo& info) {
  const RunConfig& cfg = ctx.cfg;
  report.title = info.title;
  report.config_name = cfg.name;
  report.dataset = info.dataset;
  report.n_genes = int64_t(ctx.sections.front().genes.size());
  report.wall_seconds = info.wall_seconds;
  report.extra_summary = {
      {"split", info.split == CvSplit::loso ? "leave one section out" : "leave one patient out"},
      {"encoder", cfg.encoder.name},
      {"fusion", choice_name(cfg.model.fusion)},
      {"epochs", std::to_string(cfg.train.epochs)},
      {"retrieval", "top-" + std::to_string(cfg.predict.k) + ", " + choice_name(cfg.predict.distance)}};
}

}  // namespace

json write_cv_outputs(const CvContext& ctx, const std::vector<FoldOutcome>& folds, const CvReportInfo& info) {
  const std::string run_key = stage_key(run_inputs(ctx, folds, info));
  const fs::path metrics_file = ctx.out / "metrics.json";
  if (std::optional<json> kept = up_to_date_metrics(ctx, run_key)) {
    spdlog::info("cv: every fold and the report are up to date; nothing rewritten");
    return *kept;
  }
  const auto& genes = ctx.sections.front().genes;
  const FoldsGathered gathered = gather_folds(folds);
  const json& results = gathered.results;

  json metrics = {{"split", choice_name(info.split)}, {"n_genes", genes.size()}, {"config", to_json(ctx.cfg)},
                  {"sections", json::object()}, {"folds", gathered.fold_keys}, {"run_key", run_key}};
  const auto& baselines = ridge_baselines();
  std::vector<Samples> bv(baselines.size());
  ReportInput report;
  // Rows of the report: the method, retrieval alone when the run blended, then the baselines.
  std::vector<MethodResult> methods = {{method_label(ctx.cfg.predict), {}}};
  bool retrieval_alone = false;
  for (auto& [id, r] : results.items()) retrieval_alone = retrieval_alone || r.contains(kRetrievalAloneKey);
  Samples rv;
  if (retrieval_alone) {
    methods.push_back({kRetrievalAloneLabel, {}});
    metrics["components"][kRetrievalAloneKey] = {{"label", kRetrievalAloneLabel}, {"sections", json::object()}};
  }
  const size_t first_baseline = methods.size();
  for (const auto& b : baselines) {
    methods.push_back({b.label, {}});
    metrics["baseline"][b.key] = {{"label", b.label}, {"sections", json::object()}, {"alpha", json::object()}};
  }
  for (auto& f : folds) {
    for (const auto& b : baselines)
      metrics["baseline"][b.key]["alpha"][f.name] = f.result.value(std::string(b.key) + "_alpha", json());
    if (f.result.contains("blend_weight")) metrics["blend_weight"][f.name] = f.result["blend_weight"];
  }
  Samples mv;
  std::vector<SectionMetrics> per_section;
  std::ostringstream csv;
  csv << per_gene_csv_header();
  csv.precision(6);
  for (auto& s : ctx.sections) {
    if (!results.contains(s.id)) continue;
    const json& r = results[s.id];
    metrics["sections"][s.id] = r["method"];
    methods[0].sections.push_back(metrics_row(s.id, r["method"], mv));
    for (size_t b = 0; b < baselines.size(); ++b) {
      metrics["baseline"][baselines[b].key]["sections"][s.id] = r[baselines[b].key];
      methods[first_baseline + b].sections.push_back(metrics_row(s.id, r[baselines[b].key], bv[b]));
    }
    if (r.contains(kRetrievalAloneKey)) {
      metrics["components"][kRetrievalAloneKey]["sections"][s.id] = r[kRetrievalAloneKey];
      methods[1].sections.push_back(metrics_row(s.id, r[kRetrievalAloneKey], rv));
    }
    per_section.push_back(per_gene_rows(ctx, s.id, r, csv));
    report.section_names.push_back(s.id);
    for (auto& h : r["heatmaps"]) report.heatmaps.push_back({s.id, h["gene"], h["path"]});
    if (r.contains("viewer")) report.viewers.push_back({s.id, r["viewer"].get<std::string>()});
  }
  metrics["uncertainty"] = uncertainty_metrics(results);
  if (!ctx.markers.empty()) {
    metrics["markers"] = marker_metrics(ctx, results, report.markers);
    metrics["n_markers"] = metrics["markers"]["genes"].size();  // of n_genes, scored with them
  }
  put_mean_sd(metrics, mv);
  for (size_t b = 0; b < baselines.size(); ++b) put_mean_sd(metrics["baseline"][baselines[b].key], bv[b]);
  if (retrieval_alone) put_mean_sd(metrics["components"][kRetrievalAloneKey], rv);
  metrics["wall_seconds"] = info.wall_seconds;
  metrics = json_clean(metrics);

  describe_run(report, ctx, info);
  report.n_sections = int64_t(methods[0].sections.size());
  report.methods = methods;
  report.top_genes = rank_genes_by_log10p(ctx.symbols, per_section, 20);
  report.loss_curves = gathered.curves;
  // metrics.json last: its run key marks the outputs complete.
  write_text_file(ctx.out / "per_gene.csv", csv.str());
  write_report_html(ctx.out / "report.html", report);
  crash_point("report.metrics_unwritten");
  write_text_file(metrics_file, metrics.dump(1));
  return metrics;
}

std::string format_metrics_table(const json& metrics) {
  std::ostringstream ss;
  auto cell = [](const json& j, const char* k) {
    std::ostringstream c;
    if (j.contains(k) && j[k].is_number()) c << std::fixed << std::setprecision(3) << j[k].get<double>();
    else c << "  -  ";
    return c.str();
  };
  // Columns: HisCMCL, retrieval alone when the run blended, then each baseline present in
  // metrics.json, in ridge_baselines() order.
  std::vector<std::pair<std::string, const json*>> cols = {{"HisCMCL", nullptr}};
  const json none = json::object();
  if (metrics.contains("components") && metrics["components"].contains(kRetrievalAloneKey))
    cols.emplace_back(kRetrievalAloneKey, &metrics["components"][kRetrievalAloneKey]);
  for (const auto& b : ridge_baselines())
    if (metrics.contains("baseline") && metrics["baseline"].contains(b.key))
      cols.emplace_back(b.key, &metrics["baseline"][b.key]);
  auto row = [&](const std::string& name, const std::string& section) {
    ss << std::left << std::setw(10) << name;
    for (auto& [label, at] : cols) {
      const json& src = at ? *at : metrics;
      const json m = section.empty() ? src.value("mean", none) : src.value("sections", none).value(section, none);
      ss << " | " << cell(m, "acg") << " " << cell(m, "heg") << " " << cell(m, "hvg");
    }
    ss << "\n";
  };
  ss << std::left << std::setw(10) << "";
  for (auto& [label, at] : cols) ss << " | " << std::left << std::setw(17) << label;
  ss << "\n" << std::left << std::setw(10) << "section";
  for (size_t c = 0; c < cols.size(); ++c) ss << " | ACG   HEG   HVG  ";
  const size_t width = 10 + 20 * cols.size();
  ss << "\n" << std::string(width, '-') << "\n";
  for (auto it = metrics["sections"].begin(); it != metrics["sections"].end(); ++it) row(it.key(), it.key());
  ss << std::string(width, '-') << "\n";
  row("mean", "");
  for (size_t c = 1; c < cols.size(); ++c)
    ss << cols[c].first << ": " << cols[c].second->value("label", "") << (c + 1 < cols.size() ? "; " : "\n");
  if (metrics.contains("uncertainty") && metrics["uncertainty"].contains("mean"))
    ss << "uncertainty: Spearman(sd, |error|) per gene, mean over sections " << cell(metrics["uncertainty"], "mean")
       << " (> 0: the sd ranks the errors)\n";
  if (metrics.contains("markers")) {
    ss << "markers, mean PCC (HisCMCL / ridge, crops + context):\n";
    for (const char* kind : {"genes", "sets"})
      for (auto& [name, m] : metrics["markers"][kind].items())
        ss << "  " << std::left << std::setw(24) << name << cell(m, "mean") << " / " << cell(m["ridge"], "mean") << "\n";
  }
  return ss.str();
}

}  // namespace hiscmcl
