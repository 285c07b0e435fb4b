#include "common/atomic_output.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <regex>
#include <vector>

#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/output_folder.h"

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
  if (fs::is_directory(final_) && fs::is_directory(temp_)) {
    // The callers check beforehand that the old folder is their own (common/output_folder.h).
    replace_folder(temp_, final_, "version");
  } else {
    std::error_code ec;
    fs::rename(temp_, final_, ec);
    if (ec) throw InputError(final_.string(), "cannot move the new version into place: " + ec.message());
  }
  committed_ = true;
}

int remove_stale_temporaries(const fs::path& dir) {
  static const std::regex temp_name(R"(.*\.tmp([0-9]+)$)");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  std::vector<fs::path> stale;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::smatch m;
    const std::string name = it->path().filename().string();
    if (!std::regex_match(name, m, temp_name) || m[1].length() > 9) continue;
    const long pid = std::stol(m[1].str());
    const bool alive = pid == long(::getpid()) || ::kill(pid_t(pid), 0) == 0 || errno == EPERM;
    if (alive) continue;
    stale.push_back(it->path());
    if (it->is_directory(ec)) it.disable_recursion_pending();
  }
  for (auto& p : stale) fs::remove_all(p, ec);
  return int(stale.size());
}

void write_text_file(const fs::path& path, const std::string& text) {
  AtomicPath out(path);
  {
    std::ofstream f(out.temp(), std::ios::binary);
    if (!f) throw InputError(path.string(), "cannot open for writing");
    f << text;
    f.close();  // a full disk shows at the last flush
    if (!f) throw InputError(path.string(), "write failed (disk full?)");
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
