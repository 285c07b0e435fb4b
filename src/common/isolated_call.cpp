#include "common/isolated_call.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/log.h"

namespace hiscmcl {
namespace {

// Exit codes of the child; the pipe carries the message.
constexpr int kOk = 0, kInputError = 3, kOtherError = 4;

void write_all(int fd, const std::string& s) {
  const char* p = s.data();
  size_t left = s.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= size_t(n);
  }
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, size_t(n));
  }
}

[[noreturn]] void child(int fd, const std::function<void()>& check) {
  spdlog::set_level(spdlog::level::off);  // the parent reports; warnings would print twice
  int code = kOk;
  try {
    check();
  } catch (const InputError& e) {
    write_all(fd, e.file() + '\0' + e.what());
    code = kInputError;
  } catch (const std::exception& e) {
    write_all(fd, e.what());
    code = kOtherError;
  }
  ::_exit(code);  // no destructors or atexit handlers of the parent's objects
}

}  // namespace

void run_isolated(const std::string& file, const std::function<void()>& check) {
  int fds[2];
  if (::pipe(fds) != 0) {
    spdlog::debug("{}: no pipe ({}); checking in this process", file, std::strerror(errno));
    return check();
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    spdlog::debug("{}: no fork ({}); checking in this process", file, std::strerror(errno));
    return check();
  }
  if (pid == 0) {
    ::close(fds[0]);
    child(fds[1], check);
  }
  ::close(fds[1]);
  const std::string message = read_all(fds[0]);
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error(file + ": lost the checking process (" + std::strerror(errno) + ")");

  if (WIFSIGNALED(status))
    throw InputError(file, std::string("the reader crashed on it (") + strsignal(WTERMSIG(status)) +
                               "): the file is corrupt or damaged");
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == kOk) return;
  if (code == kInputError) {
    const size_t split = message.find('\0');
    if (split != std::string::npos) throw InputError::verbatim(message.substr(0, split), message.substr(split + 1));
  }
  if (code == kOtherError) throw std::runtime_error(message);
  throw InputError(file, "the reader failed on it (exit code " + std::to_string(code) +
                             "): the file is corrupt or damaged");
}

}  // namespace hiscmcl
