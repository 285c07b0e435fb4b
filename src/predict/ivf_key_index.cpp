// Approximate top-k: faiss IndexIVFFlat with an inner-product quantizer. The keys are split into
// nlist lists by spherical k-means; a query scores the keys of its nprobe nearest lists only.
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>

#include <algorithm>
#include <stdexcept>

#include "predict/key_index_faiss.h"

namespace hiscmcl {
namespace {

class IvfKeyIndex final : public FaissKeyIndex {
 public:
  IvfKeyIndex(std::unique_ptr<faiss::Index> index, int nprobe) : FaissKeyIndex(std::move(index)) {
    auto* ivf = dynamic_cast<faiss::IndexIVFFlat*>(index_.get());
    if (!ivf) throw std::invalid_argument("IvfKeyIndex: not an IndexIVFFlat");
    ivf->nprobe = size_t(std::clamp<int64_t>(nprobe, 1, int64_t(ivf->nlist)));
  }
  int nlist() const override { return int(ivf().nlist); }
  std::string describe() const override {
    return "approximate (ivf, " + std::to_string(ivf().nlist) + " lists, " + std::to_string(ivf().nprobe) +
           " probed), " + std::to_string(size()) + " keys x " + std::to_string(dim());
  }

 private:
  const faiss::IndexIVFFlat& ivf() const { return static_cast<const faiss::IndexIVFFlat&>(*index_); }
};

}  // namespace

std::unique_ptr<KeyIndex> make_ivf_key_index(const Matrix& keys, int nlist, int nprobe, uint64_t seed) {
  if (keys.rows == 0) throw std::invalid_argument("make_ivf_key_index: no keys");
  if (nlist <= 0) nlist = ivf_default_nlist(keys.rows);
  nlist = int(std::min<int64_t>(nlist, keys.rows));
  auto quantizer = new faiss::IndexFlatIP(keys.cols);
  auto index = std::make_unique<faiss::IndexIVFFlat>(quantizer, keys.cols, size_t(nlist), faiss::METRIC_INNER_PRODUCT);
  index->own_fields = true;
  index->cp.seed = int(seed % 2147483647u);
  index->cp.spherical = true;  // centroids on the unit sphere, as the keys are
  index->cp.verbose = false;
  // Training cost grows with points x lists: 64 points per list and 10 iterations place the lists
  // well enough for search (faiss's defaults, 256 and 25, took minutes at 10^6 keys on 2 cores).
  index->cp.max_points_per_centroid = 64;
  index->cp.niter = 10;
  index->train(keys.rows, keys.data.data());
  index->add(keys.rows, keys.data.data());
  return wrap_ivf_index(std::move(index), nprobe);
}

std::unique_ptr<KeyIndex> wrap_ivf_index(std::unique_ptr<faiss::Index> index, int nprobe) {
  return std::make_unique<IvfKeyIndex>(std::move(index), nprobe);
}

}  // namespace hiscmcl
