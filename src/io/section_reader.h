// Reads one manifest section, whatever its format, into the Section model.
#pragma once
#include "data/section.h"
#include "io/manifest.h"

namespace hiscmcl {

// Dispatches on ms.format (st_legacy | visium | h5ad). Throws InputError naming the file.
Section read_section(const ManifestSection& ms);

}  // namespace hiscmcl
