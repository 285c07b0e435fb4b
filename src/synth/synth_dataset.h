// `hiscmcl synth` as a library (the demo calls it): writes N synthetic sections in the legacy ST
// layout the readers parse, plus a manifest:
//   DIR/<id>_counts.tsv.gz  gzip TSV: header "" + genes; rows "XxY" then integer counts
//   DIR/<id>_spots.tsv      x y new_x new_y pixel_x pixel_y selected (selected=0: off tissue)
//   DIR/<id>.jpg            the H&E image (1 um/px by default: spot 100 px, pitch 200 px)
//   DIR/<id>_labels.tsv     dominant region per spot, her2st label layout (optional)
//   DIR/manifest.toml       name = "synthetic", one [[section]] per id
//   DIR/ceiling.json        noise ceiling per section (ACG/HEG/HVG of the noise-free truth)
// Ids S1..SN; patients alternate P1, P2 (or one patient per section). The same options give
// byte-identical files for any thread count. The folder is written whole or not at all.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "eval/metrics.h"
#include "synth/expression.h"
#include "synth/tissue_layout.h"

namespace hiscmcl::synth {

struct SynthOptions {
  int sections = 4;
  uint64_t seed = 1;
  int grid = 14;                      // spots per side of the square ST array
  int genes = 120;
  double um_per_px = 1.0;             // image resolution (0.25..2)
  bool patient_per_section = false;   // false: P1, P2, P1, ...; true: P1, P2, P3, ...
  bool write_labels = true;
  int jpeg_quality = 90;
};

// InputError (naming the option) when an option is out of range.
void validate_synth_options(const SynthOptions& o);

struct SynthSpot {
  int x = 0, y = 0;                    // array coordinates
  double new_x = 0, new_y = 0;         // sub-spot array coordinates
  double pixel_x = 0, pixel_y = 0;     // centre in image pixels
  bool selected = false;               // under tissue (has a counts row)
  Composition spot, ring;              // ground truth under the spot and in the ring around it
  std::string label;                   // dominant region (her2st names)
  std::string id() const { return std::to_string(x) + "x" + std::to_string(y); }
};

struct SynthSection {
  std::string id, patient;
  int index = 0;
  double spot_diameter_px = 0, pitch_px = 0;
  TissueLayout layout;
  cv::Mat image;                       // RGB; empty unless rendered
  std::vector<SynthSpot> spots;        // every row of the spot table
  std::vector<int> counted;            // indices into spots that have counts (selected), in order
  std::vector<Activity> activity;      // per counted spot
  std::vector<int32_t> counts;         // counted x genes, row-major
  std::vector<double> expected;        // counted x genes: noise-free share of each gene
};

// One section in memory (index 0-based). render_image = false skips the H&E (tests of the
// expression model); counts are identical either way.
SynthSection synthesize_section(const SynthOptions& o, const GenePanel& panel, int index,
                                bool render_image = true);

// The noise ceiling: the noise-free expected expression scored as a prediction against the
// measured counts (both normalised per spot, as cv evaluates). No predictor from the image can
// beat it on average; it says how much of the gap to 1 is noise. Noise genes count as PCC 0
// (their truth is constant, so no predictor beats 0 on them in expectation).
SectionMetrics noise_ceiling(const SynthSection& s, const GenePanel& panel);

struct SynthResult {
  std::filesystem::path manifest;
  std::vector<std::string> section_ids;
  std::vector<std::string> genes;
  std::vector<int> spots_per_section;  // counted spots
  std::vector<double> seconds_per_section;
  std::vector<SectionMetrics> ceiling;  // per section, see noise_ceiling
  double seconds = 0;
};

// Writes the dataset into `out` (created, or replaced when it holds an earlier synth output;
// any other non-empty folder is refused with InputError).
SynthResult generate_synthetic_dataset(const SynthOptions& o, const std::filesystem::path& out);

}  // namespace hiscmcl::synth
