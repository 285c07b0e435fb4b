// faiss version differences, in one place: include this instead of naming a version-dependent faiss
// type directly. Contract: hiscmcl::faiss_idx_t is faiss's label/id type (faiss <= 1.7.3
// Index::idx_t, 1.7.4+ faiss::idx_t); chosen by FAISS_VERSION_* of <faiss/Index.h>, nothing else.
#pragma once
#include <faiss/Index.h>

namespace hiscmcl {

#if FAISS_VERSION_MAJOR * 10000 + FAISS_VERSION_MINOR * 100 + FAISS_VERSION_PATCH >= 10704
using faiss_idx_t = faiss::idx_t;  // faiss 1.7.4+ moved it out of Index (Debian 13: 1.11)
#else
using faiss_idx_t = faiss::Index::idx_t;  // faiss <= 1.7.3 (Debian 12: 1.7.3)
#endif

}  // namespace hiscmcl
