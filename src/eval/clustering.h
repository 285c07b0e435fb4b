// Spatial-domain clustering scores (METHOD.md §8.10). Deterministic, pure functions.
//   pca_project: centred (not scaled) PCA scores on the first n components (SVD in double).
//   kmeans: k-means++ (greedy, 2 + ln k trials per centre, as sklearn), Lloyd iterations,
//     n_init restarts, best inertia kept; a fixed seed gives identical labels on every run.
//   adjusted_rand_index / normalized_mutual_info (arithmetic mean normalisation), as sklearn,
//     including its conventions for trivial partitions (both single-cluster -> 1).
//   cluster_and_score: drop "undetermined"/empty labels, PCA to 9, k-means with k = number of
//     remaining label values, then ARI and NMI against the labels.
//   cluster_regions: tissue regions of one section's expression (PCA to 9, k-means), numbered by
//     size so that names and colours do not depend on k-means' arbitrary order.
//   align_labels: renumbers one partition to agree with another where they overlap, so that two
//     region maps drawn side by side use one colour for the same region.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/matrix.h"

namespace hiscmcl {

Matrix pca_project(const Matrix& X, int n_components);

struct KMeansResult {
  std::vector<int> labels;  // [n], 0..k-1
  Matrix centers;           // [k, d]
  double inertia = 0;       // sum of squared distances to the assigned centre
};
KMeansResult kmeans(const Matrix& X, int k, int n_init = 10, uint64_t seed = 0,
                    int max_iter = 300, double tol = 1e-4);

double adjusted_rand_index(const std::vector<int>& a, const std::vector<int>& b);
double normalized_mutual_info(const std::vector<int>& a, const std::vector<int>& b);

// Region labels -> integer codes in order of first appearance, dropping "undetermined" and "".
struct EncodedLabels {
  std::vector<int64_t> kept_rows;
  std::vector<int> codes;
  std::vector<std::string> names;  // code -> label
};
EncodedLabels encode_region_labels(const std::vector<std::string>& labels);

struct ClusterScore {
  double ari = 0, nmi = 0;
  int64_t n_spots = 0;  // after dropping undetermined
  int k = 0;
};
// expression: spots x genes (the prediction); labels: one per spot.
ClusterScore cluster_and_score(const Matrix& expression, const std::vector<std::string>& labels,
                               int n_components = 9, uint64_t seed = 0, int n_init = 10);

// Regions 0..k'-1 (k' = min(k, spots)), 0 the largest; equal sizes keep their first spot's order.
std::vector<int> cluster_regions(const Matrix& expression, int k, int n_components = 9,
                                 uint64_t seed = 0, int n_init = 10);

// `labels` renumbered so that the pair of values sharing the most spots with `reference` take the
// same number, then the next largest pair among the rest, and so on (greedy matching of the
// contingency table); values left unmatched take the reference's unused values in order, then
// the numbers after its largest. So two partitions with k values each use the same k numbers.
std::vector<int> align_labels(const std::vector<int>& labels, const std::vector<int>& reference);

// Names "1".."n" of regions 0..n-1, n = one past the largest region in any of the partitions.
std::vector<std::string> region_names(const std::vector<int>& regions, const std::vector<int>& more = {});

}  // namespace hiscmcl
