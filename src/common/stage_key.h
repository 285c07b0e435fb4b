// Keys for reusable artefacts: a stage's output is reused only when the key stored beside it equals
// the key of everything that determines it now (settings, inputs' file stamps, upstream keys).
//   stage_key(j)   128-bit hex digest of j's canonical dump (object keys sorted)
//   file_stamp(p)  {path, size, mtime} of a file; a folder stamps every file below it; null if absent
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace hiscmcl {

uint64_t fnv1a64(const void* data, size_t n, uint64_t h = 1469598103934665603ull);
std::string stage_key(const nlohmann::json& inputs);
nlohmann::json file_stamp(const std::filesystem::path& path);

}  // namespace hiscmcl
