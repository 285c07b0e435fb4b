// Internal to src/dist: the c10d process group behind process_group.h, for the collectives.
#pragma once
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>

namespace hiscmcl::dist {

// The joined group; throws DistError when none is joined.
c10d::ProcessGroup& c10d_group();

}  // namespace hiscmcl::dist
