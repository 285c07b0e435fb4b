// The stated spot diameter checked against the spots' own spacing (docs/METHOD.md §2.1a). Spots
// on ST and Visium arrays sit 1.0-2.0 diameters apart, centre to centre (Visium 100 µm / 55 µm,
// legacy ST 200 µm / 100 µm); a stated diameter more than twice the spacing, or under a quarter of
// it, is wrong for these spots (HEST-1k lists 2 µm for Visium HD samples whose spots are pooled to
// a far coarser grid), and crops cut from it would be wrong by the same factor.
#pragma once
#include <array>
#include <string>
#include <vector>

namespace hiscmcl {

// The median over spots of the distance to the nearest other spot (spots at the very same centre
// ignored), in the centres' units; 0 when fewer than two distinct centres. The upper median for
// an even count. O(n log n) for array layouts (a sweep along the wider axis).
double median_nearest_spot_distance(const std::vector<std::array<double, 2>>& xy);

// Centre spacing over spot diameter of the array kind: Visium and Visium-like (100/55, taken as
// 1.8) or the legacy ST array (200/100 = 2).
enum class SpotArray { visium, st };
double spacing_per_diameter(SpotArray array);

// The decision, pure. `stated` is kept unless a spacing is known (> 0) and stated > 2 x spacing or
// stated < spacing / 4; then diameter = spacing / spacing_per_diameter(array) and replaced = true.
struct SpotDiameterCheck {
  double spacing = 0;   // as given
  double diameter = 0;  // the diameter to use
  bool replaced = false;
};
SpotDiameterCheck check_spot_diameter(double stated, double spacing, SpotArray array);

// The readers' call: the check on a section's centres (pixels). When the stated diameter is
// replaced, a warning names the section, `source` (the file or manifest that stated it) and both
// numbers. Sections of fewer than 3 spots are not checked. Returns the diameter to use.
double settle_spot_diameter(const std::string& section, const std::string& source, double stated_px,
                            const std::vector<std::array<double, 2>>& xy, SpotArray array);

}  // namespace hiscmcl
