#include "synth/synth_dataset.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "common/atomic_output.h"
#include "common/output_folder.h"
#include "common/error.h"
#include "common/log.h"
#include "common/progress.h"
#include "data/normalize.h"
#include "synth/he_render.h"
#include "synth/noise.h"

namespace fs = std::filesystem;

namespace hiscmcl::synth {
namespace {

const char* kLabelNames[kNumCompartments] = {"connective tissue", "invasive cancer",
                                             "immune infiltrate", "adipose tissue", "breast glands"};

uint64_t section_seed(uint64_t seed, int index) { return mix64(seed * 1000003ULL + uint64_t(index) + 1); }

std::string fmt(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

void write_gzip(const fs::path& path, const std::string& text) {
  gzFile f = gzopen(path.c_str(), "wb6");
  if (!f) throw InputError(path.string(), "cannot open for writing");
  size_t off = 0;
  while (off < text.size()) {
    unsigned chunk = unsigned(std::min<size_t>(text.size() - off, 1u << 20));
    if (gzwrite(f, text.data() + off, chunk) != int(chunk)) {
      gzclose(f);
      throw InputError(path.string(), "gzip write failed");
    }
    off += chunk;
  }
  if (gzclose(f) != Z_OK) throw InputError(path.string(), "gzip close failed");
}

void write_plain(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  if (!f) throw InputError(path.string(), "cannot open for writing");
  f << text;
  f.close();  // a full disk shows at the last flush
  if (!f) throw InputError(path.string(), "write failed (disk full?)");
}

std::string counts_table(const SynthSection& s, const GenePanel& P) {
  std::string t;
  t.reserve(s.counted.size() * P.genes.size() * 3 + 4096);
  for (const auto& g : P.genes) t += "\t" + g;  // empty first field, then genes
  t += "\n";
  const size_t G = P.genes.size();
  char buf[16];
  for (size_t r = 0; r < s.counted.size(); ++r) {
    t += s.spots[size_t(s.counted[r])].id();
    for (size_t g = 0; g < G; ++g) {
      auto res = std::to_chars(buf, buf + sizeof buf, s.counts[r * G + g]);
      t += '\t';
      t.append(buf, res.ptr);
    }
    t += '\n';
  }
  return t;
}

std::string spot_table(const SynthSection& s) {
  std::string t = "x\ty\tnew_x\tnew_y\tpixel_x\tpixel_y\tselected\n";
  for (const auto& p : s.spots)
    t += std::to_string(p.x) + "\t" + std::to_string(p.y) + "\t" + fmt(p.new_x, 3) + "\t" +
         fmt(p.new_y, 3) + "\t" + fmt(p.pixel_x, 2) + "\t" + fmt(p.pixel_y, 2) + "\t" +
         (p.selected ? "1" : "0") + "\n";
  return t;
}

// Same columns as her2st's data/ST-pat/lbl/*_labeled_coordinates.tsv (pixels in this image).
std::string label_table(const SynthSection& s) {
  std::string t = "Row.names\tx\ty\tpixel_x\tpixel_y\tlabel\n";
  for (int i : s.counted) {
    const auto& p = s.spots[size_t(i)];
    t += p.id() + "\t" + fmt(p.new_x, 3) + "\t" + fmt(p.new_y, 3) + "\t" + fmt(p.pixel_x, 2) +
         "\t" + fmt(p.pixel_y, 2) + "\t" + p.label + "\n";
  }
  return t;
}

void check_out_folder(const fs::path& out) {
  if (!fs::exists(out)) return;
  if (!fs::is_directory(out)) throw InputError(out.string(), "exists and is not a folder");
  if (fs::is_empty(out)) return;
  const fs::path m = out / "manifest.toml";
  bool ours = false;
  if (fs::exists(m)) {
    std::ifstream f(m);
    std::string first;
    std::getline(f, first);
    ours = first == "name = \"synthetic\"";
  }
  if (!ours)
    throw InputError(out.string(),
                     "folder is not empty and holds no earlier synth output; choose a new or empty folder");
}

}  // namespace

void validate_synth_options(const SynthOptions& o) {
  if (o.sections < 1 || o.sections > 99) throw InputError("--sections", "must be between 1 and 99");
  if (o.grid < 4 || o.grid > 40) throw InputError("--grid", "must be between 4 and 40 spots per side");
  if (o.genes < 20 || o.genes > 5000) throw InputError("--genes", "must be between 20 and 5000");
  if (!(o.um_per_px >= 0.25 && o.um_per_px <= 2.0))
    throw InputError("--um-per-px", "must be between 0.25 and 2");
  if (o.jpeg_quality < 10 || o.jpeg_quality > 100)
    throw InputError("jpeg_quality", "must be between 10 and 100");
}

SynthSection synthesize_section(const SynthOptions& o, const GenePanel& panel, int index,
                                bool render_image) {
  validate_synth_options(o);
  SynthSection s;
  s.index = index;
  s.id = "S" + std::to_string(index + 1);
  const int patient_index = o.patient_per_section ? index : index % 2;
  s.patient = "P" + std::to_string(patient_index + 1);
  const uint64_t sseed = section_seed(o.seed, index);
  std::mt19937_64 rng(mix64(sseed ^ 0xc0ffeeULL));
  std::uniform_real_distribution<double> U(0.0, 1.0);

  // ST 1k-array geometry: 100 um spots, 200 um apart, one pitch of margin around the grid.
  s.pitch_px = 200.0 / o.um_per_px;
  s.spot_diameter_px = 100.0 / o.um_per_px;
  const int size = int(std::lround((o.grid + 1) * s.pitch_px));
  LayoutParams lp;
  lp.width = lp.height = size;
  lp.um_per_px = o.um_per_px;
  lp.tissue_cx = size * (0.5 + 0.05 * (U(rng) - 0.5));
  lp.tissue_cy = size * (0.5 + 0.05 * (U(rng) - 0.5));
  lp.tissue_rx = size * (0.40 + 0.06 * U(rng));
  lp.tissue_ry = size * (0.40 + 0.06 * U(rng));
  s.layout = build_tissue_layout(lp, sseed);
  if (render_image) s.image = render_he(s.layout, random_stain(sseed));

  // Spots: the grid, slightly offset and jittered like a real detector's output.
  const double ox = s.pitch_px + 6 * (U(rng) - 0.5), oy = s.pitch_px + 6 * (U(rng) - 0.5);
  const double r = 0.5 * s.spot_diameter_px;
  std::vector<SynthSpot> all;
  for (int j = 0; j < o.grid; ++j)
    for (int i = 0; i < o.grid; ++i) {
      SynthSpot p;
      p.x = i + 2;
      p.y = j + 2;
      double jx = 3 * (U(rng) - 0.5), jy = 3 * (U(rng) - 0.5);
      p.pixel_x = ox + i * s.pitch_px + jx;
      p.pixel_y = oy + j * s.pitch_px + jy;
      p.new_x = p.x + jx / s.pitch_px;
      p.new_y = p.y + jy / s.pitch_px;
      p.spot = measure_composition(s.layout, p.pixel_x, p.pixel_y, r);
      p.ring = measure_composition(s.layout, p.pixel_x, p.pixel_y, 3 * r, r);
      p.selected = p.spot.tissue >= 0.5;
      int best = int(std::max_element(p.spot.frac.begin(), p.spot.frac.end()) - p.spot.frac.begin());
      p.label = kLabelNames[best];
      all.push_back(p);
    }
  // Keep tissue spots, and off-tissue spots next to tissue as selected = 0 rows.
  auto near_tissue = [&](int i, int j) {
    for (int dj = -1; dj <= 1; ++dj)
      for (int di = -1; di <= 1; ++di) {
        int a = i + di, b = j + dj;
        if (a >= 0 && b >= 0 && a < o.grid && b < o.grid && all[size_t(b) * o.grid + a].selected) return true;
      }
    return false;
  };
  for (int j = 0; j < o.grid; ++j)
    for (int i = 0; i < o.grid; ++i) {
      const SynthSpot& p = all[size_t(j) * o.grid + i];
      if (p.selected || near_tissue(i, j)) {
        if (p.selected) s.counted.push_back(int(s.spots.size()));
        s.spots.push_back(p);
      }
    }
  if (s.counted.empty()) throw std::runtime_error("synth: section " + s.id + " has no tissue spots");

  for (int i : s.counted) s.activity.push_back(programme_activity(s.spots[size_t(i)].spot, s.spots[size_t(i)].ring));
  std::vector<float> scale = patient_gene_scale(panel, o.seed, patient_index);
  s.counts = sample_counts(panel, s.activity, scale, rng);
  for (const auto& a : s.activity) {
    std::vector<double> e = expected_proportions(panel, a, scale);
    s.expected.insert(s.expected.end(), e.begin(), e.end());
  }
  return s;
}

SectionMetrics noise_ceiling(const SynthSection& s, const GenePanel& panel) {
  const int64_t n = int64_t(s.counted.size()), G = int64_t(panel.genes.size());
  Matrix counts(n, G), truth(n, G);
  for (size_t k = 0; k < size_t(n * G); ++k) {
    counts.data[k] = float(s.counts[k]);
    truth.data[k] = float(s.expected[k]);
  }
  SectionMetrics m = evaluate_section(normalize_per_spot(truth), normalize_per_spot(counts));
  // A noise gene's truth is constant (its PCC is rounding noise or NaN): no predictor beats 0 on
  // it in expectation, so it counts as 0, as a good prediction's would on average.
  for (int64_t g = 0; g < G; ++g)
    if (panel.programme[size_t(g)] < 0) m.pcc[size_t(g)] = 0.0;
  m.acg = nan_mean(m.pcc);
  auto heg = top_indices(m.truth_mean, 50), hvg = top_indices(m.truth_var, 50);
  m.heg = mean_at(m.pcc, heg, false);
  m.heg_nan_dropped = mean_at(m.pcc, heg, true);
  m.hvg = mean_at(m.pcc, hvg, true);
  return m;
}

SynthResult generate_synthetic_dataset(const SynthOptions& o, const fs::path& out) {
  validate_synth_options(o);
  check_out_folder(out);
  check_output_folder(out, "synth", {}, "manifest.toml");  // and never the current directory
  auto t0 = std::chrono::steady_clock::now();
  SynthResult res;
  GenePanel panel = make_gene_panel(o.genes, o.seed);
  res.genes = panel.genes;

  AtomicPath folder(out);
  const fs::path tmp = folder.temp();
  fs::create_directories(tmp);
  write_output_marker(tmp, "synth");
  std::string manifest = "name = \"synthetic\"\n";
  manifest += "# hiscmcl synth --sections " + std::to_string(o.sections) + " --seed " +
              std::to_string(o.seed) + " --grid " + std::to_string(o.grid) + " --genes " +
              std::to_string(o.genes) + " --um-per-px " + fmt(o.um_per_px, 3) + "\n";
  ProgressBar bar("synth", o.sections, "section");
  for (int k = 0; k < o.sections; ++k) {
    auto ts = std::chrono::steady_clock::now();
    SynthSection s = synthesize_section(o, panel, k, true);
    write_gzip(tmp / (s.id + "_counts.tsv.gz"), counts_table(s, panel));
    write_plain(tmp / (s.id + "_spots.tsv"), spot_table(s));
    if (o.write_labels) write_plain(tmp / (s.id + "_labels.tsv"), label_table(s));
    cv::Mat bgr;
    cv::cvtColor(s.image, bgr, cv::COLOR_RGB2BGR);
    const fs::path jpg = tmp / (s.id + ".jpg");
    if (!cv::imwrite(jpg.string(), bgr, {cv::IMWRITE_JPEG_QUALITY, o.jpeg_quality}))
      throw InputError(jpg.string(), "cannot write JPEG");

    manifest += "\n[[section]]\nid = \"" + s.id + "\"\npatient = \"" + s.patient +
                "\"\nformat = \"st_legacy\"\ncounts = \"" + s.id + "_counts.tsv.gz\"\nspots = \"" +
                s.id + "_spots.tsv\"\nimage = \"" + s.id + ".jpg\"\n";
    if (o.write_labels) manifest += "labels = \"" + s.id + "_labels.tsv\"\n";
    manifest += "spot_diameter_px = " + fmt(s.spot_diameter_px, 3) + "\num_per_px = " +
                fmt(o.um_per_px, 3) + "\n";
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - ts).count();
    res.section_ids.push_back(s.id);
    res.spots_per_section.push_back(int(s.counted.size()));
    res.seconds_per_section.push_back(secs);
    res.ceiling.push_back(noise_ceiling(s, panel));
    spdlog::debug("synth: {} ({}) {}x{} px, {} spots, {:.2f} s", s.id, s.patient, s.layout.width,
                  s.layout.height, s.counted.size(), secs);
    bar.advance();
  }
  write_plain(tmp / "manifest.toml", manifest);
  nlohmann::json ceiling = {
      {"what", "the noise-free expected expression scored as a prediction against the counts "
               "(per-spot normalisation, as cv): no predictor can beat it on average"},
      {"sections", nlohmann::json::object()}};
  double sums[3] = {0, 0, 0};
  for (size_t k = 0; k < res.ceiling.size(); ++k) {
    const SectionMetrics& m = res.ceiling[k];
    ceiling["sections"][res.section_ids[k]] = {{"acg", m.acg}, {"heg", m.heg}, {"hvg", m.hvg}};
    sums[0] += m.acg, sums[1] += m.heg, sums[2] += m.hvg;
  }
  const double n = double(res.ceiling.size());
  ceiling["mean"] = {{"acg", sums[0] / n}, {"heg", sums[1] / n}, {"hvg", sums[2] / n}};
  write_plain(tmp / "ceiling.json", ceiling.dump(2) + "\n");
  bar.finish();
  folder.commit();
  res.manifest = out / "manifest.toml";
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace hiscmcl::synth
