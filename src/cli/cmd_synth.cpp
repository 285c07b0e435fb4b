// `hiscmcl synth --out DIR`: writes synthetic H&E + ST sections and a manifest (see docs/SYNTH.md).
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "common/log.h"
#include "synth/synth_dataset.h"

namespace hiscmcl::cli {
namespace {

struct SynthCliOptions {
  synth::SynthOptions synth;
  std::string out;
  bool per_section_patients = false;
};

CommandRegistrar reg(
    "synth", "Generate synthetic H&E + spatial transcriptomics sections (legacy ST layout) and a manifest",
    [](CLI::App& cmd) -> std::function<int()> {
      auto o = std::make_shared<SynthCliOptions>();
      cmd.add_option("--out,-o", o->out, "Output folder (new, empty, or an earlier synth output)")->required();
      cmd.add_option("--sections", o->synth.sections, "Number of sections S1..SN")
          ->capture_default_str()->check(CLI::Range(1, 99));
      cmd.add_option("--seed", o->synth.seed, "Random seed (same seed: byte-identical files)")
          ->capture_default_str();
      cmd.add_option("--grid", o->synth.grid, "Spots per side of the square ST array")
          ->capture_default_str()->check(CLI::Range(4, 40));
      cmd.add_option("--genes", o->synth.genes, "Genes in the panel (about 20% carry no signal)")
          ->capture_default_str()->check(CLI::Range(20, 5000));
      cmd.add_option("--um-per-px", o->synth.um_per_px, "Image resolution in micrometres per pixel")
          ->capture_default_str()->check(CLI::Range(0.25, 2.0));
      cmd.add_flag("--patient-per-section", o->per_section_patients,
                   "One patient per section (default: sections alternate between P1 and P2)");
      cmd.add_flag("--no-labels", [o](int64_t) { o->synth.write_labels = false; },
                   "Do not write <id>_labels.tsv region labels");
      return [o] {
        o->synth.patient_per_section = o->per_section_patients;
        auto r = synth::generate_synthetic_dataset(o->synth, o->out);
        for (size_t k = 0; k < r.section_ids.size(); ++k)
          spdlog::info("{}: {} spots, {:.2f} s", r.section_ids[k], r.spots_per_section[k],
                       r.seconds_per_section[k]);
        spdlog::info("wrote {} sections x {} genes to {} in {:.1f} s", r.section_ids.size(),
                     r.genes.size(), r.manifest.string(), r.seconds);
        return 0;
      };
    });

}  // namespace
}  // namespace hiscmcl::cli
