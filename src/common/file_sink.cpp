#include "common/file_sink.h"

#include <cerrno>
#include <cstring>

#include "common/error.h"

namespace hiscmcl {

FileSink::FileSink(std::filesystem::path path) : path_(std::move(path)) {
  f_ = std::fopen(path_.c_str(), "wb");
  if (!f_) throw InputError(path_.string(), std::string("cannot open for writing: ") + std::strerror(errno));
}

FileSink::~FileSink() {
  if (f_) std::fclose(f_);
}

size_t FileSink::write(const void* data, size_t n) noexcept {
  if (error_ == 0 && n > 0 && std::fwrite(data, 1, n, f_) != n) error_ = errno ? errno : EIO;
  return n;
}

void FileSink::finish() {
  if (!f_) return;
  if (std::fflush(f_) != 0 && error_ == 0) error_ = errno ? errno : EIO;
  if (std::fclose(f_) != 0 && error_ == 0) error_ = errno ? errno : EIO;
  f_ = nullptr;
  if (error_) throw InputError(path_.string(), std::string("write failed: ") + std::strerror(error_));
}

}  // namespace hiscmcl
