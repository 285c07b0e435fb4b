// Errors a user can act on. InputError names the file (and where in it) and what is wrong;
// the CLI prints it and exits non-zero without writing partial output.
#pragma once
#include <stdexcept>
#include <string>

namespace hiscmcl {

class InputError : public std::runtime_error {
 public:
  // file: the offending path; where: "line 12", "dataset /matrix/data", or empty.
  InputError(const std::string& file, const std::string& what, const std::string& where = "")
      : std::runtime_error(file + (where.empty() ? "" : " (" + where + ")") + ": " + what),
        file_(file) {}
  const std::string& file() const { return file_; }
  // One whose message is already formatted (as another InputError's what()).
  static InputError verbatim(const std::string& file, const std::string& message) {
    return InputError(Verbatim{}, file, message);
  }

 private:
  struct Verbatim {};
  InputError(Verbatim, const std::string& file, const std::string& message)
      : std::runtime_error(message), file_(file) {}
  std::string file_;
};

}  // namespace hiscmcl
