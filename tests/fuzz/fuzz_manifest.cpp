// load_manifest on a TOML manifest ([[section]] tables; see configs/her2st.toml), then the
// section look-ups the CLI makes.
#include <exception>

#include "fuzz_common.h"
#include "io/manifest.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  hiscmcl::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const hiscmcl::fuzz::ScratchFile file("manifest", ".toml");
  try {
    hiscmcl::Manifest m = hiscmcl::load_manifest(file.write(data, size), "/hiscmcl-fuzz-data");
    FUZZ_CHECK(!m.sections.empty());
    FUZZ_CHECK(m.select({}).size() == m.sections.size());
    for (const auto& s : m.sections) {
      FUZZ_CHECK(!s.id.empty());
      FUZZ_CHECK(m.section(s.id).id == s.id);
      if (s.spot_diameter_px) FUZZ_CHECK(*s.spot_diameter_px > 0);
      if (s.um_per_px) FUZZ_CHECK(*s.um_per_px > 0);
    }
    (void)m.select({m.sections.front().id, m.sections.back().id});
  } catch (const std::exception&) {
  }
  return 0;
}
