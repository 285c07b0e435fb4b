// Helpers shared by the libFuzzer targets: a per-process scratch file for readers that take a
// path, quiet logs, and invariant checks that abort (so libFuzzer reports them as crashes).
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <spdlog/spdlog.h>
#include <string>
#include <system_error>

// A broken invariant of a parser's output: a bug, reported like a crash.
#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

namespace hiscmcl::fuzz {

// Parsers warn on odd but valid input; printing thousands of warnings a second slows fuzzing.
inline void quiet_logs() { spdlog::set_level(spdlog::level::off); }

// /dev/shm/hiscmcl-fuzz-<tag>-<pid><ext> (else under the temp folder), rewritten for every
// input and removed at exit. One per process, so parallel fuzzing jobs do not collide.
class ScratchFile {
 public:
  ScratchFile(const std::string& tag, const std::string& ext) {
    std::error_code ec;
    std::filesystem::path dir = "/dev/shm";
    if (!std::filesystem::is_directory(dir, ec) || access(dir.c_str(), W_OK) != 0)
      dir = std::filesystem::temp_directory_path();
    path_ = dir / ("hiscmcl-fuzz-" + tag + "-" + std::to_string(getpid()) + ext);
  }
  ~ScratchFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::filesystem::path& write(const uint8_t* data, size_t size) const {
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (!f) {
      std::perror(path_.c_str());
      std::abort();  // the harness, not the parser, is broken
    }
    if (size && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
    return path_;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace hiscmcl::fuzz
