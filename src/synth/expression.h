// Synthetic expression: gene programmes driven by what lies under and around each spot.
// A spot's programme activities come from its measured composition (tumour, immune, stroma, fat,
// gland fractions and nuclear density) and from the ring around it (immune-adjacent tumour), so
// context matters. Gene means are L_i * ((1 - s) * p_ig + s * w_g): p_ig the spot's signal-gene
// proportions (baseline + loadings x activities, normalised), w_g fixed weights of the noise
// genes (share s, constant, so they carry no signal even after per-spot normalisation), L_i a
// log-normal library size. Counts are negative binomial (gamma-Poisson, dispersion 0.2-0.5).
#pragma once
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "synth/tissue_layout.h"

namespace hiscmcl::synth {

constexpr int kNumProgrammes = 7;
// Programmes: tumour, immune, stroma, adipose, gland, proliferation, immune_adjacent_tumour.

struct GenePanel {
  std::vector<std::string> genes;
  std::vector<int> programme;                                 // main programme; -1 = noise gene
  std::vector<std::array<float, kNumProgrammes>> loading;     // genes x programmes
  std::vector<float> base;                                    // baseline (signal genes)
  std::vector<float> noise_weight;                            // w_g (noise genes), sums to 1
  std::vector<float> dispersion;                              // NB dispersion phi (var = mu + phi mu^2)
  double noise_share = 0.15;                                  // s
  double median_library = 0;                                  // median of L_i

  std::vector<int> genes_of(int programme_index) const;
};

// n_genes >= 20; the same seed gives the same panel (shared by all sections).
GenePanel make_gene_panel(int n_genes, uint64_t seed);

using Activity = std::array<double, kNumProgrammes>;
// spot: the composition under the spot; ring: the ring around it (about 3x the spot diameter).
Activity programme_activity(const Composition& spot, const Composition& ring);

// Per-gene multiplicative patient effect (log-normal, sd 0.15), a pure function of the seed.
std::vector<float> patient_gene_scale(const GenePanel& panel, uint64_t seed, int patient_index);

// The noise-free expected share of each gene in a spot's library (patient scale included): the
// counts' mean is library size x this. Ground truth for the ceiling of any predictor.
std::vector<double> expected_proportions(const GenePanel& panel, const Activity& activity,
                                         const std::vector<float>& gene_scale);

// Counts, spots x genes row-major. Draws, in order, for each spot: its library size, then each
// gene's gamma then Poisson variate, from rng.
std::vector<int32_t> sample_counts(const GenePanel& panel, const std::vector<Activity>& activity,
                                   const std::vector<float>& gene_scale, std::mt19937_64& rng);

}  // namespace hiscmcl::synth
