// Retrieval prediction, the paper's predictor (METHOD.md §8.3). Pure maths.
//   For each query row q of Q [nq, P]: rank the keys K [nk, P] by cosine similarity of the
//   L2-normalised rows (descending; ties to the lower key index; faiss does the search, see
//   key_index.h), keep the top k, weight them by
//   w_j = d_j^-2 / sum_t d_t^-2 where d_j is the L1 or L2 distance between the RAW rows (guarded by
//   eps so that d = 0 gives the exact match all the weight instead of NaN), and predict
//   y = sum_j w_j E_j with E [nk, G] the keys' expression. k larger than nk is clamped to nk.
//   softmax_temperature > 0 replaces 1/d² by w_j = softmax_j(cos_j / τ) over the top k: the
//   distribution the contrastive loss trains (METHOD.md §7.1), so the prediction is its
//   expectation.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/matrix.h"

namespace hiscmcl {

class KeyIndex;

enum class RetrievalDistance { l1, l2 };
RetrievalDistance parse_retrieval_distance(const std::string& name);  // "l1"|"L1"|"l2"|"L2"
std::string to_string(RetrievalDistance d);

// Inverse-square weights normalised to sum 1; each d is first raised to at least eps.
std::vector<double> retrieval_weights(const std::vector<double>& distances, double eps = 1e-12);

double row_distance(const float* a, const float* b, int64_t p, RetrievalDistance metric);

// exp(s_j / τ) normalised to sum 1 (max-subtracted, so large 1/τ cannot overflow).
std::vector<double> softmax_weights(const std::vector<double>& similarities, double temperature);

// Top-k key indices for one query, most similar first (cosine over pre-normalised rows).
struct RetrievalNeighbours {
  std::vector<int64_t> keys;    // [k]
  std::vector<double> weights;  // [k], sum 1
};

// Prediction [nq, G]; neighbours, when given, receives each query's keys and weights. The top k
// come from an exact search (a flat KeyIndex over the normalised keys).
Matrix retrieval_predict(const Matrix& queries, const Matrix& keys, const Matrix& key_expression,
                         int k, RetrievalDistance metric,
                         std::vector<RetrievalNeighbours>* neighbours = nullptr,
                         double eps = 1e-12, double softmax_temperature = 0.0);
// The same with the top k from `index`, built over l2_normalised_rows(keys) (key_index.h); an
// approximate index may find fewer than k for a query, which then averages those. spread, when
// given, receives the weighted sd of the neighbours' expression around the prediction,
// sqrt(sum_j w_j (E_j - y)^2): the per-spot uncertainty.
Matrix retrieval_predict(const Matrix& queries, const Matrix& keys, const Matrix& key_expression,
                         const KeyIndex& index, int k, RetrievalDistance metric,
                         std::vector<RetrievalNeighbours>* neighbours = nullptr,
                         double eps = 1e-12, double softmax_temperature = 0.0, Matrix* spread = nullptr);

// Removes each group's per-column mean and adds back the mean over all rows: rows
// [offsets[g], offsets[g+1]) form group g (a training section). Retrieval averages neighbours from
// several sections, so a gene's section-level offset (batch, library depth) would otherwise enter a
// held-out section's prediction wherever its neighbours happen to come from. Throws
// std::invalid_argument unless offsets run from 0 to rows, non-decreasing.
Matrix centre_groups(const Matrix& values, const std::vector<int64_t>& offsets);

}  // namespace hiscmcl
