// An offline slide viewer of one prediction: OUT/<viewer folder>/index.html opens from file:// with
// no server and no network. The H&E is a DeepZoom pyramid written by libvips (streamed: a
// 40k x 40k slide is never decoded whole) and shown with OpenSeadragon; the spots are drawn over
// it at their true size, coloured by a gene chosen from every gene of the model, with the
// predicted sd, the measured value (cv), tissue regions and marker-set scores as further layers.
//
// Folder layout (viewer/README.md has the details):
//   index.html, viewer.js, viewer.css         ours, embedded in the binary from viewer/
//   openseadragon/                            OpenSeadragon's build (node_modules, at build time)
//   tiles_files/<level>/<col>_<row>.jpg       the DeepZoom pyramid (tiles.dzi beside it)
//   data/spots.js                             ids, x, y, diameter, regions, scores, gene names
//   data/genes/<n>.js                         gene n's values, uint16-quantised, loaded on demand
// Values reach the page as <script> files (a fetched JSON fails from file://); every string is
// JSON-encoded with <, >, &, U+2028 and U+2029 escaped, and the page builds its DOM with
// textContent.
#pragma once
#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "common/matrix.h"
#include "io/section.h"

namespace hiscmcl {

struct ViewerData {
  std::string section_id;                       // shown in the title
  std::vector<std::string> spot_ids;
  std::vector<std::array<double, 2>> pixel_xy;  // spot centres, full-resolution slide pixels
  double spot_diameter_px = 0;
  std::vector<std::string> genes;
  Matrix predicted;  // spots x genes
  Matrix sd;         // spots x genes, or empty
  Matrix measured;   // spots x genes, or empty (cv's held-out sections)
  std::vector<std::string> region_names;  // regions index these; empty when none
  std::vector<int> regions;               // one per spot (-1: none), or empty
  std::vector<ObsColumn> scores;          // marker-set scores, one value per spot each
};

// Writes the viewer folder out_dir (aside as <out_dir>.tmp<pid>, then renamed into place; an
// earlier viewer there is replaced). A slide that cannot be read or tiled is an InputError naming
// it, and nothing is left behind. Inconsistent data (a matrix that is not spots x genes) is an
// InputError naming out_dir.
void write_slide_viewer(const std::filesystem::path& out_dir, const std::filesystem::path& image,
                        const ViewerData& data);

// The viewer's data of a prediction as written to its h5ad: X, layers/sd, the obs "region"
// categorical and the numeric obs columns (marker-set scores). measured: spots x genes or empty.
ViewerData viewer_data_of(const PreparedSection& prediction, const Matrix& measured = Matrix());

// What `predict` and `cv` add beside a prediction: the viewer folder dir/<viewer_name> and, when
// geojson is set, dir/spots.geojson. A slide that cannot be tiled is a warning naming it (the
// prediction's other files are complete and kept), not an error. Returns whether the viewer was
// written.
bool write_prediction_views(const std::filesystem::path& dir, const std::string& viewer_name,
                            const std::filesystem::path& image, const ViewerData& data, bool geojson);

// The text of a JSON value safe inside a <script> element and a .js file: <, >, & and the line
// separators U+2028/U+2029 escaped as \uXXXX, invalid UTF-8 replaced. Exposed for the tests.
std::string script_safe_json(const std::string& json_text);

// Values quantised to uint16 for the page: v = lo + q * step, q = 65535 marks a missing (non-
// finite) value. Returns {lo, step, base64 of the little-endian uint16s}. Exposed for the tests.
struct QuantisedValues {
  double lo = 0, step = 0;
  std::string base64;
};
QuantisedValues quantise_values(const std::vector<float>& values);

}  // namespace hiscmcl
