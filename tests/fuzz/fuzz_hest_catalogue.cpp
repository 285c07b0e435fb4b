// The HEST-1k catalogue: parse_csv (RFC 4180 quoting, a BOM) on the input, then parse_where on
// its first line, as `hiscmcl manifest hest --where` reads one. Rows keep every byte but the
// quoting; an error is an InputError naming the file or the flag.
#include <exception>
#include <string>
#include <string_view>

#include "common/error.h"
#include "fuzz_common.h"
#include "io/hest_catalogue.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hiscmcl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto rows = hiscmcl::parse_csv(text, "HEST_v1_1_0.csv");
    size_t bytes = 0;
    for (const auto& r : rows)
      for (const auto& f : r) bytes += f.size();
    FUZZ_CHECK(bytes <= size);  // fields are pieces of the input, never more
  } catch (const hiscmcl::InputError& e) {
    FUZZ_CHECK(std::string_view(e.what()).find("HEST_v1_1_0.csv") != std::string_view::npos);
  }
  const std::string first(text.substr(0, text.find('\n')));
  try {
    for (const auto& [key, value] : hiscmcl::parse_where(first)) FUZZ_CHECK(!key.empty());
  } catch (const hiscmcl::InputError& e) {
    FUZZ_CHECK(std::string_view(e.what()).find("--where") != std::string_view::npos);
  }
  return 0;
}
