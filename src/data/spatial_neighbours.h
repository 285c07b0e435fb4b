// Nearest spots of every spot within one section, by Euclidean distance of their centres.
// The spot itself comes first; ties by index, so the result is deterministic. When a section has
// fewer than k spots the list is padded by repeating the farthest one (callers need fixed k).
#pragma once
#include <array>
#include <cstdint>
#include <vector>

namespace hiscmcl {

// Returns n x k indices, row-major.
std::vector<int64_t> nearest_spots(const std::vector<std::array<double, 2>>& xy, int k);

}  // namespace hiscmcl
