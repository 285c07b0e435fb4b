#include "encoders/torchscript_sidecar.h"

#include <cfloat>
#include <cmath>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace hiscmcl {
namespace {

// A positive JSON integer no larger than `max` (unsigned and signed JSON integers both).
int64_t positive_integer(const nlohmann::json& j, const char* key, int64_t max,
                         const std::string& file) {
  const auto& v = j.at(key);
  bool ok = false;
  int64_t out = 0;
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    ok = u > 0 && u <= uint64_t(max);
    out = ok ? int64_t(u) : 0;
  } else if (v.is_number_integer()) {
    out = v.get<int64_t>();
    ok = out > 0 && out <= max;
  }
  if (!ok)
    throw InputError(file, std::string("\"") + key + "\" must be a positive integer (at most " +
                               std::to_string(max) + ")");
  return out;
}

std::array<float, 3> read_triplet(const nlohmann::json& j, const char* key, const std::string& file,
                                  std::array<float, 3> fallback) {
  if (!j.contains(key)) return fallback;
  const auto& v = j.at(key);
  auto bad = [&] {
    return InputError(file, std::string("\"") + key + "\" must be an array of 3 numbers");
  };
  if (!v.is_array() || v.size() != 3) throw bad();
  std::array<float, 3> out{};
  for (size_t i = 0; i < 3; ++i) {
    if (!v[i].is_number()) throw bad();
    double d = v[i].get<double>();
    if (!std::isfinite(d) || std::fabs(d) > double(FLT_MAX)) throw bad();
    out[i] = float(d);
  }
  return out;
}

}  // namespace

TorchscriptSidecar parse_torchscript_sidecar(std::string_view json_text, const std::string& file,
                                             const TorchscriptSidecar& defaults) {
  TorchscriptSidecar cfg = defaults;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text.begin(), json_text.end());
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(file, std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object()) throw InputError(file, "expected a JSON object");
  if (j.contains("input_size")) cfg.input_size = int(positive_integer(j, "input_size", 16384, file));
  cfg.mean = read_triplet(j, "mean", file, cfg.mean);
  cfg.std = read_triplet(j, "std", file, cfg.std);
  for (float s : cfg.std)
    if (!(s > 0.f)) throw InputError(file, "\"std\" values must be positive");
  if (j.contains("output_dim"))
    cfg.output_dim = positive_integer(j, "output_dim", int64_t(1) << 31, file);
  return cfg;
}

TorchscriptSidecar read_torchscript_sidecar(const std::string& file,
                                            const TorchscriptSidecar& defaults) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file, "cannot open the side-car JSON");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw InputError(file, "cannot read the side-car JSON");
  return parse_torchscript_sidecar(text, file, defaults);
}

}  // namespace hiscmcl
