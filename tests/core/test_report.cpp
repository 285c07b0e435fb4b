// HTML report: escaping, mean ± sd tables, loss-curve SVG geometry, atomic write.
#include <gtest/gtest.h>

#include <cmath>

#include "common/atomic_output.h"
#include "eval/report.h"
#include "test_util.h"

using namespace hiscmcl;

namespace {
bool has(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}
ReportInput sample_input() {
  ReportInput in;
  in.title = "her2st <cv> & \"friends\"";
  in.dataset = "her2st";
  in.config_name = "reference";
  in.n_sections = 2;
  in.n_genes = 785;
  in.wall_seconds = 123.45;
  SectionMetricsRow a{"B1", 0.2, 0.3, 0.25, 0.5, 0.6, 100, 0.4, 0.5};
  SectionMetricsRow b{"C1", 0.4, std::nan(""), 0.35, 0.7, 0.8, 200, kNoValue, kNoValue};
  in.methods.push_back({"HisCMCL", {a, b}});
  SectionMetricsRow ra{"B1", 0.1, 0.1, 0.1, 0.4, 0.5, 100, 0.2, 0.3};
  SectionMetricsRow rb{"C1", 0.1, 0.1, 0.1, 0.4, 0.5, 200, kNoValue, kNoValue};
  in.methods.push_back({"ridge", {ra, rb}});
  in.heatmaps.push_back({"B1", "FN1", "heatmaps/B1_FN1.png"});
  in.section_names = {"B1", "C1"};
  in.top_genes.push_back({"FN1<x>", 4.0, 0.4, 1});
  in.loss_curves.push_back({"fold B1", {{0, 1}, {10, 0}}});
  return in;
}
}  // namespace

TEST(Report, HtmlEscape) {
  EXPECT_EQ(html_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(html_escape("plain"), "plain");
}

TEST(Report, RendersSummaryTablesAndEscapes) {
  std::string html = render_report_html(sample_input());
  EXPECT_TRUE(has(html, "<title>her2st &lt;cv&gt; &amp; &quot;friends&quot;</title>"));
  EXPECT_FALSE(has(html, "<cv>"));
  EXPECT_TRUE(has(html, "123.5 s"));
  // ACG of the method: mean 0.3, sample sd sqrt(0.02) = 0.1414; it beats ridge (0.1 ± 0).
  EXPECT_TRUE(has(html, "<td class=\"best\">0.300 ± 0.141</td>"));
  EXPECT_TRUE(has(html, "<td>0.100 ± 0.000</td>"));
  // HEG keeps the NaN section, as the reference does; MSE: lower is better -> ridge wins.
  EXPECT_TRUE(has(html, "<td>NaN</td>"));
  EXPECT_TRUE(has(html, "<td class=\"best\">0.4000 ± 0.0000</td>"));
  // ARI of one labelled section: mean without sd; the unlabelled section shows a dash.
  EXPECT_TRUE(has(html, "<td class=\"best\">0.400</td>"));
  EXPECT_TRUE(has(html, "<td>—</td>"));
  EXPECT_TRUE(has(html, "<img src=\"heatmaps/B1_FN1.png\""));
  EXPECT_TRUE(has(html, "FN1&lt;x&gt;"));
  EXPECT_TRUE(has(html, "<td>4.00</td>"));
  EXPECT_TRUE(has(html, "<td class=\"l\">C1</td></tr>"));  // best section by index
  EXPECT_TRUE(has(html, "<svg"));
  // Per section: a row per method under the section's name, the section's best in bold.
  EXPECT_TRUE(has(html, "<td class=\"l\" rowspan=\"2\">B1</td><td rowspan=\"2\">100</td><td class=\"l\">HisCMCL</td>"
                        "<td class=\"best\">0.200</td>"));
  EXPECT_TRUE(has(html, "<tr><td class=\"l\">ridge</td><td>0.100</td>"));
  EXPECT_FALSE(has(html, "<th>ARI cl.</th>"));  // no section has published clusters
}

TEST(Report, LossSvgGeometry) {
  // 640x320, plot area x 60..490, y 14..280; loss range [0, 1] padded by 5% each side.
  std::string svg = loss_curves_svg({{"train", {{0, 1}, {10, 0}}}});
  EXPECT_TRUE(has(svg, "points=\"60.0,26.1 490.0,267.9 \"")) << svg;
  EXPECT_TRUE(has(svg, ">train</text>"));
  EXPECT_EQ(loss_curves_svg({}), "");
  EXPECT_EQ(loss_curves_svg({{"empty", {}}}), "");
}

TEST(Report, WritesAtomically) {
  test::TempDir dir;
  write_report_html(dir / "report.html", sample_input());
  std::string back = read_text_file(dir / "report.html");
  EXPECT_EQ(back, render_report_html(sample_input()));
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path)) (void)e, ++files;
  EXPECT_EQ(files, 1);  // no temporary left behind
}
