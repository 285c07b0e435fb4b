#include "config/run_config.h"

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/error.h"

namespace hiscmcl {
namespace {

using nlohmann::json;

// configs/default.toml, embedded by CMake at configure time.
const char* const kDefaultToml =
#include "default_config.inc"
    ;

json toml_to_json(const toml::node& node) {
  if (auto t = node.as_table()) {
    json j = json::object();
    for (auto&& [k, v] : *t) j[std::string(k.str())] = toml_to_json(v);
    return j;
  }
  if (auto a = node.as_array()) {
    json j = json::array();
    for (auto&& v : *a) j.push_back(toml_to_json(v));
    return j;
  }
  if (auto v = node.as_string()) return v->get();
  if (auto v = node.as_integer()) return v->get();
  if (auto v = node.as_floating_point()) return v->get();
  if (auto v = node.as_boolean()) return v->get();
  return nullptr;  // dates and times: no setting takes one, so the type check refuses them
}

// One value, type-checked. `key` is "table.field" for messages.
struct Reader {
  const std::string& source;

  [[noreturn]] void wrong(const std::string& key, const json& v, const char* want) const {
    throw InputError(source, key + " must be " + want + ", not " + v.dump());
  }
  void read(const json& v, const std::string& key, std::string& out) const {
    if (!v.is_string()) wrong(key, v, "a string");
    out = v.get<std::string>();
  }
  void read(const json& v, const std::string& key, bool& out) const {
    if (!v.is_boolean()) wrong(key, v, "true or false");
    out = v.get<bool>();
  }
  void read(const json& v, const std::string& key, double& out) const {
    if (!v.is_number()) wrong(key, v, "a number");
    out = v.get<double>();
    // TOML reads inf and nan as numbers, but no setting means anything by them: train.lr = inf
    // trained a NaN model that predicted NaN everywhere (validate() checks the ranges).
    if (!std::isfinite(out))
      throw InputError(source, key + " must be a finite number, not " + (std::isnan(out) ? "nan" : out > 0 ? "inf" : "-inf"));
  }
  template <class I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
  void read(const json& v, const std::string& key, I& out) const {
    if (!v.is_number_integer()) wrong(key, v, "an integer");
    if constexpr (std::is_unsigned_v<I>) {
      // TOML integers arrive signed, JSON ones may be unsigned: either, when not negative.
      if (!v.is_number_unsigned() && v.get<int64_t>() < 0) wrong(key, v, "a non-negative integer");
      out = I(v.is_number_unsigned() ? v.get<uint64_t>() : uint64_t(v.get<int64_t>()));
    } else {
      if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<I>::max()))
        wrong(key, v, "a smaller integer");
      int64_t x = v.get<int64_t>();
      if (x < int64_t(std::numeric_limits<I>::min()) || x > int64_t(std::numeric_limits<I>::max()))
        wrong(key, v, "a smaller integer");
      out = I(x);
    }
  }
  template <class E, std::enable_if_t<is_choice<E>::value, int> = 0>
  void read(const json& v, const std::string& key, E& out) const {
    if (!v.is_string() || !parse_choice(v.get<std::string>(), out))
      throw InputError(source, key + " = " + v.dump() + " is not one of: " + choice_list<E>());
  }
};

json value_json(const std::string& v) { return v; }
json value_json(bool v) { return v; }
json value_json(double v) { return v; }
template <class I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
json value_json(I v) { return v; }
template <class E, std::enable_if_t<is_choice<E>::value, int> = 0>
json value_json(E v) { return choice_name(v); }

[[noreturn]] void unknown_key(const std::string& source, const std::string& table, const std::string& key,
                              const std::vector<std::string>& valid) {
  std::string where = table.empty() ? key : "[" + table + "] " + key;
  throw InputError(source, "unknown key " + where + " (did you mean " +
                               (table.empty() ? "" : table + ".") + nearest_key(key, valid) + "?)");
}

// Reads one table's fields from parent[table]; absent fields keep their defaults.
#define HISCMCL_TABLE_IO(Struct, FIELDS)                                                        \
  void read_table(const json& parent, const std::string& table, Struct& out, const Reader& r) { \
    if (!parent.contains(table)) return;                                                        \
    const json& t = parent[table];                                                              \
    if (!t.is_object()) throw InputError(r.source, table + " must be a table");                 \
    static const std::vector<std::string> names = {FIELDS(HISCMCL_FIELD_NAME)};                 \
    for (auto it = t.begin(); it != t.end(); ++it) {                                            \
      const std::string& key = it.key();                                                        \
      FIELDS(HISCMCL_FIELD_READ)                                                                \
      unknown_key(r.source, table, key, names);                                                 \
    }                                                                                           \
  }                                                                                             \
  json table_json(const Struct& c) {                                                            \
    json j = json::object();                                                                    \
    FIELDS(HISCMCL_FIELD_WRITE)                                                                 \
    return j;                                                                                   \
  }
#define HISCMCL_FIELD_NAME(type, name, def) #name,
#define HISCMCL_FIELD_READ(type, name, def) \
  if (key == #name) {                       \
    r.read(*it, table + "." #name, out.name); \
    continue;                               \
  }
#define HISCMCL_FIELD_WRITE(type, name, def) j[#name] = value_json(c.name);

HISCMCL_TABLE_IO(EncoderConfig, HISCMCL_ENCODER_FIELDS)
HISCMCL_TABLE_IO(ModelConfig, HISCMCL_MODEL_FIELDS)
HISCMCL_TABLE_IO(LossConfig, HISCMCL_LOSS_FIELDS)
HISCMCL_TABLE_IO(TrainConfig, HISCMCL_TRAIN_FIELDS)
HISCMCL_TABLE_IO(PredictConfig, HISCMCL_PREDICT_FIELDS)
HISCMCL_TABLE_IO(DataConfig, HISCMCL_DATA_FIELDS)

RunConfig from_json_checked(const json& j, const std::string& source) {
  if (!j.is_object()) throw InputError(source, "a run config must be a table of tables");
  static const std::vector<std::string> top = {"name", "encoder", "model", "loss", "train", "predict", "data"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (std::find(top.begin(), top.end(), it.key()) == top.end()) unknown_key(source, "", it.key(), top);
  Reader r{source};
  RunConfig c;
  if (j.contains("name")) r.read(j["name"], "name", c.name);
  read_table(j, "encoder", c.encoder, r);
  read_table(j, "model", c.model, r);
  read_table(j, "loss", c.loss, r);
  read_table(j, "train", c.train, r);
  read_table(j, "predict", c.predict, r);
  read_table(j, "data", c.data, r);
  validate(c, source);
  return c;
}

bool is_cnn(const std::string& name) {
  return name == "resnet18" || name == "resnet50" || name == "densenet121" || name == "small_cnn";
}

}  // namespace

#define HISCMCL_FIELD_EQ(type, name, def) &&name == o.name
bool EncoderConfig::operator==(const EncoderConfig& o) const { return true HISCMCL_ENCODER_FIELDS(HISCMCL_FIELD_EQ); }
bool ModelConfig::operator==(const ModelConfig& o) const { return true HISCMCL_MODEL_FIELDS(HISCMCL_FIELD_EQ); }
bool LossConfig::operator==(const LossConfig& o) const { return true HISCMCL_LOSS_FIELDS(HISCMCL_FIELD_EQ); }
bool TrainConfig::operator==(const TrainConfig& o) const { return true HISCMCL_TRAIN_FIELDS(HISCMCL_FIELD_EQ); }
bool PredictConfig::operator==(const PredictConfig& o) const { return true HISCMCL_PREDICT_FIELDS(HISCMCL_FIELD_EQ); }
bool DataConfig::operator==(const DataConfig& o) const { return true HISCMCL_DATA_FIELDS(HISCMCL_FIELD_EQ); }
#undef HISCMCL_FIELD_EQ
bool RunConfig::operator==(const RunConfig& o) const {
  return name == o.name && encoder == o.encoder && model == o.model && loss == o.loss && train == o.train &&
         predict == o.predict && data == o.data;
}

std::string nearest_key(const std::string& key, const std::vector<std::string>& valid) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j)
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  std::string best;
  size_t best_d = SIZE_MAX;
  for (auto& v : valid)
    if (size_t d = distance(key, v); d < best_d) best_d = d, best = v;
  return best;
}

void validate(const RunConfig& c, const std::string& source) {
  auto fail = [&](const std::string& msg) { throw InputError(source, msg); };
  const auto& e = c.encoder;
  const auto& m = c.model;
  const auto& t = c.train;
  const auto& p = c.predict;
  // Every number finite, also in a config built in code or read from JSON (model.json): NaN passes
  // every `x < lo` test below, and an infinite lr or temperature trains a NaN model.
  auto finite = [&](const std::string& table, const std::string& key, const auto& v) {
    if constexpr (std::is_floating_point_v<std::decay_t<decltype(v)>>)
      if (!std::isfinite(v)) fail(table + "." + key + " must be a finite number, not " + std::to_string(v));
  };
#define HISCMCL_FIELD_FINITE(type, name, def) finite(table, #name, fields.name);
#define HISCMCL_TABLE_FINITE(NAME, FIELDS_OF, FIELDS) \
  {                                                   \
    const std::string table = NAME;                   \
    const auto& fields = FIELDS_OF;                   \
    FIELDS(HISCMCL_FIELD_FINITE)                      \
  }
  HISCMCL_TABLE_FINITE("encoder", c.encoder, HISCMCL_ENCODER_FIELDS)
  HISCMCL_TABLE_FINITE("model", c.model, HISCMCL_MODEL_FIELDS)
  HISCMCL_TABLE_FINITE("loss", c.loss, HISCMCL_LOSS_FIELDS)
  HISCMCL_TABLE_FINITE("train", c.train, HISCMCL_TRAIN_FIELDS)
  HISCMCL_TABLE_FINITE("predict", c.predict, HISCMCL_PREDICT_FIELDS)
  HISCMCL_TABLE_FINITE("data", c.data, HISCMCL_DATA_FIELDS)
#undef HISCMCL_TABLE_FINITE
#undef HISCMCL_FIELD_FINITE
  if (!(e.name == "histo" || is_cnn(e.name) || (e.name.rfind("torchscript:", 0) == 0 && e.name.size() > 12)))
    fail("encoder.name = \"" + e.name + "\" is not one of: histo | resnet18 | resnet50 | densenet121 | small_cnn | torchscript:<file>");
  if (!(e.device == "cpu" || e.device.rfind("cuda", 0) == 0))
    fail("encoder.device = \"" + e.device + "\" is not one of: cpu | cuda | cuda:N");
  // A crop is fov x the spot diameter on a side; past 100 diameters it is most of a section (and
  // the pixel count overflows): a typo, not a field of view.
  if (!(e.spot_fov > 0 && e.spot_fov <= 100) || !(e.neighbourhood_fov > 0 && e.neighbourhood_fov <= 100))
    fail("encoder.spot_fov and neighbourhood_fov must be > 0 and at most 100 (spot diameters)");
  if (e.compat_crop_px < 0) fail("encoder.compat_crop_px must be >= 0");
  if (e.batch_size < 1) fail("encoder.batch_size must be >= 1 (crops through the encoder at once)");
  try {
    upsampled_scale_list(e.upsampled_scales);
  } catch (const InputError& err) {
    fail(err.what());
  }
  if (m.d_model < 1 || m.proj_dim < 1 || m.fusion_heads < 1 || m.spot_heads < 1 || m.spot_head_dim < 1 ||
      m.spot_layers < 0)
    fail("model: d_model, proj_dim, fusion_heads, spot_heads and spot_head_dim must be >= 1, spot_layers >= 0");
  if (m.d_model % m.fusion_heads != 0) fail("model.d_model must be divisible by model.fusion_heads");
  if (m.n_neighbours < 1 || m.n_global < 1 || m.spot_context_size < 1)
    fail("model: n_neighbours, n_global and spot_context_size must be >= 1");
  for (double d : {m.fusion_dropout, m.spot_dropout, m.input_dropout})
    if (!(d >= 0 && d < 1)) fail("model: dropout rates must be in [0, 1)");
  // The contrastive logits are similarities in [-1, 1] divided by the temperature: below 1e-4 they
  // leave float32's useful range, above 1e4 every pair looks alike.
  constexpr double kMinTemperature = 1e-4, kMaxTemperature = 1e4;
  if (!(c.loss.temperature >= kMinTemperature && c.loss.temperature <= kMaxTemperature))
    fail("loss.temperature = " + std::to_string(c.loss.temperature) + " must be between 1e-4 and 1e4");
  if (!(c.loss.regression_weight >= 0)) fail("loss.regression_weight must be >= 0");
  if (t.epochs < 1 || t.batch_size < 2 || t.accumulation < 1 || !(t.weight_decay >= 0))
    fail("train: epochs >= 1, batch_size >= 2, accumulation >= 1, weight_decay >= 0");
  // Adam moves each weight by about lr per step: past 1 the weights jump by more than their own
  // scale and the loss diverges within a few steps.
  if (!(t.lr > 0 && t.lr <= 1)) fail("train.lr = " + std::to_string(t.lr) + " must be > 0 and at most 1");
  if (t.ensemble < 1 || t.ensemble > 16) fail("train.ensemble must be between 1 and 16");
  if (!(t.max_memory_gb >= 0)) fail("train.max_memory_gb must be >= 0 (0: half the machine's memory)");
  if (t.mode == TrainMode::end_to_end) {
    if (!is_cnn(e.name))
      fail("train.mode = \"end_to_end\" trains a CNN trunk: encoder.name must be resnet18, resnet50, densenet121 or small_cnn, not \"" +
           e.name + "\"");
    if (t.ensemble > 1) fail("train.ensemble > 1 is available with train.mode = \"frozen\" only: set train.ensemble = 1");
    // The trunk trains on its own float32 outputs; nothing is cached to store in float16.
    if (e.feature_dtype != FeatureDtype::float32)
      fail("encoder.feature_dtype = \"float16\" is for cached features (train.mode = \"frozen\"): set it to \"float32\"");
    // Image keys would need every training spot re-embedded through the trained trunk after
    // training; refused here rather than failing after the whole run.
    if (p.keys != RetrievalKeys::expression)
      fail("train.mode = \"end_to_end\" needs predict.keys = \"expression\" (not \"" + choice_name(p.keys) + "\")");
  }
  if (p.k < 1) fail("predict.k must be >= 1");
  if (p.key_chunk < 1 || p.key_rounds < 1) fail("predict.key_chunk and key_rounds must be >= 1");
  if (!(p.softmax_temperature == 0 ||
        (p.softmax_temperature >= kMinTemperature && p.softmax_temperature <= kMaxTemperature)))
    fail("predict.softmax_temperature must be 0 (the model's learned temperature) or between 1e-4 and 1e4");
  if (!(p.ridge_alpha >= 0)) fail("predict.ridge_alpha must be >= 0");
  if (p.nlist < 0) fail("predict.nlist must be >= 0 (0: chosen from the number of keys)");
  if (p.nprobe < 1) fail("predict.nprobe must be >= 1");
  if (p.regions < 0 || p.regions > 20) fail("predict.regions must be 0 (none) to 20");
  if (p.stack_weight != -1.0 && !(p.stack_weight >= 0 && p.stack_weight <= 1))
    fail("predict.stack_weight must be -1 (fitted per gene) or between 0 and 1");
  if (p.predictor == PredictorKind::regression && !m.regression_head)
    fail("predict.predictor = \"regression\" needs model.regression_head = true");
  if (p.predictor == PredictorKind::stacked && c.train.mode == TrainMode::end_to_end)
    fail("predict.predictor = \"stacked\" (the default) blends retrieval with a ridge on the cached features, "
         "which an end-to-end model does not read: set predict.predictor = \"retrieval\" (as configs/reference.toml "
         "does), or train.mode = \"frozen\"");
}

std::vector<int> upsampled_scale_list(const std::string& text) {
  std::vector<int> out;
  if (text.empty()) return out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    int v = 0;
    try {
      v = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    while (used < item.size() && item[used] == ' ') ++used;
    if (used != item.size() || v <= 0)
      throw InputError("encoder.upsampled_scales", "'" + text + "' is not a list of positive pixel sizes like \"224,672\"");
    out.push_back(v);
  }
  if (out.size() < 2)
    throw InputError("encoder.upsampled_scales", "'" + text + "' needs at least two sizes (the crop, then its upsamplings)");
  return out;
}

RunConfig parse_run_config_toml(const std::string& text, const std::string& source) {
  toml::table tbl;
  try {
    tbl = toml::parse(text, source);
  } catch (const toml::parse_error& err) {
    std::ostringstream where;
    where << "line " << err.source().begin.line;
    throw InputError(source, std::string(err.description()), where.str());
  }
  return from_json_checked(toml_to_json(tbl), source);
}

RunConfig load_run_config(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw InputError(path.string(), "config file not found");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) throw InputError(path.string(), "cannot read the config file");
  return parse_run_config_toml(text.str(), path.string());
}

RunConfig run_config_from_json(const json& j, const std::string& source) { return from_json_checked(j, source); }

RunConfig with_overrides(const RunConfig& c, const std::vector<std::string>& sets) {
  if (sets.empty()) return c;
  json j = to_json(c);
  for (const std::string& set : sets) {
    const size_t eq = set.find('='), dot = set.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot > eq || dot == 0 || dot + 1 == eq)
      throw InputError("--set " + set, "expected table.key=value, e.g. predict.k=50");
    const std::string table = set.substr(0, dot), key = set.substr(dot + 1, eq - dot - 1), text = set.substr(eq + 1);
    static const std::vector<std::string> tables = {"encoder", "model", "loss", "train", "predict", "data"};
    if (std::find(tables.begin(), tables.end(), table) == tables.end()) unknown_key("--set " + set, "", table, tables);
    json value;
    try {
      value = toml_to_json(*toml::parse("v = " + text)["v"].node());
    } catch (const toml::parse_error&) {
      value = text;  // a bare word: a choice's name
    }
    j[table][key] = value;  // an unknown key is refused below, with the nearest valid one
  }
  std::string source = "--set";
  for (const auto& s : sets) source += " " + s;
  return from_json_checked(j, source);
}

RunConfig with_predict_overrides(const RunConfig& trained, const std::vector<std::string>& sets,
                                 const std::string& model) {
  static const std::vector<std::string> fixed = {"keys", "key_context", "key_chunk", "key_rounds", "ridge_alpha"};
  for (const std::string& set : sets) {
    const std::string key = set.substr(0, set.find('='));
    if (key.rfind("predict.", 0) != 0)
      throw InputError("--set " + set, "predict takes only predict.* settings; " + key +
                                           " is fixed when the model is trained (" + model + ")");
    if (std::find(fixed.begin(), fixed.end(), key.substr(8)) != fixed.end())
      throw InputError("--set " + set, key + " is fixed when the model is trained (" + model + "); train again to change it");
  }
  return with_overrides(trained, sets);
}

json to_json(const RunConfig& c) {
  json j;
  j["name"] = c.name;
  j["encoder"] = table_json(c.encoder);
  j["model"] = table_json(c.model);
  j["loss"] = table_json(c.loss);
  j["train"] = table_json(c.train);
  j["predict"] = table_json(c.predict);
  j["data"] = table_json(c.data);
  return j;
}

const std::string& default_config_toml() {
  static const std::string text = kDefaultToml;
  return text;
}

RunConfig default_run_config() { return parse_run_config_toml(default_config_toml(), "configs/default.toml (built in)"); }

json embed_settings(const EncoderConfig& e, uint64_t seed) {
  json j = table_json(e);
  j.erase("batch_size");  // how many crops go through at once changes no feature
  j.erase("device");
  // The cache's dtype is its files' own (io/npy.h): float32 files serve a float16 run, rounded.
  j.erase("feature_dtype");
  j.erase("feature_norm");  // applied on reading: the cache keeps the encoder's own values
  // A randomly initialised CNN's features depend on its seed; weights or weight-free features do not.
  if (is_cnn(e.name) && e.weights.empty()) j["seed"] = seed;
  return j;
}

json train_settings(const RunConfig& c) {
  json j = to_json(c);
  j.erase("name");
  j.erase("predict");
  j["encoder"].erase("batch_size");
  j["data"].erase("eval_norm");
  j["train"].erase("max_memory_gb");  // streamed features train the same model as resident ones
  // Training reads the retrieval-key settings: keys are computed when the model is made.
  j["keys"] = {{"keys", choice_name(c.predict.keys)}, {"key_context", choice_name(c.predict.key_context)},
               {"key_chunk", c.predict.key_chunk}, {"key_rounds", c.predict.key_rounds},
               {"eval_norm", choice_name(c.data.eval_norm)}};
  return j;
}

json predict_settings(const RunConfig& c) {
  json j = table_json(c.predict);
  j["eval_norm"] = choice_name(c.data.eval_norm);
  return j;
}

}  // namespace hiscmcl
