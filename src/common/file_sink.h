// A byte sink for serializers that must not see a failed write: LibTorch's stream writer throws
// from its destructor when a write fails (std::terminate on a full disk), so write() never fails
// towards the caller; it keeps the first error, drops the rest, and finish() reports it by name.
#pragma once
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <string>

namespace hiscmcl {

class FileSink {
 public:
  explicit FileSink(std::filesystem::path path);  // throws InputError if it cannot be created
  ~FileSink();
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;
  size_t write(const void* data, size_t n) noexcept;  // always returns n
  // Flushes and closes; throws InputError naming the file if any write failed (e.g. disk full).
  void finish();

 private:
  std::filesystem::path path_;
  std::FILE* f_ = nullptr;
  int error_ = 0;
};

}  // namespace hiscmcl
