// read_counts_tsv on a gzip counts file. The first input byte picks the mode:
//   even: the rest is counts text, gzip-compressed here (fuzzes the table parser behind zlib);
//   odd:  the rest is written as is (corrupt, truncated or concatenated gzip streams).
#include <zlib.h>

#include <exception>

#include "counts_checks.h"
#include "fuzz_common.h"
#include "io/st_legacy_reader.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hiscmcl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const hiscmcl::fuzz::ScratchFile file("counts-gz", ".tsv.gz");
  if (size == 0) return 0;
  const bool raw = data[0] & 1;
  ++data;
  --size;
  if (raw) {
    file.write(data, size);
  } else {
    gzFile gz = gzopen(file.path().c_str(), "wb1");
    FUZZ_CHECK(gz != nullptr);
    if (size) FUZZ_CHECK(gzwrite(gz, data, unsigned(size)) == int(size));
    FUZZ_CHECK(gzclose(gz) == Z_OK);
  }
  try {
    hiscmcl::fuzz::check_counts_table(hiscmcl::read_counts_tsv(file.path()));
  } catch (const std::exception&) {
  }
  return 0;
}
