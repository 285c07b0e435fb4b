#include "common/output_folder.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>

#include "common/error.h"

namespace fs = std::filesystem;

namespace hiscmcl {
namespace {

fs::path resolved(const fs::path& p) {
  std::error_code ec;
  fs::path r = fs::weakly_canonical(fs::absolute(p), ec);
  return ec ? fs::absolute(p).lexically_normal() : r;
}

// Whether `outer` is `inner` or a folder above it.
bool contains(const fs::path& outer, const fs::path& inner) {
  auto o = outer.begin(), i = inner.begin();
  for (; o != outer.end(); ++o, ++i) {
    if (o->empty()) continue;  // a trailing separator
    if (i == inner.end() || *o != *i) return false;
  }
  return true;
}

fs::path with_suffix(const fs::path& p, const std::string& suffix) {
  fs::path r = p;
  if (r.filename().empty()) r = r.parent_path();
  r += suffix;
  return r;
}

bool process_alive(long pid) { return pid == long(::getpid()) || ::kill(pid_t(pid), 0) == 0 || errno == EPERM; }

}  // namespace

std::string output_folder_owner(const fs::path& dir) {
  std::ifstream f(dir / kOutputMarker);
  std::string line;
  if (!f || !std::getline(f, line)) return "";
  const std::string prefix = "hiscmcl ";
  return line.rfind(prefix, 0) == 0 ? line.substr(prefix.size()) : "";
}

void write_output_marker(const fs::path& dir, const std::string& command) {
  std::ofstream f(dir / kOutputMarker, std::ios::binary | std::ios::trunc);
  f << "hiscmcl " << command << "\n";
  f.close();
  if (!f) throw InputError(dir.string(), "cannot write into the output folder (disk full or read-only?)");
}

void create_output_folder(const fs::path& dir, const std::string& command) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw InputError(dir.string(), "cannot create the output folder: " + ec.message());
  if (output_folder_owner(dir) != command) write_output_marker(dir, command);
}

void check_output_folder(const fs::path& out, const std::string& command, const std::vector<fs::path>& inputs,
                         const std::string& legacy_file) {
  if (out.empty()) throw InputError("--out", "is empty");
  const fs::path abs = resolved(out);
  std::error_code ec;
  const fs::path cwd = resolved(fs::current_path(ec));
  if (!ec && contains(abs, cwd))
    throw InputError(out.string(), abs == cwd ? "--out is the current directory; give a new folder's name"
                                              : "--out holds the current directory; give a new folder's name");
  for (const auto& input : inputs) {
    if (input.empty()) continue;
    const fs::path in = resolved(input);
    if (contains(abs, in))
      throw InputError(out.string(), (abs == in ? "--out is an input of `hiscmcl " + command + "`"
                                                : "--out holds an input of `hiscmcl " + command + "` (" + input.string() + ")") +
                                         "; choose a new folder");
  }
  if (!fs::exists(out, ec)) return;
  if (!fs::is_directory(out, ec)) throw InputError(out.string(), "--out exists and is not a folder");
  if (fs::is_empty(out, ec)) return;
  const std::string owner = output_folder_owner(out);
  if (owner == command) return;
  if (!owner.empty())
    throw InputError(out.string(), "--out holds the output of `hiscmcl " + owner + "`, not of `hiscmcl " + command +
                                       "`; choose a new folder (nothing was changed)");
  if (!legacy_file.empty() && fs::exists(out / legacy_file, ec)) return;
  throw InputError(out.string(), "--out is a folder that hiscmcl " + command +
                                     " did not write (it is not empty and has no " + kOutputMarker +
                                     " marker); choose a new or empty folder (nothing was changed)");
}

int remove_stale_output_temporaries(const fs::path& out) {
  const fs::path base = out.filename().empty() ? out.parent_path() : out;
  const fs::path parent = base.has_parent_path() ? base.parent_path() : fs::path(".");
  const std::string name = base.filename().string();
  std::error_code ec;
  if (!fs::is_directory(parent, ec)) return 0;
  int removed = 0;
  std::vector<fs::path> stale;
  for (auto it = fs::directory_iterator(parent, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string entry = it->path().filename().string();
    for (const std::string stem : {name + ".tmp", name + ".old.tmp"}) {
      if (entry.size() <= stem.size() || entry.compare(0, stem.size(), stem) != 0) continue;
      const std::string digits = entry.substr(stem.size());
      if (digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
      if (!process_alive(std::stol(digits))) stale.push_back(it->path());
    }
  }
  for (const auto& p : stale) removed += fs::remove_all(p, ec) > 0;
  return removed;
}

OutputFolder::OutputFolder(fs::path out, std::string command, const std::vector<fs::path>& inputs,
                           const std::string& legacy_file)
    : out_(std::move(out)), command_(std::move(command)), legacy_file_(legacy_file) {
  check_output_folder(out_, command_, inputs, legacy_file_);
  remove_stale_output_temporaries(out_);
  temp_ = with_suffix(out_, ".tmp" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(temp_, ec);
  fs::create_directories(temp_, ec);
  if (ec) throw InputError(out_.string(), "cannot create the output folder beside it: " + ec.message());
  write_output_marker(temp_, command_);
}

OutputFolder::~OutputFolder() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(temp_, ec);
}

void OutputFolder::commit() {
  // Checked again: the folder may have been filled while this command computed.
  check_output_folder(out_, command_, {}, legacy_file_);
  replace_folder(temp_, out_.filename().empty() ? out_.parent_path() : out_, "output");
  committed_ = true;
}

void replace_folder(const fs::path& temp, const fs::path& target, const std::string& what) {
  std::error_code ec;
  const bool replacing = fs::exists(target, ec);
  const fs::path old = with_suffix(target, ".old.tmp" + std::to_string(::getpid()));
  if (replacing) {
    fs::remove_all(old, ec);
    fs::rename(target, old, ec);
    if (ec) throw InputError(target.string(), "cannot move the earlier " + what + " aside: " + ec.message());
  }
  fs::rename(temp, target, ec);
  if (ec) {
    std::error_code back;
    if (replacing) fs::rename(old, target, back);
    throw InputError(target.string(), "cannot move the new " + what + " into place: " + ec.message());
  }
  if (replacing) fs::remove_all(old, ec);
}

FolderLock::FolderLock(const fs::path& dir, const std::string& command) {
  const fs::path file = dir / ".hiscmcl-lock";
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw InputError(dir.string(), std::string("cannot create the lock file: ") + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd_, buf, sizeof(buf) - 1, 0);
    ::close(fd_);
    fd_ = -1;
    const std::string pid = n > 0 ? std::string(buf, size_t(n)) : "unknown";
    throw InputError(dir.string(), "another `hiscmcl " + command + "` (process " +
                                       pid.substr(0, pid.find_first_of("\n ")) +
                                       ") is writing this folder; wait for it to finish or choose another --out");
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
    ::close(fd_);
    fd_ = -1;
    throw InputError(file.string(), "cannot write the lock file (disk full?)");
  }
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace hiscmcl
