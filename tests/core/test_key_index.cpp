// The faiss key indexes against a plain scalar top-k: the exact index returns the same neighbours
// (ties in key order), the approximate one finds most of them, and both survive a save and load.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <numeric>
#include <random>
#include <set>

#include "common/error.h"
#include "predict/key_index.h"
#include "predict/retrieval.h"
#include "test_util.h"

using namespace hiscmcl;

namespace {

Matrix random_rows(int64_t n, int64_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> z;
  Matrix m(n, d);
  for (float& v : m.data) v = z(rng);
  return l2_normalised_rows(m);
}

// Points around `clusters` centres: the structure an inverted file is made for (embeddings of
// tissue spots cluster by region).
Matrix clustered_rows(int64_t n, int64_t d, int clusters, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> z;
  Matrix centres(clusters, d);
  for (float& v : centres.data) v = z(rng);
  Matrix m(n, d);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = int64_t(rng() % uint32_t(clusters));
    for (int64_t j = 0; j < d; ++j) m(i, j) = centres(c, j) + 0.6f * z(rng);
  }
  return l2_normalised_rows(m);
}

// The scalar reference: double dot products, full sort, ties to the lower key.
std::vector<std::vector<int64_t>> brute_top_k(const Matrix& q, const Matrix& keys, int64_t k,
                                              std::vector<std::vector<double>>* sims = nullptr) {
  std::vector<std::vector<int64_t>> out(size_t(q.rows));
  if (sims) sims->assign(size_t(q.rows), {});
  for (int64_t i = 0; i < q.rows; ++i) {
    std::vector<double> s(size_t(keys.rows));
    for (int64_t j = 0; j < keys.rows; ++j) {
      double acc = 0;
      for (int64_t c = 0; c < keys.cols; ++c) acc += double(q(i, c)) * keys(j, c);
      s[size_t(j)] = acc;
    }
    std::vector<int64_t> idx(size_t(keys.rows));
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return s[size_t(a)] > s[size_t(b)]; });
    idx.resize(size_t(std::min(k, keys.rows)));
    if (sims)
      for (int64_t j : idx) (*sims)[size_t(i)].push_back(s[size_t(j)]);
    out[size_t(i)] = idx;
  }
  return out;
}

double recall(const KeyNeighbours& got, const std::vector<std::vector<int64_t>>& truth) {
  size_t hit = 0, total = 0;
  for (size_t q = 0; q < truth.size(); ++q) {
    std::set<int64_t> want(truth[q].begin(), truth[q].end());
    for (int64_t j = 0; j < got.k; ++j) hit += want.count(got.ids[q * size_t(got.k) + size_t(j)]);
    total += want.size();
  }
  return double(hit) / double(total);
}

}  // namespace

TEST(KeyIndex, FlatReturnsTheScalarTopKInOrder) {
  const Matrix keys = random_rows(2000, 48, 1), q = random_rows(64, 48, 2);  // 64: faiss's BLAS path
  const int64_t k = 50;
  std::vector<std::vector<double>> ref_sims;
  const auto ref = brute_top_k(q, keys, k, &ref_sims);
  const KeyNeighbours got = make_flat_key_index(keys)->search(q, k);
  ASSERT_EQ(got.k, k);
  int64_t compared = 0;
  for (int64_t i = 0; i < q.rows; ++i)
    for (int64_t j = 0; j < k; ++j) {
      const size_t at = size_t(i * k + j);
      EXPECT_NEAR(got.sims[at], ref_sims[size_t(i)][size_t(j)], 1e-5) << i << "," << j;
      // Where the reference's neighbours are not within float noise of each other, the order is
      // the same key for key ("ties aside").
      const double gap_before = j > 0 ? ref_sims[size_t(i)][size_t(j - 1)] - ref_sims[size_t(i)][size_t(j)] : 1;
      const double gap_after = j + 1 < k ? ref_sims[size_t(i)][size_t(j)] - ref_sims[size_t(i)][size_t(j + 1)] : 1;
      if (gap_before > 1e-5 && gap_after > 1e-5) {
        EXPECT_EQ(got.ids[at], ref[size_t(i)][size_t(j)]) << i << "," << j;
        ++compared;
      }
    }
  EXPECT_GT(compared, q.rows * k * 9 / 10);
  // A single query goes through faiss's non-BLAS path: the same answer.
  Matrix one(1, keys.cols);
  std::copy(q.row(5), q.row(5) + q.cols, one.row(0));
  const KeyNeighbours single = make_flat_key_index(keys)->search(one, k);
  for (int64_t j = 0; j < k; ++j) EXPECT_EQ(single.ids[size_t(j)], got.ids[size_t(5 * k + j)]) << j;
}

TEST(KeyIndex, TiesKeepKeyOrderAndKIsClampedToTheKeys) {
  Matrix keys(6, 3, 0.f);
  for (int64_t i = 0; i < 6; ++i) keys(i, i % 2) = 1.f;  // keys 0, 2, 4 equal; 1, 3, 5 equal
  Matrix q(1, 3, 0.f);
  q(0, 1) = 1.f;
  const KeyNeighbours got = make_flat_key_index(keys)->search(q, 10);
  ASSERT_EQ(got.k, 6);
  EXPECT_EQ(got.ids, (std::vector<int64_t>{1, 3, 5, 0, 2, 4}));
  EXPECT_FLOAT_EQ(got.sims[0], 1.f);
  EXPECT_FLOAT_EQ(got.sims[5], 0.f);
  EXPECT_THROW(make_flat_key_index(keys)->search(Matrix(1, 4, 0.f), 2), std::invalid_argument);
}

TEST(KeyIndex, IvfFindsMostNeighboursAndAllWhenEveryListIsProbed) {
  const Matrix keys = clustered_rows(20000, 32, 40, 3), q = clustered_rows(200, 32, 40, 3);
  const int64_t k = 20;
  const auto ref = brute_top_k(q, keys, k);
  const int nlist = ivf_default_nlist(keys.rows);
  EXPECT_EQ(nlist, 512);  // min(4 sqrt(20000) = 565, 20000 / 39 = 512)
  const auto few = make_ivf_key_index(keys, nlist, 16, 7);
  const double r = recall(few->search(q, k), ref);
  std::printf("[ ivf ] %d lists, 16 probed: recall@%lld %.4f\n", nlist, (long long)k, r);
  EXPECT_GT(r, 0.9);
  const auto one = make_ivf_key_index(keys, nlist, 1, 7);  // one list of 512: clearly approximate
  EXPECT_LT(recall(one->search(q, k), ref), r);
  const auto all = make_ivf_key_index(keys, 64, 64, 7);
  EXPECT_DOUBLE_EQ(recall(all->search(q, k), ref), 1.0);
  EXPECT_EQ(key_index_nlist(*all), 64);
  EXPECT_EQ(key_index_nlist(*make_flat_key_index(keys)), 0);
}

TEST(KeyIndex, IvfIsTheSameForTheSameSeedAndSurvivesSaveAndLoad) {
  test::TempDir tmp;
  const Matrix keys = clustered_rows(5000, 16, 20, 4), q = clustered_rows(50, 16, 20, 5);
  const auto a = make_ivf_key_index(keys, 50, 4, 11);
  const auto b = make_ivf_key_index(keys, 50, 4, 11);
  const KeyNeighbours ra = a->search(q, 10);
  EXPECT_EQ(ra.ids, b->search(q, 10).ids);
  a->save(tmp / "keys.ivf");
  const auto loaded = load_key_index(tmp / "keys.ivf", 4);
  EXPECT_EQ(loaded->size(), 5000);
  EXPECT_EQ(key_index_nlist(*loaded), 50);
  EXPECT_EQ(loaded->search(q, 10).ids, ra.ids);
  EXPECT_EQ(loaded->search(q, 10).sims, ra.sims);
  make_flat_key_index(keys)->save(tmp / "keys.flat");
  EXPECT_EQ(load_key_index(tmp / "keys.flat", 1)->search(q, 3).ids, make_flat_key_index(keys)->search(q, 3).ids);

  std::ofstream(tmp / "bad.ivf") << "not an index";
  try {
    load_key_index(tmp / "bad.ivf", 4);
    FAIL() << "read garbage";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.ivf"), std::string::npos) << e.what();
  }
}

TEST(KeyIndex, RetrievalThroughAnIvfThatProbesEveryListEqualsTheExactOne) {
  const Matrix keys_raw = clustered_rows(3000, 24, 10, 6), q = clustered_rows(40, 24, 10, 8);
  Matrix expr(3000, 5);
  std::mt19937 rng(9);
  for (float& v : expr.data) v = float(rng() % 100) / 10.f;
  const Matrix exact = retrieval_predict(q, keys_raw, expr, 30, RetrievalDistance::l1);
  const auto ivf = make_ivf_key_index(l2_normalised_rows(keys_raw), 16, 16, 1);
  const Matrix approx = retrieval_predict(q, keys_raw, expr, *ivf, 30, RetrievalDistance::l1);
  ASSERT_EQ(approx.data.size(), exact.data.size());
  for (size_t i = 0; i < exact.data.size(); ++i) EXPECT_NEAR(approx.data[i], exact.data[i], 1e-4) << i;
  // An index over other keys is refused.
  const auto other = make_flat_key_index(random_rows(10, 24, 1));
  EXPECT_THROW(retrieval_predict(q, keys_raw, expr, *other, 5, RetrievalDistance::l1), std::invalid_argument);
}
