// Reuse without staleness: every reusable artefact carries a stage record, a JSON file with the key
// of the inputs it was made from (and the inputs themselves, so a mismatch can say what changed).
//   StageRecord r = read_stage_record(file);          // r.key empty when absent or unreadable
//   if (auto why = stale_reason(r, inputs)) recompute; // why names the changed settings
#pragma once
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace hiscmcl {

struct StageRecord {
  std::string key;
  nlohmann::json inputs;
  nlohmann::json extra;  // whatever the stage keeps beside its key (loss curve, timings)
};

StageRecord read_stage_record(const std::filesystem::path& file);
// Written atomically; `file` usually lies inside the artefact's temporary folder, so the record
// and the artefact appear together.
void write_stage_record(const std::filesystem::path& file, const nlohmann::json& inputs,
                        const nlohmann::json& extra = nlohmann::json::object());

// nullopt when the record's key matches `inputs`; else a short reason for the log ("none yet" or
// the changed entries, e.g. "train.epochs, sections").
std::optional<std::string> stale_reason(const StageRecord& record, const nlohmann::json& inputs);

}  // namespace hiscmcl
