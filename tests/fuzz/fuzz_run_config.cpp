// The run-config readers: parse_run_config_toml (configs/*.toml, in memory) and
// run_config_from_json (a model's model.json) on the same bytes. An accepted config must survive
// the trip a trained model makes: to_json, written as text, read back equal.
#include <exception>
#include <nlohmann/json.hpp>
#include <string>

#include "config/run_config.h"
#include "fuzz_common.h"

namespace {

void check_round_trip(const hiscmcl::RunConfig& c) {
  const std::string text = hiscmcl::to_json(c).dump();
  hiscmcl::RunConfig back;
  try {
    back = hiscmcl::run_config_from_json(nlohmann::json::parse(text), "model.json");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "an accepted config does not read back: %s\n%s\n", e.what(), text.c_str());
    std::abort();
  }
  FUZZ_CHECK(back == c);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hiscmcl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    check_round_trip(hiscmcl::parse_run_config_toml(text, "fuzz.toml"));
  } catch (const std::exception&) {
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) {
    try {
      check_round_trip(hiscmcl::run_config_from_json(j, "model.json"));
    } catch (const std::exception&) {
    }
  }
  return 0;
}
