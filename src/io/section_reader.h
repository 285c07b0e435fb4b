// Reads one manifest section, whatever its format, into the Section model.
#pragma once
#include "io/section.h"
#include "io/manifest.h"

namespace hiscmcl {

// How strict the readers are; the defaults refuse anything that looks like a damaged input.
struct ReadOptions {
  // Selected spots of a legacy ST spot table that have no counts row are dropped with a warning
  // instead of failing (a counts file cut short loses spots without any other symptom). The
  // manifest's per-section allow_missing_spots does the same for one section.
  bool allow_missing_spots = false;
};

// Dispatches on ms.format (st_legacy | visium | h5ad). Throws InputError naming the file.
Section read_section(const ManifestSection& ms, const ReadOptions& opts = {});

// When the section's counts are HDF5 (h5ad, Visium .h5), read_section once in a child process
// (common/isolated_call.h): libhdf5 1.10 crashes on some damaged files, and this turns that crash
// into an InputError naming the file. Main thread only, before any parallel read.
void check_section_in_child(const ManifestSection& ms, const ReadOptions& opts = {});

}  // namespace hiscmcl
