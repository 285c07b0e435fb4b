// Shared by the faiss-backed KeyIndex implementations (not a public header).
#pragma once
#include <faiss/Index.h>

#include <memory>
#include <string>

#include "predict/key_index.h"

namespace hiscmcl::faiss_keys {

// Searches a faiss inner-product index; results re-ordered so that ties keep key order.
KeyNeighbours search(const faiss::Index& index, const Matrix& queries, int64_t k);
void save(const faiss::Index& index, const std::filesystem::path& path);
void check_width(const faiss::Index& index, const Matrix& queries);

// Wraps an index read from disk (flat or ivf).
std::unique_ptr<KeyIndex> wrap_flat(std::unique_ptr<faiss::Index> index);
std::unique_ptr<KeyIndex> wrap_ivf(std::unique_ptr<faiss::Index> index, int nprobe);

}  // namespace hiscmcl::faiss_keys
