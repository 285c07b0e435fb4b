// Exact top-k: faiss IndexFlatIP scores every key (BLAS for batches of 20+ queries).
#include <faiss/IndexFlat.h>

#include "predict/key_index.h"
#include "predict/key_index_faiss.h"

namespace hiscmcl {
namespace {

class FlatKeyIndex final : public KeyIndex {
 public:
  explicit FlatKeyIndex(std::unique_ptr<faiss::Index> index) : index_(std::move(index)) {}
  int64_t size() const override { return index_->ntotal; }
  int64_t dim() const override { return index_->d; }
  std::string describe() const override {
    return "exact (flat), " + std::to_string(size()) + " keys x " + std::to_string(dim());
  }
  KeyNeighbours search(const Matrix& q, int64_t k) const override { return faiss_keys::search(*index_, q, k); }
  void save(const std::filesystem::path& path) const override { faiss_keys::save(*index_, path); }

 private:
  std::unique_ptr<faiss::Index> index_;
};

}  // namespace

std::unique_ptr<KeyIndex> make_flat_key_index(const Matrix& keys) {
  auto index = std::make_unique<faiss::IndexFlatIP>(keys.cols);
  if (keys.rows > 0) index->add(keys.rows, keys.data.data());
  return std::make_unique<FlatKeyIndex>(std::move(index));
}

namespace faiss_keys {
std::unique_ptr<KeyIndex> wrap_flat(std::unique_ptr<faiss::Index> index) {
  return std::make_unique<FlatKeyIndex>(std::move(index));
}
}  // namespace faiss_keys

}  // namespace hiscmcl
