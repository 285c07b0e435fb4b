#include "encoders/torchscript_sidecar.h"

#include <algorithm>
#include <cfloat>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <vector>
#include <cmath>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/stage_key.h"
#include "config/run_config.h"

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
  static const std::vector<std::string> keys = {"input_size", "mean", "std", "output_dim"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (std::find(keys.begin(), keys.end(), it.key()) == keys.end())
      throw InputError(file, "unknown key \"" + it.key() + "\" (did you mean \"" + nearest_key(it.key(), keys) +
                                 "\"? valid: input_size, mean, std, output_dim)");
  if (j.contains("input_size"))
    cfg.input_size = int(positive_integer(j, "input_size", kMaxTorchscriptInputSize, file));
  cfg.mean = read_triplet(j, "mean", file, cfg.mean);
  cfg.std = read_triplet(j, "std", file, cfg.std);
  for (float s : cfg.std)
    if (!(s > 0.f)) throw InputError(file, "\"std\" values must be positive");
  // Crops reach the model as [0, 1] pixel values: a mean or std far outside that scale (3e38, or
  // 0-255 units) turns every input into huge or NaN values.
  constexpr float kMaxScale = 10.f, kMinStd = 1e-4f;
  for (size_t c = 0; c < 3; ++c)
    if (!(std::fabs(cfg.mean[c]) <= kMaxScale && cfg.std[c] >= kMinStd && cfg.std[c] <= kMaxScale))
      throw InputError(file, "\"mean\" values must be within [-10, 10] and \"std\" values within [1e-4, 10]: crops "
                             "are fed as [0, 1] pixel values (for 0-255 units, divide by 255)");
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

std::string find_torchscript_sidecar(const std::string& model_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p(model_path);
  const fs::path a = p.string() + ".json";
  if (fs::exists(a, ec)) return a.string();
  fs::path b = p;
  b.replace_extension(".json");
  if (b != p && fs::exists(b, ec)) return b.string();
  return {};
}

nlohmann::json torchscript_cache_inputs(const std::string& model_path) {
  nlohmann::json out;
  const nlohmann::json stamp = file_stamp(model_path);
  out["model"] = stamp;
  if (!stamp.is_null()) {
    // Hashing a 1 GB model takes a second or two: once per process per version of the file, not
    // once per section and level.
    static std::mutex mutex;
    static std::map<std::string, std::string> hashes;
    const std::string id = stamp.dump();
    std::lock_guard<std::mutex> lock(mutex);
    auto it = hashes.find(id);
    if (it == hashes.end()) {
      std::ifstream in(model_path, std::ios::binary);
      if (!in) throw InputError(model_path, "cannot read the TorchScript model");
      std::vector<char> buf(1 << 20);
      uint64_t a = 1469598103934665603ull, b = 0x84222325cbf29ce4ull;  // two FNV-1a passes: 128 bits
      while (in.read(buf.data(), std::streamsize(buf.size())) || in.gcount() > 0) {
        a = fnv1a64(buf.data(), size_t(in.gcount()), a);
        b = fnv1a64(buf.data(), size_t(in.gcount()), b);
      }
      char hex[33];
      std::snprintf(hex, sizeof hex, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
      it = hashes.emplace(id, hex).first;
    }
    out["content"] = it->second;
  }
  const std::string sidecar = find_torchscript_sidecar(model_path);
  if (!sidecar.empty()) {
    std::ifstream in(sidecar, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Parsed, so that re-indenting it keeps the cache; a broken one is kept as text (the encoder
    // refuses it when it is built).
    nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
    out["sidecar"] = {{"path", sidecar}, {"content", parsed.is_discarded() ? nlohmann::json(text) : parsed}};
  }
  return out;
}

}  // namespace hiscmcl
