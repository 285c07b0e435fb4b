#include "predict/key_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_io.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "common/atomic_output.h"
#include "common/error.h"
#include "predict/faiss_compat.h"
#include "predict/key_index_faiss.h"

namespace fs = std::filesystem;

namespace hiscmcl {

Matrix l2_normalised_rows(const Matrix& m) {
  Matrix out = m;
  for (int64_t r = 0; r < m.rows; ++r) {
    float* row = out.row(r);
    double ss = 0;
    for (int64_t c = 0; c < m.cols; ++c) ss += double(row[c]) * row[c];
    if (ss <= 0) continue;
    const float inv = float(1.0 / std::sqrt(ss));
    for (int64_t c = 0; c < m.cols; ++c) row[c] *= inv;
  }
  return out;
}

int ivf_default_nlist(int64_t n_keys) {
  const double by_sqrt = 4.0 * std::sqrt(double(std::max<int64_t>(n_keys, 1)));
  return int(std::max<int64_t>(1, std::min<int64_t>(int64_t(by_sqrt), n_keys / 39)));
}

std::unique_ptr<KeyIndex> load_key_index(const fs::path& path, int nprobe) {
  std::unique_ptr<faiss::Index> index;
  try {
    index.reset(faiss::read_index(path.c_str()));
  } catch (const faiss::FaissException& e) {
    throw InputError(path.string(), std::string("not a readable key index: ") + e.what());
  }
  if (index->metric_type != faiss::METRIC_INNER_PRODUCT)
    throw InputError(path.string(), "a key index must rank by inner product");
  if (dynamic_cast<faiss::IndexIVFFlat*>(index.get())) return wrap_ivf_index(std::move(index), nprobe);
  if (dynamic_cast<faiss::IndexFlatIP*>(index.get())) return wrap_flat_index(std::move(index));
  throw InputError(path.string(), "unknown key index type");
}

int key_index_nlist(const KeyIndex& index) { return index.nlist(); }

KeyNeighbours FaissKeyIndex::search(const Matrix& queries, int64_t k) const {
  if (queries.cols != int64_t(index_->d))
    throw std::invalid_argument("key index: queries are " + std::to_string(queries.cols) + " wide, keys " +
                                std::to_string(index_->d));
  KeyNeighbours out;
  out.k = std::max<int64_t>(1, std::min<int64_t>(k, index_->ntotal));
  const int64_t nq = queries.rows;
  out.ids.assign(size_t(nq * out.k), -1);
  out.sims.assign(size_t(nq * out.k), 0.f);
  if (nq == 0 || index_->ntotal == 0) return out;
  std::vector<faiss_idx_t> labels(out.ids.size());
  index_->search(nq, queries.data.data(), out.k, out.sims.data(), labels.data());
  // faiss returns each query's hits best first, the missing ones (-1) last, but leaves equal
  // scores in no particular order: put ties back in key order, so that the same keys give the
  // same neighbours whatever the blocking or thread count.
  std::vector<std::pair<float, int64_t>> hits;
  for (int64_t q = 0; q < nq; ++q) {
    const size_t base = size_t(q * out.k);
    hits.clear();
    for (int64_t j = 0; j < out.k && labels[base + size_t(j)] >= 0; ++j)
      hits.emplace_back(out.sims[base + size_t(j)], int64_t(labels[base + size_t(j)]));
    std::sort(hits.begin(), hits.end(),
              [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    for (size_t j = 0; j < hits.size(); ++j) {
      out.sims[base + j] = hits[j].first;
      out.ids[base + j] = hits[j].second;
    }
  }
  return out;
}

void FaissKeyIndex::save(const fs::path& path) const {
  AtomicPath out(path);
  try {
    faiss::write_index(index_.get(), out.temp().c_str());
  } catch (const faiss::FaissException& e) {
    throw std::runtime_error(path.string() + ": cannot write the key index: " + e.what());
  }
  out.commit();
}

}  // namespace hiscmcl
