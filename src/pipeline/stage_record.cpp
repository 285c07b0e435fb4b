#include "pipeline/stage_record.h"

#include <vector>

#include "common/atomic_output.h"
#include "common/stage_key.h"

namespace hiscmcl {
namespace {

using nlohmann::json;

// Paths of the leaves that differ, "a.b.c", at most a few.
void changed_paths(const json& a, const json& b, const std::string& prefix, std::vector<std::string>& out) {
  if (out.size() >= 6) return;
  if (a.is_object() && b.is_object()) {
    for (auto it = b.begin(); it != b.end(); ++it) {
      std::string p = prefix.empty() ? it.key() : prefix + "." + it.key();
      if (!a.contains(it.key())) out.push_back(p);
      else changed_paths(a[it.key()], *it, p, out);
    }
    for (auto it = a.begin(); it != a.end(); ++it)
      if (!b.contains(it.key())) out.push_back(prefix.empty() ? it.key() : prefix + "." + it.key());
    return;
  }
  if (a != b) out.push_back(prefix.empty() ? "inputs" : prefix);
}

}  // namespace

StageRecord read_stage_record(const std::filesystem::path& file) {
  StageRecord r;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return r;
  try {
    json j = json::parse(read_text_file(file));
    r.key = j.at("key").get<std::string>();
    r.inputs = j.value("inputs", json());
    r.extra = j.value("extra", json::object());
  } catch (const std::exception&) {
    r = StageRecord{};  // unreadable counts as absent: the stage is recomputed
  }
  return r;
}

void write_stage_record(const std::filesystem::path& file, const json& inputs, const json& extra) {
  json j = {{"key", stage_key(inputs)}, {"inputs", inputs}, {"extra", extra}};
  write_text_file(file, j.dump(1));
}

std::optional<std::string> stale_reason(const StageRecord& record, const json& inputs) {
  if (record.key.empty()) return std::string("none yet");
  if (record.key == stage_key(inputs)) return std::nullopt;
  std::vector<std::string> paths;
  changed_paths(record.inputs, inputs, "", paths);
  std::string why;
  for (auto& p : paths) why += (why.empty() ? "" : ", ") + p;
  return "made under other inputs: " + (why.empty() ? std::string("key differs") : why);
}

}  // namespace hiscmcl
