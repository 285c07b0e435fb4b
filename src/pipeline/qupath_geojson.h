// The spots of a prediction as QuPath detections (File > Import objects, or drag the file onto
// the slide): a GeoJSON FeatureCollection, one Feature per spot with id = the spot id, a Polygon
// of the spot circle in full-resolution slide pixels (origin top-left, closed ring),
// properties.objectType = "detection", properties.measurements = every predicted gene (then
// "mean sd" over the genes, measured values as "measured: <gene>", marker-set scores), and
// properties.classification = {"name": <region>, "color": [r, g, b]} (the colours of regions.png).
// A non-finite value is left out of the measurements (JSON has no NaN).
#pragma once
#include <filesystem>

#include "pipeline/slide_viewer.h"

namespace hiscmcl {

// Written aside and renamed into place. `vertices` points on each circle (>= 3).
void write_qupath_geojson(const std::filesystem::path& path, const ViewerData& data, int vertices = 24);

}  // namespace hiscmcl
