// read_counts_tsv on a plain-text counts table (header: empty field then genes; rows "XxY" then
// counts). InputError is the expected outcome for bad input; the output's invariants are checked.
#include <cmath>
#include <exception>

#include "counts_checks.h"
#include "fuzz_common.h"
#include "io/st_legacy_reader.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hiscmcl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const hiscmcl::fuzz::ScratchFile file("counts", ".tsv");
  try {
    hiscmcl::fuzz::check_counts_table(hiscmcl::read_counts_tsv(file.write(data, size)));
  } catch (const std::exception&) {
  }
  return 0;
}
