// NaN and infinities are not JSON: metrics files hold null for them and read null back as NaN.
#pragma once
#include <cmath>

#include <nlohmann/json.hpp>

namespace hiscmcl {

inline nlohmann::json json_number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
inline double number_or_nan(const nlohmann::json& j) { return j.is_number() ? j.get<double>() : std::nan(""); }

// Every non-finite float below j replaced by null.
inline nlohmann::json json_clean(const nlohmann::json& j) {
  if (j.is_number_float()) return json_number(j.get<double>());
  if (!j.is_object() && !j.is_array()) return j;
  nlohmann::json out = j;
  for (auto it = out.begin(); it != out.end(); ++it) *it = json_clean(*it);
  return out;
}

}  // namespace hiscmcl
