// No partial output: write to a temporary sibling, then rename into place on commit().
// If the object is destroyed without commit() (an error was thrown), the temporary is removed.
#pragma once
#include <filesystem>
#include <string>

namespace hiscmcl {

class AtomicPath {
 public:
  explicit AtomicPath(std::filesystem::path final_path);
  ~AtomicPath();
  AtomicPath(const AtomicPath&) = delete;
  AtomicPath& operator=(const AtomicPath&) = delete;
  // Where to write now (a file or a folder, as the caller chooses).
  const std::filesystem::path& temp() const { return temp_; }
  const std::filesystem::path& final_path() const { return final_; }
  void commit();  // replaces any existing final path

 private:
  std::filesystem::path final_, temp_;
  bool committed_ = false;
};

// Removes what killed runs left below dir: entries named <name>.tmp<pid> whose process is gone
// (a SIGKILL skips the destructor that would have removed them). Returns how many it removed.
int remove_stale_temporaries(const std::filesystem::path& dir);

// Writes text to path atomically.
void write_text_file(const std::filesystem::path& path, const std::string& text);
std::string read_text_file(const std::filesystem::path& path);

}  // namespace hiscmcl
