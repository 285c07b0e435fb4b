#include "common/atomic_output.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "common/error.h"

namespace fs = std::filesystem;

namespace hiscmcl {

AtomicPath::AtomicPath(fs::path final_path) : final_(std::move(final_path)) {
  if (final_.has_parent_path()) fs::create_directories(final_.parent_path());
  temp_ = final_;
  temp_ += ".tmp" + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(temp_, ec);
}

AtomicPath::~AtomicPath() {
  if (!committed_) {
    std::error_code ec;
    fs::remove_all(temp_, ec);
  }
}

void AtomicPath::commit() {
  std::error_code ec;
  if (fs::is_directory(final_) && fs::is_directory(temp_)) fs::remove_all(final_, ec);
  fs::rename(temp_, final_);
  committed_ = true;
}

void write_text_file(const fs::path& path, const std::string& text) {
  AtomicPath out(path);
  {
    std::ofstream f(out.temp(), std::ios::binary);
    if (!f) throw InputError(path.string(), "cannot open for writing");
    f << text;
    if (!f) throw InputError(path.string(), "write failed");
  }
  out.commit();
}

std::string read_text_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError(path.string(), fs::exists(path) ? "cannot read" : "file not found");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace hiscmcl
