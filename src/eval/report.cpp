#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "common/atomic_output.h"

namespace hiscmcl {
namespace {

std::string fmt(double v, const char* f = "%.3f") {
  if (std::isnan(v)) return "NaN";
  char buf[48];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

struct MetricDef {
  const char* name;
  double SectionMetricsRow::*field;
  bool higher_is_better;
  const char* format;
  bool optional;  // NaN = not applicable (no region labels): left out of mean ± sd
};
const MetricDef kMetrics[] = {
    {"ACG", &SectionMetricsRow::acg, true, "%.3f", false},
    {"HEG", &SectionMetricsRow::heg, true, "%.3f", false},
    {"HVG", &SectionMetricsRow::hvg, true, "%.3f", false},
    {"MSE", &SectionMetricsRow::mse, false, "%.4f", false},
    {"MAE", &SectionMetricsRow::mae, false, "%.4f", false},
    {"ARI", &SectionMetricsRow::ari, true, "%.3f", true},
    {"NMI", &SectionMetricsRow::nmi, true, "%.3f", true},
    {"ARI cl.", &SectionMetricsRow::ari_clusters, true, "%.3f", true},
    {"NMI cl.", &SectionMetricsRow::nmi_clusters, true, "%.3f", true}};

bool metric_present(const ReportInput& in, const MetricDef& m) {
  for (const auto& method : in.methods)
    for (const auto& s : method.sections)
      if (!std::isnan(s.*(m.field))) return true;
  return false;
}

MeanSd metric_mean_sd(const MethodResult& method, const MetricDef& m) {
  std::vector<double> v;
  for (const auto& s : method.sections)
    if (!(m.optional && std::isnan(s.*(m.field)))) v.push_back(s.*(m.field));
  return mean_sd(v);
}

const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

const char* kStyle = R"(<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:right}
th{background:#f4f4f4}td.l,th.l{text-align:left}
tr.mean td{font-weight:600;background:#fafafa}
td.best{font-weight:700;color:#0a5}
dl.summary{display:grid;grid-template-columns:max-content auto;gap:.2em 1.2em}
dl.summary dt{color:#666}dl.summary dd{margin:0}
.figs{display:flex;flex-wrap:wrap;gap:1em}
figure{margin:0;max-width:100%}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}
.note{color:#666;font-size:.88em}
</style>)";

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string loss_curves_svg(const std::vector<LossCurve>& curves, int width, int height) {
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const auto& c : curves)
    for (auto [x, y] : c.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  if (x0 > x1) return "";
  if (x1 == x0) x0 -= 0.5, x1 += 0.5;
  if (y1 == y0) y0 -= 0.5, y1 += 0.5;
  const double pad = (y1 - y0) * 0.05;
  y0 -= pad, y1 += pad;
  const int left = 60, right = 150, top = 14, bottom = 40;
  const double pw = width - left - right, ph = height - top - bottom;
  auto sx = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  auto sy = [&](double y) { return top + (y1 - y) / (y1 - y0) * ph; };
  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\" viewBox=\"0 0 " << width << ' ' << height << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  o << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw << "\" height=\"" << ph
    << "\" fill=\"none\" stroke=\"#999\"/>\n";
  for (int i = 0; i <= 4; ++i) {  // grid and tick labels
    double yv = y0 + (y1 - y0) * i / 4, xv = x0 + (x1 - x0) * i / 4;
    o << "<line x1=\"" << left << "\" x2=\"" << left + pw << "\" y1=\"" << sy(yv) << "\" y2=\""
      << sy(yv) << "\" stroke=\"#eee\"/>";
    o << "<text x=\"" << left - 6 << "\" y=\"" << sy(yv) + 4 << "\" text-anchor=\"end\">"
      << fmt(yv, "%.3g") << "</text>";
    o << "<text x=\"" << sx(xv) << "\" y=\"" << top + ph + 16 << "\" text-anchor=\"middle\">"
      << fmt(xv, "%.4g") << "</text>\n";
  }
  o << "<text x=\"" << left + pw / 2 << "\" y=\"" << height - 6
    << "\" text-anchor=\"middle\">epoch</text>";
  o << "<text transform=\"translate(14," << top + ph / 2
    << ") rotate(-90)\" text-anchor=\"middle\">loss</text>\n";
  for (size_t k = 0; k < curves.size(); ++k) {
    const char* colour = kPalette[k % 10];
    o << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.8\" points=\"";
    for (auto [x, y] : curves[k].points)
      if (std::isfinite(x) && std::isfinite(y)) o << fmt(sx(x), "%.1f") << ',' << fmt(sy(y), "%.1f") << ' ';
    o << "\"/>\n";
    const double ly = top + 8 + 16.0 * double(k);
    o << "<line x1=\"" << left + pw + 10 << "\" x2=\"" << left + pw + 28 << "\" y1=\"" << ly
      << "\" y2=\"" << ly << "\" stroke=\"" << colour << "\" stroke-width=\"2\"/>";
    o << "<text x=\"" << left + pw + 32 << "\" y=\"" << ly + 4 << "\">"
      << html_escape(curves[k].name) << "</text>\n";
  }
  o << "</svg>";
  return o.str();
}

std::string render_report_html(const ReportInput& in) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>"
    << html_escape(in.title) << "</title>\n" << kStyle << "</head><body>\n";
  o << "<h1>" << html_escape(in.title) << "</h1>\n";

  o << "<h2>Run summary</h2>\n<dl class=\"summary\">\n";
  auto item = [&](const std::string& k, const std::string& v) {
    o << "<dt>" << html_escape(k) << "</dt><dd>" << html_escape(v) << "</dd>\n";
  };
  if (!in.dataset.empty()) item("dataset", in.dataset);
  if (!in.config_name.empty()) item("configuration", in.config_name);
  item("sections", std::to_string(in.n_sections));
  item("genes", std::to_string(in.n_genes));
  if (!std::isnan(in.wall_seconds)) item("wall time", fmt(in.wall_seconds, "%.1f") + " s");
  for (const auto& [k, v] : in.extra_summary) item(k, v);
  o << "</dl>\n";

  std::vector<const MetricDef*> shown;
  for (const auto& m : kMetrics)
    if (metric_present(in, m)) shown.push_back(&m);

  if (!in.methods.empty()) {
    o << "<h2>Metrics: mean ± sd over sections</h2>\n<table><tr><th class=\"l\">method</th>";
    for (auto* m : shown) o << "<th>" << m->name << "</th>";
    o << "</tr>\n";
    for (const auto& method : in.methods) {
      o << "<tr><td class=\"l\">" << html_escape(method.method) << "</td>";
      for (auto* m : shown) {
        MeanSd ms = metric_mean_sd(method, *m);
        bool best = in.methods.size() > 1 && !std::isnan(ms.mean);
        for (const auto& other : in.methods) {
          double v = metric_mean_sd(other, *m).mean;
          if (!std::isnan(v) && (m->higher_is_better ? v > ms.mean : v < ms.mean)) best = false;
        }
        if (m->optional && std::isnan(ms.mean)) {
          o << "<td>—</td>";
          continue;
        }
        o << "<td" << (best ? " class=\"best\"" : "") << ">" << fmt(ms.mean, m->format);
        if (!std::isnan(ms.sd)) o << " ± " << fmt(ms.sd, m->format);
        o << "</td>";
      }
      o << "</tr>\n";
    }
    o << "</table>\n<p class=\"note\">ACG: mean PCC over all genes (NaN dropped); HEG: top-50 "
         "genes by mean expression (NaN kept, as the reference); HVG: top-50 by variance; "
         "sd is the sample sd over sections (a NaN section makes the mean NaN, except ARI/NMI, "
         "which average the labelled sections). ARI/NMI: k-means of the predicted expression (9 principal "
         "components, k = number of labels) against the pathologist's region labels; ARI cl./NMI cl.: "
         "against the published expression clusters. Best mean per column in bold.</p>\n";

    // Per section: one row per (section, method), one column per metric, so that the table stays
    // as wide as the one above however many methods there are. Best of each section in bold.
    std::vector<std::string> sections;
    for (const auto& method : in.methods)
      for (const auto& s : method.sections)
        if (std::find(sections.begin(), sections.end(), s.section) == sections.end())
          sections.push_back(s.section);
    o << "<h2>Metrics per section</h2>\n<table>\n<tr><th class=\"l\">section</th><th>spots</th>"
         "<th class=\"l\">method</th>";
    for (auto* m : shown) o << "<th>" << m->name << "</th>";
    o << "</tr>\n";
    for (const auto& name : sections) {
      int64_t n_spots = 0;
      std::vector<const SectionMetricsRow*> rows;
      for (const auto& method : in.methods) {
        const SectionMetricsRow* r = nullptr;
        for (const auto& s : method.sections)
          if (s.section == name) r = &s;
        if (r && r->n_spots) n_spots = r->n_spots;
        rows.push_back(r);
      }
      for (size_t k = 0; k < rows.size(); ++k) {
        o << "<tr>";
        if (k == 0)
          o << "<td class=\"l\" rowspan=\"" << rows.size() << "\">" << html_escape(name) << "</td><td rowspan=\""
            << rows.size() << "\">" << n_spots << "</td>";
        o << "<td class=\"l\">" << html_escape(in.methods[k].method) << "</td>";
        for (auto* m : shown) {
          const double v = rows[k] ? rows[k]->*(m->field) : kNoValue;
          bool best = rows.size() > 1 && !std::isnan(v);
          for (auto* other : rows) {
            const double w = other ? other->*(m->field) : kNoValue;
            if (!std::isnan(w) && (m->higher_is_better ? w > v : w < v)) best = false;
          }
          o << "<td" << (best ? " class=\"best\"" : "") << ">"
            << (std::isnan(v) && m->optional ? "—" : fmt(v, m->format)) << "</td>";
        }
        o << "</tr>\n";
      }
    }
    o << "</table>\n";
  }

  if (!in.markers.empty()) {
    o << "<h2>Marker genes and gene-set scores (PCC: HisCMCL / ridge)</h2>\n<table><tr><th class=\"l\">marker</th>"
         "<th class=\"l\">kind</th>";
    for (const auto& s : in.section_names) o << "<th>" << html_escape(s) << "</th>";
    o << "<th>mean</th></tr>\n";
    for (const auto& m : in.markers) {
      o << "<tr><td class=\"l\">" << html_escape(m.name) << "</td><td class=\"l\">" << html_escape(m.kind) << "</td>";
      for (size_t i = 0; i < in.section_names.size(); ++i)
        o << "<td>" << fmt(i < m.method.size() ? m.method[i] : kNoValue) << " / "
          << fmt(i < m.ridge.size() ? m.ridge[i] : kNoValue) << "</td>";
      o << "<td><b>" << fmt(m.method_mean) << "</b> / " << fmt(m.ridge_mean) << "</td></tr>\n";
    }
    o << "</table>\n<p class=\"note\">A gene-set score is the mean z-score of its genes over a section's "
         "spots, computed alike on predicted and measured expression; its PCC says whether the prediction "
         "finds where the set is high. Heatmaps of every marker are below.</p>\n";
  }

  if (!in.top_genes.empty()) {
    o << "<h2>Best-predicted genes (mean −log10 p over sections)</h2>\n<table><tr><th>rank</th>"
         "<th class=\"l\">gene</th><th>mean −log10 p</th><th>mean PCC</th>"
         "<th class=\"l\">best section</th></tr>\n";
    for (size_t i = 0; i < in.top_genes.size(); ++i) {
      const GeneRank& g = in.top_genes[i];
      std::string best = g.best_section >= 0 && size_t(g.best_section) < in.section_names.size()
                             ? in.section_names[size_t(g.best_section)]
                             : "";
      o << "<tr><td>" << i + 1 << "</td><td class=\"l\">" << html_escape(g.gene) << "</td><td>"
        << fmt(g.mean_neg_log10_p, "%.2f") << "</td><td>" << fmt(g.mean_pcc) << "</td><td class=\"l\">"
        << html_escape(best) << "</td></tr>\n";
    }
    o << "</table>\n";
  }

  if (!in.viewers.empty()) {
    o << "<h2>Slide viewers</h2>\n<p>Each held-out section's prediction over its slide, zoomable, with the measured "
         "value beside the predicted one (opens from this folder, no network).</p>\n<ul>\n";
    for (const auto& [section, path] : in.viewers)
      o << "<li><a href=\"" << html_escape(path) << "\">" << html_escape(section) << "</a></li>\n";
    o << "</ul>\n";
  }

  if (!in.heatmaps.empty()) {
    o << "<h2>Heatmaps (predicted | measured)</h2>\n";
    std::vector<std::string> sections;
    for (const auto& h : in.heatmaps)
      if (std::find(sections.begin(), sections.end(), h.section) == sections.end())
        sections.push_back(h.section);
    for (const auto& s : sections) {
      o << "<h3>" << html_escape(s) << "</h3>\n<div class=\"figs\">\n";
      for (const auto& h : in.heatmaps) {
        if (h.section != s) continue;
        o << "<figure><img src=\"" << html_escape(h.relative_path) << "\" alt=\""
          << html_escape(h.gene + " in " + h.section) << "\" loading=\"lazy\"><figcaption>"
          << html_escape(h.gene) << "</figcaption></figure>\n";
      }
      o << "</div>\n";
    }
  }

  std::string svg = loss_curves_svg(in.loss_curves);
  if (!svg.empty()) o << "<h2>Training loss</h2>\n" << svg << "\n";

  o << "<p class=\"note\">Generated by hiscmcl.</p>\n</body></html>\n";
  return o.str();
}

void write_report_html(const std::filesystem::path& path, const ReportInput& in) {
  write_text_file(path, render_report_html(in));
}

}  // namespace hiscmcl
