// The HTML report a person reads (METHOD.md §8.12: report.html ties the run
// together). One self-contained page: run summary, per-section metrics of the method beside the
// baselines with mean ± sd (sample sd), heatmap images (relative paths), top genes by mean
// -log10 p (METHOD.md §8.9) and training-loss curves drawn as inline SVG. All text is HTML-escaped.
// Plain structs in, so the `cv` command fills them without this file knowing the pipeline.
#pragma once
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "eval/metrics.h"

namespace hiscmcl {

constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

struct SectionMetricsRow {
  std::string section;
  double acg = kNoValue, heg = kNoValue, hvg = kNoValue, mse = kNoValue, mae = kNoValue;
  int64_t n_spots = 0;
  double ari = kNoValue, nmi = kNoValue;  // NaN where the section has no region labels
  double ari_clusters = kNoValue, nmi_clusters = kNoValue;  // against published clusters, NaN where none
};

struct MethodResult {
  std::string method;  // "HisCMCL (retrieval)", "ridge baseline", ...
  std::vector<SectionMetricsRow> sections;
};

struct HeatmapImage {
  std::string section, gene, relative_path;  // path relative to the report's folder
};

struct LossCurve {
  std::string name;                                 // "fold B1", "train", ...
  std::vector<std::pair<double, double>> points;    // (epoch, loss)
};

// A marker gene or gene-set score, per section (in section_names order) for the method and ridge.
struct MarkerRow {
  std::string name, kind;  // kind: "gene" or "set"
  std::vector<double> method, ridge;
  double method_mean = kNoValue, ridge_mean = kNoValue;
};

struct ReportInput {
  std::string title = "hiscmcl report";
  std::string config_name, dataset;
  int64_t n_sections = 0, n_genes = 0;
  double wall_seconds = kNoValue;
  std::vector<std::pair<std::string, std::string>> extra_summary;  // more (key, value) lines
  std::vector<MethodResult> methods;  // the method first, then the baselines
  std::vector<HeatmapImage> heatmaps;
  std::vector<std::pair<std::string, std::string>> viewers;  // (section, viewers/<id>/index.html)
  std::vector<GeneRank> top_genes;
  std::vector<std::string> section_names;  // GeneRank::best_section indexes this
  std::vector<LossCurve> loss_curves;
  std::vector<MarkerRow> markers;  // empty: no markers table
};

std::string html_escape(const std::string& s);
// The loss curves as one <svg> element (empty string when there are no points).
std::string loss_curves_svg(const std::vector<LossCurve>& curves, int width = 640, int height = 320);
std::string render_report_html(const ReportInput& in);
// Writes render_report_html(in) atomically.
void write_report_html(const std::filesystem::path& path, const ReportInput& in);

}  // namespace hiscmcl
