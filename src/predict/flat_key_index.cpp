// Exact top-k: faiss IndexFlatIP scores every key (BLAS for batches of 20+ queries).
#include <faiss/IndexFlat.h>

#include "predict/key_index_faiss.h"

namespace hiscmcl {
namespace {

class FlatKeyIndex final : public FaissKeyIndex {
 public:
  using FaissKeyIndex::FaissKeyIndex;
  std::string describe() const override {
    return "exact (flat), " + std::to_string(size()) + " keys x " + std::to_string(dim());
  }
};

}  // namespace

std::unique_ptr<KeyIndex> make_flat_key_index(const Matrix& keys) {
  auto index = std::make_unique<faiss::IndexFlatIP>(keys.cols);
  if (keys.rows > 0) index->add(keys.rows, keys.data.data());
  return wrap_flat_index(std::move(index));
}

std::unique_ptr<KeyIndex> wrap_flat_index(std::unique_ptr<faiss::Index> index) {
  return std::make_unique<FlatKeyIndex>(std::move(index));
}

}  // namespace hiscmcl
