#include <gtest/gtest.h>

#include <signal.h>

#include <string>

#include "common/error.h"
#include "common/isolated_call.h"

using hiscmcl::InputError;
using hiscmcl::run_isolated;

TEST(IsolatedCall, RunsTheCheckInAnotherProcess) {
  int touched = 0;
  EXPECT_NO_THROW(run_isolated("f.h5", [&] { touched = 1; }));
  EXPECT_EQ(touched, 0) << "the check ran in this process, not in a child";
}

TEST(IsolatedCall, BringsBackTheChildsInputErrorUnchanged) {
  try {
    run_isolated("guarded.h5", [] { throw InputError("inner.h5", "bad attribute", "dataset /X"); });
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "inner.h5");
    EXPECT_STREQ(e.what(), "inner.h5 (dataset /X): bad attribute");
  }
}

TEST(IsolatedCall, OtherExceptionsComeBackAsRuntimeErrors) {
  try {
    run_isolated("f.h5", [] { throw std::out_of_range("index 7 past the end"); });
    FAIL() << "no error";
  } catch (const InputError&) {
    FAIL() << "an internal error is not the input's fault";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "index 7 past the end");
  }
}

// The case the guard exists for: the library kills the process. SIGABRT is not taken over by the
// sanitizers, so the message is the same in every build.
TEST(IsolatedCall, ACrashInTheChildIsAnInputErrorNamingTheFile) {
  try {
    run_isolated("damaged.h5", [] { ::raise(SIGABRT); });
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "damaged.h5");
    EXPECT_NE(std::string(e.what()).find("crashed"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();
  }
}

// A segfault: a release build sees the signal; under ASan the sanitizer reports it and exits
// non-zero. Either way this process lives on and the error names the file.
TEST(IsolatedCall, ASegfaultInTheChildLeavesThisProcessRunning) {
  try {
    run_isolated("damaged.h5", [] {
      volatile int* null = nullptr;
      *null = 1;
    });
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "damaged.h5");
    EXPECT_EQ(std::string(e.what()).rfind("damaged.h5: the reader", 0), 0u) << e.what();
  }
  EXPECT_NO_THROW(run_isolated("ok.h5", [] {}));
}
