// A command's output folder: claimed before any work, written aside, moved into place at the end.
// A command writes only into a folder that is absent, empty, or holds its own earlier output (the
// marker file OUT/.hiscmcl-output names the command that wrote it). Refused, with the folder named:
// any other existing folder, a file, the current directory or one above it, and every input of the
// command or a folder holding one. Replacing an earlier output never leaves the folder missing and
// never removes a folder this command did not write.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace hiscmcl {

inline constexpr const char* kOutputMarker = ".hiscmcl-output";

// Throws InputError naming `out` when `command` may not write there. `legacy_file` (relative to
// out), when given, also marks an earlier output of the command written before markers existed.
void check_output_folder(const std::filesystem::path& out, const std::string& command,
                         const std::vector<std::filesystem::path>& inputs, const std::string& legacy_file = "");

// The command that wrote dir (its marker), or empty.
std::string output_folder_owner(const std::filesystem::path& dir);
void write_output_marker(const std::filesystem::path& dir, const std::string& command);
// For commands that write into their folder in place (cv resumes, demo): creates it and marks it.
void create_output_folder(const std::filesystem::path& dir, const std::string& command);

// Removes siblings <out>.tmp<pid> (and <out>.old.tmp<pid>) whose process is gone: what a killed run
// of a command into `out` left. Returns how many it removed.
int remove_stale_output_temporaries(const std::filesystem::path& out);

// Renames the folder `temp` to `target`. An existing `target` is first moved aside and removed only
// once the new one is in place, so the path is never missing; on failure it is moved back.
// InputError naming `target` ("the new <what>") when a rename fails.
void replace_folder(const std::filesystem::path& temp, const std::filesystem::path& target, const std::string& what);

class OutputFolder {
 public:
  // Checks `out` (above), removes killed runs' temporaries, and creates the temporary folder with
  // the marker in it, so an unwritable place fails here, before the compute.
  OutputFolder(std::filesystem::path out, std::string command, const std::vector<std::filesystem::path>& inputs,
               const std::string& legacy_file = "");
  ~OutputFolder();
  OutputFolder(const OutputFolder&) = delete;
  OutputFolder& operator=(const OutputFolder&) = delete;
  const std::filesystem::path& temp() const { return temp_; }  // write here
  const std::filesystem::path& path() const { return out_; }
  // Moves the finished folder into place: an earlier output of this command is renamed aside
  // first and removed only after the new one is in place.
  void commit();

 private:
  std::filesystem::path out_, temp_;
  std::string command_, legacy_file_;
  bool committed_ = false;
};

// An exclusive lock on a folder for one run (flock on DIR/.hiscmcl-lock, released by the kernel
// when the process dies, so a dead run's lock is simply taken over). A second run is refused with
// the running one's process id.
class FolderLock {
 public:
  explicit FolderLock(const std::filesystem::path& dir, const std::string& command);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace hiscmcl
