// Two 5x5-grid synthetic sections (2 um/px: 50 px spots), 30-gene top-mean panel, prepared into
// DIR/store: the end-to-end tests' tiny dataset (CPU and CUDA).
#pragma once
#include <vector>

#include "io/dataset_store.h"
#include "pipeline/prepare.h"
#include "synth/synth_dataset.h"
#include "test_util.h"

namespace hiscmcl::test {

inline std::vector<PreparedSection> tiny_store(const TempDir& dir) {
  synth::SynthOptions so;
  so.sections = 2;
  so.grid = 5;
  so.genes = 40;
  so.um_per_px = 2.0;
  auto res = synth::generate_synthetic_dataset(so, dir / "synth");
  PrepareOptions po;
  po.manifest = res.manifest;
  po.out = dir / "store";
  po.panel.top_mean = 30;
  po.progress = false;
  prepare_dataset(po);
  return load_store_sections(dir / "store");
}

}  // namespace hiscmcl::test
