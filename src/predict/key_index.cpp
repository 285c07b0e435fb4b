#include "predict/key_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_io.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <new>
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

namespace {

// faiss's index header (index_io: write_index_header): fourcc, d (int32), ntotal (int64), two
// int64 placeholders, is_trained (1 byte), metric (int32). Checked before faiss reads the file:
// faiss trusts every size in it, and a damaged one ends in a bare std::bad_alloc or an attempt
// to read gigabytes. Returns why the header cannot be ours, or "" when it can.
std::string header_problem(const fs::path& path, uintmax_t size) {
  constexpr size_t kHeader = 4 + 4 + 8 + 8 + 8 + 1 + 4;
  if (size < kHeader) return "truncated: " + std::to_string(size) + " bytes, shorter than a key index's header";
  char h[kHeader];
  std::ifstream in(path, std::ios::binary);
  if (!in.read(h, kHeader)) return "cannot be read";
  const std::string fourcc(h, 4);
  int32_t d = 0;
  int64_t ntotal = 0;
  std::memcpy(&d, h + 4, 4);
  std::memcpy(&ntotal, h + 8, 8);
  // IxFI: the exact index (inner product); IwFl: the ivf one (lists of raw vectors).
  if (fourcc != "IxFI" && fourcc != "IwFl") return "not a key index hiscmcl writes (its header is damaged)";
  // Every key is stored as d floats at least once, so the file bounds both numbers.
  if (d < 1 || d > (1 << 20) || ntotal < 0 || uintmax_t(ntotal) > size / (4 * uintmax_t(d)))
    return "its header is damaged (" + std::to_string(ntotal) + " keys of " + std::to_string(d) +
           " numbers cannot fit in " + std::to_string(size) + " bytes)";
  return "";
}

}  // namespace

std::unique_ptr<KeyIndex> load_key_index(const fs::path& path, int nprobe) {
  const std::string advice = "; train the model again";
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) throw InputError(path.string(), fs::exists(path) ? "key index cannot be read" : "key index not found");
  if (std::string why = header_problem(path, size); !why.empty())
    throw InputError(path.string(), "damaged key index: " + why + advice);
  std::unique_ptr<faiss::Index> index;
  try {
    index.reset(faiss::read_index(path.c_str()));
  } catch (const faiss::FaissException& e) {
    // faiss's text names its own source line and, at a short read, the last errno ("No such
    // file or directory"): misleading, so only in the debug log.
    spdlog::debug("{}: faiss: {}", path.string(), e.what());
    throw InputError(path.string(), "damaged key index (truncated, or a size in it is wrong)" + advice);
  } catch (const std::bad_alloc&) {
    throw InputError(path.string(), "damaged key index (a size in it is impossible)" + advice);
  }
  if (index->metric_type != faiss::METRIC_INNER_PRODUCT)
    throw InputError(path.string(), "a key index must rank by inner product");
  if (auto* ivf = dynamic_cast<faiss::IndexIVFFlat*>(index.get())) {
    // The lists hold key ids that retrieval indexes the keys with: a damaged one would read
    // outside them. Every id in 0..ntotal-1 and the lists' sizes adding up to ntotal.
    int64_t listed = 0;
    for (size_t l = 0; ivf->invlists && l < ivf->invlists->nlist; ++l) {
      const size_t n = ivf->invlists->list_size(l);
      const auto* ids = ivf->invlists->get_ids(l);
      for (size_t i = 0; i < n; ++i)
        if (ids[i] < 0 || ids[i] >= ivf->ntotal)
          throw InputError(path.string(), "damaged key index (list " + std::to_string(l) + " holds key id " +
                                              std::to_string(int64_t(ids[i])) + " of " +
                                              std::to_string(int64_t(ivf->ntotal)) + ")" + advice);
      listed += int64_t(n);
    }
    if (!ivf->invlists || ivf->invlists->nlist != ivf->nlist || listed != ivf->ntotal ||
        !ivf->quantizer || ivf->quantizer->ntotal != int64_t(ivf->nlist))
      throw InputError(path.string(), "damaged key index (its lists do not add up to its " +
                                          std::to_string(int64_t(ivf->ntotal)) + " keys)" + advice);
    return wrap_ivf_index(std::move(index), nprobe);
  }
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
