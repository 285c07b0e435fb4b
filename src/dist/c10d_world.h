// Internal to src/dist: the c10d process group behind process_group.h, for the collectives.
#pragma once
#include "dist/c10d_compat.h"

namespace hiscmcl::dist {

// The joined group; throws DistError when none is joined.
C10dGroup& c10d_group();

}  // namespace hiscmcl::dist
