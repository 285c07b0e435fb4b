// Top-k search over the retrieval keys by cosine similarity: inner product of L2-normalised rows,
// the search step of retrieval (retrieval.h). One interface, one implementation per file, faiss
// underneath:
//   flat_key_index.cpp  exact: every key scored (faiss IndexFlatIP, BLAS-batched)
//   ivf_key_index.cpp   approximate: keys in nlist k-means lists, nprobe lists visited per
//                       query (faiss IndexIVFFlat, inner product); for references of 10^5+ keys
// Results are most similar first, ties in key order. Keys and queries must already be
// L2-normalised (l2_normalised_rows).
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/matrix.h"

namespace hiscmcl {

// Each query's top k: ids[q * k + j] (-1 past the keys an approximate search found) and sims.
struct KeyNeighbours {
  int64_t k = 0;
  std::vector<int64_t> ids;
  std::vector<float> sims;
};

class KeyIndex {
 public:
  virtual ~KeyIndex() = default;
  virtual int64_t size() const = 0;  // keys
  virtual int64_t dim() const = 0;
  virtual std::string describe() const = 0;  // for logs: "flat, 5000 keys x 256"
  // k is clamped to size(). Throws std::invalid_argument when the widths differ.
  virtual KeyNeighbours search(const Matrix& normalised_queries, int64_t k) const = 0;
  // faiss's own format (write_index), atomically.
  virtual void save(const std::filesystem::path& path) const = 0;
  virtual int nlist() const { return 0; }  // an ivf index's lists; 0 for an exact one
};

std::unique_ptr<KeyIndex> make_flat_key_index(const Matrix& normalised_keys);

// nlist 0: ivf_default_nlist(keys). The k-means that places the lists is seeded, so an index is
// the same for the same keys and seed.
std::unique_ptr<KeyIndex> make_ivf_key_index(const Matrix& normalised_keys, int nlist, int nprobe, uint64_t seed);
int ivf_default_nlist(int64_t n_keys);  // 4 sqrt(n), at most n / 39 (faiss's points per list), >= 1
// An index written by save(); nprobe applies to an ivf one. InputError naming the file if unreadable.
std::unique_ptr<KeyIndex> load_key_index(const std::filesystem::path& path, int nprobe);
int key_index_nlist(const KeyIndex& index);  // index.nlist()

// Rows scaled to unit L2 norm; an all-zero row stays zero (cosine 0 with everything).
Matrix l2_normalised_rows(const Matrix& m);

}  // namespace hiscmcl
