#include "model/run_config.h"

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <set>
#include <sstream>

#include "common/error.h"

namespace hiscmcl {
namespace {

using nlohmann::json;

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
  return nullptr;
}

// Reads the listed fields of one table; anything else in the table is an error.
class Fields {
 public:
  Fields(const json& parent, const std::string& table, const std::string& source)
      : table_(table), source_(source) {
    if (parent.contains(table)) {
      if (!parent[table].is_object()) fail(table + " must be a table");
      j_ = parent[table];
    }
  }
  template <typename T>
  Fields& get(const char* key, T& out) {
    seen_.insert(key);
    if (!j_.contains(key)) return *this;
    try {
      if constexpr (std::is_floating_point_v<T>) {
        if (!j_[key].is_number()) throw std::runtime_error("expected a number");
        out = j_[key].template get<T>();
      } else {
        out = j_[key].template get<T>();
      }
    } catch (const std::exception&) {
      fail("[" + table_ + "] " + key + " has the wrong type (" + j_[key].dump() + ")");
    }
    return *this;
  }
  void done() const {
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (!seen_.count(it.key())) fail("unknown key [" + table_ + "] " + it.key());
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const { throw InputError(source_, msg); }
  json j_ = json::object();
  std::string table_, source_;
  std::set<std::string> seen_;
};

void check_choice(const std::string& source, const std::string& key, const std::string& v,
                  std::initializer_list<const char*> allowed) {
  for (auto a : allowed)
    if (v == a) return;
  std::ostringstream ss;
  ss << key << " = \"" << v << "\" is not one of:";
  for (auto a : allowed) ss << " " << a;
  throw InputError(source, ss.str());
}

RunConfig from_json_checked(const json& j, const std::string& source) {
  RunConfig c;
  for (auto it = j.begin(); it != j.end(); ++it) {
    static const std::set<std::string> top = {"name", "encoder", "model", "loss",
                                              "train", "predict", "data"};
    if (!top.count(it.key())) throw InputError(source, "unknown key " + it.key());
  }
  if (j.contains("name")) c.name = j["name"].get<std::string>();
  auto& e = c.encoder;
  Fields(j, "encoder", source)
      .get("name", e.name).get("weights", e.weights).get("spot_fov", e.spot_fov)
      .get("neighbourhood_fov", e.neighbourhood_fov).get("compat_crop_px", e.compat_crop_px)
      .get("upsampled_scales", e.upsampled_scales).get("img_norm", e.img_norm)
      .get("batch_size", e.batch_size).get("device", e.device).done();
  auto& m = c.model;
  Fields(j, "model", source)
      .get("fusion", m.fusion).get("d_model", m.d_model).get("proj_dim", m.proj_dim)
      .get("fusion_heads", m.fusion_heads).get("n_neighbours", m.n_neighbours)
      .get("n_global", m.n_global).get("scale_gate", m.scale_gate)
      .get("fusion_dropout", m.fusion_dropout).get("spot_context", m.spot_context)
      .get("spot_context_size", m.spot_context_size).get("spot_layers", m.spot_layers)
      .get("spot_heads", m.spot_heads).get("spot_head_dim", m.spot_head_dim)
      .get("spot_dropout", m.spot_dropout).get("position_embedding", m.position_embedding)
      .get("input_dropout", m.input_dropout).get("regression_head", m.regression_head).done();
  auto& l = c.loss;
  Fields(j, "loss", source)
      .get("temperature", l.temperature).get("learn_temperature", l.learn_temperature)
      .get("l2_normalize", l.l2_normalize).get("regression_weight", l.regression_weight).done();
  auto& t = c.train;
  Fields(j, "train", source)
      .get("mode", t.mode).get("epochs", t.epochs).get("batch_size", t.batch_size).get("lr", t.lr)
      .get("weight_decay", t.weight_decay).get("accumulation", t.accumulation).get("seed", t.seed)
      .get("drop_last", t.drop_last).get("augment", t.augment)
      .get("permute_pairs", t.permute_pairs).get("ensemble", t.ensemble).done();
  auto& p = c.predict;
  Fields(j, "predict", source)
      .get("k", p.k).get("distance", p.distance).get("key_context", p.key_context)
      .get("key_chunk", p.key_chunk).get("key_rounds", p.key_rounds).get("ridge_alpha", p.ridge_alpha)
      .get("weighting", p.weighting).get("softmax_temperature", p.softmax_temperature)
      .get("predictor", p.predictor).get("centre_sections", p.centre_sections).get("keys", p.keys).done();
  auto& d = c.data;
  Fields(j, "data", source)
      .get("normalization", d.normalization).get("eval_norm", d.eval_norm).done();

  check_choice(source, "model.fusion", m.fusion, {"hierarchical", "multiscale", "spot"});
  check_choice(source, "model.spot_context", m.spot_context, {"batch", "spatial"});
  check_choice(source, "train.mode", t.mode, {"frozen", "end_to_end"});
  check_choice(source, "predict.distance", p.distance, {"L1", "L2"});
  check_choice(source, "predict.key_context", p.key_context, {"compat", "per_section", "averaged"});
  if (p.key_chunk < 1 || p.key_rounds < 1) throw InputError(source, "predict.key_chunk and key_rounds must be >= 1");
  check_choice(source, "predict.weighting", p.weighting, {"inverse_square", "softmax"});
  check_choice(source, "predict.predictor", p.predictor, {"retrieval", "regression"});
  check_choice(source, "predict.keys", p.keys, {"expression", "image", "both"});
  if (p.predictor == "regression" && !m.regression_head)
    throw InputError(source, "predict.predictor = \"regression\" needs model.regression_head = true");
  if (l.regression_weight < 0) throw InputError(source, "loss.regression_weight must be >= 0");
  if (p.softmax_temperature < 0) throw InputError(source, "predict.softmax_temperature must be >= 0");
  check_choice(source, "encoder.img_norm", e.img_norm, {"imagenet", "none"});
  check_choice(source, "data.normalization", d.normalization,
               {"per_spot", "per_gene_compat", "per_spot_ln"});
  check_choice(source, "data.eval_norm", d.eval_norm, {"per_spot", "per_gene_compat", "per_spot_ln"});
  if (t.epochs < 1 || t.batch_size < 2 || t.accumulation < 1 || t.lr <= 0)
    throw InputError(source, "train: epochs >= 1, batch_size >= 2, accumulation >= 1, lr > 0");
  if (p.k < 1) throw InputError(source, "predict.k must be >= 1");
  if (t.ensemble < 1 || t.ensemble > 16) throw InputError(source, "train.ensemble must be between 1 and 16");
  if (t.ensemble > 1 && t.mode != "frozen")
    throw InputError(source, "train.ensemble > 1 is available with train.mode = \"frozen\"");
  try {
    upsampled_scale_list(e.upsampled_scales);
  } catch (const InputError& err) {
    throw InputError(source, err.what());
  }
  if (l.temperature <= 0) throw InputError(source, "loss.temperature must be > 0");
  if (m.n_neighbours < 1 || m.n_global < 1 || m.spot_context_size < 1)
    throw InputError(source, "model: n_neighbours, n_global and spot_context_size must be >= 1");
  if (m.d_model % m.fusion_heads != 0)
    throw InputError(source, "model.d_model must be divisible by model.fusion_heads");
  return c;
}

}  // namespace

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

RunConfig load_run_config(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) throw InputError(path.string(), "config file not found");
  toml::table tbl;
  try {
    tbl = toml::parse_file(path.string());
  } catch (const toml::parse_error& err) {
    std::ostringstream where;
    where << "line " << err.source().begin.line;
    throw InputError(path.string(), std::string(err.description()), where.str());
  }
  return from_json_checked(toml_to_json(tbl), path.string());
}

RunConfig run_config_from_json(const json& j) { return from_json_checked(j, "config.json"); }

json to_json(const RunConfig& c) {
  json j;
  j["name"] = c.name;
  const auto& e = c.encoder;
  j["encoder"] = {{"name", e.name}, {"weights", e.weights}, {"spot_fov", e.spot_fov},
                  {"neighbourhood_fov", e.neighbourhood_fov}, {"compat_crop_px", e.compat_crop_px},
                  {"upsampled_scales", e.upsampled_scales}, {"img_norm", e.img_norm},
                  {"batch_size", e.batch_size}, {"device", e.device}};
  const auto& m = c.model;
  j["model"] = {{"fusion", m.fusion}, {"d_model", m.d_model}, {"proj_dim", m.proj_dim},
                {"fusion_heads", m.fusion_heads}, {"n_neighbours", m.n_neighbours},
                {"n_global", m.n_global}, {"scale_gate", m.scale_gate},
                {"fusion_dropout", m.fusion_dropout}, {"spot_context", m.spot_context},
                {"spot_context_size", m.spot_context_size}, {"spot_layers", m.spot_layers},
                {"spot_heads", m.spot_heads}, {"spot_head_dim", m.spot_head_dim},
                {"spot_dropout", m.spot_dropout}, {"position_embedding", m.position_embedding},
                {"input_dropout", m.input_dropout}, {"regression_head", m.regression_head}};
  j["loss"] = {{"temperature", c.loss.temperature}, {"learn_temperature", c.loss.learn_temperature},
               {"l2_normalize", c.loss.l2_normalize}, {"regression_weight", c.loss.regression_weight}};
  const auto& t = c.train;
  j["train"] = {{"mode", t.mode}, {"epochs", t.epochs}, {"batch_size", t.batch_size},
                {"lr", t.lr}, {"weight_decay", t.weight_decay}, {"accumulation", t.accumulation},
                {"seed", t.seed}, {"drop_last", t.drop_last}, {"augment", t.augment},
                {"permute_pairs", t.permute_pairs}, {"ensemble", t.ensemble}};
  const auto& p = c.predict;
  j["predict"] = {{"k", p.k}, {"distance", p.distance}, {"key_context", p.key_context},
                  {"key_chunk", p.key_chunk}, {"key_rounds", p.key_rounds}, {"ridge_alpha", p.ridge_alpha},
                  {"weighting", p.weighting}, {"softmax_temperature", p.softmax_temperature},
                  {"predictor", p.predictor}, {"centre_sections", p.centre_sections}, {"keys", p.keys}};
  j["data"] = {{"normalization", c.data.normalization}, {"eval_norm", c.data.eval_norm}};
  return j;
}

}  // namespace hiscmcl
