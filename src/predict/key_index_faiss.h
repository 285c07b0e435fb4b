// Shared by the faiss-backed KeyIndex implementations (not a public header): the faiss index, its
// search with ties put back in key order, and its file format.
#pragma once
#include <faiss/Index.h>

#include <memory>
#include <string>

#include "predict/key_index.h"

namespace hiscmcl {

class FaissKeyIndex : public KeyIndex {
 public:
  explicit FaissKeyIndex(std::unique_ptr<faiss::Index> index) : index_(std::move(index)) {}
  int64_t size() const override { return index_->ntotal; }
  int64_t dim() const override { return index_->d; }
  KeyNeighbours search(const Matrix& normalised_queries, int64_t k) const override;
  void save(const std::filesystem::path& path) const override;

 protected:
  std::unique_ptr<faiss::Index> index_;
};

// Wrap an index read from disk (ivf_key_index.cpp, flat_key_index.cpp).
std::unique_ptr<KeyIndex> wrap_flat_index(std::unique_ptr<faiss::Index> index);
std::unique_ptr<KeyIndex> wrap_ivf_index(std::unique_ptr<faiss::Index> index, int nprobe);

}  // namespace hiscmcl
