#include "train/model_bundle.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "common/atomic_output.h"
#include "common/file_sink.h"
#include "common/error.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace hiscmcl {

std::vector<std::string> ModelBundle::marker_genes() const {
  std::vector<std::string> out;
  for (const auto& set : marker_sets)
    for (const auto& g : set.genes)
      if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
  return out;
}

void save_model_bundle(const fs::path& dir, ModelBundle& b) {
  fs::create_directories(dir);
  json j;
  j["format"] = "hiscmcl-model/2";  // 2: per-level feature statistics, optional trunk
  j["config"] = to_json(b.config);
  j["shape"] = {{"feature_dim", b.shape.feature_dim}, {"n_scales", b.shape.n_scales},
                {"n_genes", b.shape.n_genes}, {"max_x", b.shape.max_x}, {"max_y", b.shape.max_y}};
  j["genes"] = b.genes;
  j["normalization"] = b.normalization;
  j["train_sections"] = b.train_sections;
  j["marker_sets"] = json::array();
  for (const auto& set : b.marker_sets) j["marker_sets"].push_back({{"name", set.name}, {"genes", set.genes}});
  j["key_offsets"] = b.key_offsets;
  j["spot_diameter_px"] = b.spot_diameter_px;
  j["um_per_px"] = b.um_per_px;
  j["feature_levels"] = b.stats.levels;
  j["trunk"] = b.trunk ? b.config.encoder.name : "";
  j["members"] = b.members.size();
  for (size_t m = 0; m < b.members.size(); ++m)
    save_model_bundle(member_dir(dir, m), b.members[m]);
  {
    AtomicPath p(dir / "model.pt");
    FileSink sink(p.temp());
    torch::save(b.model, [&sink](const void* d, size_t n) { return sink.write(d, n); });
    sink.finish();
    p.commit();
  }
  {
    AtomicPath p(dir / "tensors.pt");
    std::vector<torch::Tensor> t = {b.key_embeddings, b.key_expression};
    for (size_t l = 0; l < b.stats.levels.size(); ++l) {
      t.push_back(b.stats.mean[l]);
      t.push_back(b.stats.sd[l]);
    }
    FileSink sink(p.temp());
    torch::save(t, [&sink](const void* d, size_t n) { return sink.write(d, n); });
    sink.finish();
    p.commit();
  }
  if (b.trunk) {
    AtomicPath p(dir / "trunk.pt");
    save_cnn_weights(*b.trunk, p.temp().string());
    p.commit();
  }
  // model.json last: its presence marks a complete bundle.
  write_text_file(dir / "model.json", j.dump(1));
}

namespace {

bool all_finite(const torch::Tensor& t) {
  return !t.defined() || !t.is_floating_point() || torch::isfinite(t).all().item<bool>();
}

// A module whose weights hold NaN or infinity is refused, naming the file and the weight: it would
// predict NaN for every spot (a model trained before training stopped at a non-finite loss, or a
// damaged file).
void require_finite_weights(const torch::nn::Module& m, const fs::path& file) {
  for (const auto& p : m.named_parameters(true))
    if (!all_finite(p.value())) throw InputError(file.string(), "non-finite weights (NaN or infinity)", p.key());
  for (const auto& p : m.named_buffers(true))
    if (!all_finite(p.value())) throw InputError(file.string(), "non-finite values (NaN or infinity)", p.key());
}

}  // namespace

ModelBundle load_model_bundle(const fs::path& dir) {
  fs::path meta = dir / "model.json";
  if (!fs::exists(meta)) throw InputError(dir.string(), "not a trained model folder (no model.json)");
  ModelBundle b;
  std::string trunk;
  size_t n_members = 0;
  try {
    json j = json::parse(read_text_file(meta));
    const std::string format = j.value("format", "");
    if (format == "hiscmcl-model/1")
      throw InputError(meta.string(), "written by an older hiscmcl (format 1); train the model again");
    if (format != "hiscmcl-model/2") throw InputError(meta.string(), "unknown model format '" + format + "'");
    b.config = run_config_from_json(j["config"], meta.string());
    auto& s = j["shape"];
    b.shape = {s["feature_dim"], s["n_scales"], s["n_genes"], s["max_x"], s["max_y"]};
    b.genes = j["genes"].get<std::vector<std::string>>();
    b.normalization = j["normalization"];
    b.train_sections = j["train_sections"].get<std::vector<std::string>>();
    for (const auto& set : j.value("marker_sets", json::array()))
      b.marker_sets.push_back({set.at("name").get<std::string>(), set.at("genes").get<std::vector<std::string>>()});
    b.key_offsets = j["key_offsets"].get<std::vector<int64_t>>();
    b.spot_diameter_px = j["spot_diameter_px"];
    b.um_per_px = j["um_per_px"];
    b.stats.levels = j.at("feature_levels").get<std::vector<std::string>>();
    trunk = j.value("trunk", "");
    n_members = j.value("members", size_t(0));
  } catch (const json::exception& e) {
    throw InputError(meta.string(), std::string("malformed: ") + e.what());
  }
  b.model = HisCMCLModel(b.shape, b.config);
  fs::path reading = dir / "model.pt";  // the file a c10::Error below comes from
  try {
    for (const char* name : {"model.pt", "tensors.pt"})
      if (!fs::exists(dir / name)) throw InputError((dir / name).string(), "missing from the model folder (file not found)");
    torch::load(b.model, (dir / "model.pt").string());
    require_finite_weights(*b.model, dir / "model.pt");
    std::vector<torch::Tensor> t;
    reading = dir / "tensors.pt";
    torch::load(t, (dir / "tensors.pt").string());
    if (t.size() != 2 + 2 * b.stats.levels.size())
      throw InputError((dir / "tensors.pt").string(),
                       "expected " + std::to_string(2 + 2 * b.stats.levels.size()) + " tensors");
    for (size_t i = 0; i < t.size(); ++i)
      if (!all_finite(t[i]))
        throw InputError((dir / "tensors.pt").string(), "non-finite values (NaN or infinity)",
                         i == 0   ? "the retrieval keys"
                         : i == 1 ? "the keys' expression"
                                  : "the feature statistics of level " + b.stats.levels[(i - 2) / 2]);
    b.key_embeddings = t[0];
    b.key_expression = t[1];
    // A model.json edited by hand (or from another model) is refused here, naming the model,
    // rather than after a whole prediction.
    if (int64_t(b.genes.size()) != b.shape.n_genes || b.key_expression.dim() != 2 ||
        b.key_expression.size(1) != int64_t(b.genes.size()))
      throw InputError(meta.string(), "its genes list has " + std::to_string(b.genes.size()) +
                                          " genes and shape.n_genes says " + std::to_string(b.shape.n_genes) +
                                          ", the model's reference expression (tensors.pt) has " +
                                          (b.key_expression.dim() == 2 ? std::to_string(b.key_expression.size(1))
                                                                       : std::string("no")) +
                                          " gene columns: the three must agree (model.json edited or from another model?)");
    if (b.key_embeddings.dim() != 2 || b.key_embeddings.size(0) != b.key_expression.size(0))
      throw InputError((dir / "tensors.pt").string(), "retrieval keys and their expression differ in length");
    for (size_t l = 0; l < b.stats.levels.size(); ++l) {
      b.stats.mean.push_back(t[2 + 2 * l]);
      b.stats.sd.push_back(t[3 + 2 * l]);
    }
    if (!trunk.empty()) {
      b.trunk = make_cnn_trunk(trunk);
      reading = dir / "trunk.pt";
      load_cnn_weights(*b.trunk, (dir / "trunk.pt").string());
      require_finite_weights(*b.trunk, dir / "trunk.pt");
      b.trunk->eval();
    }
  } catch (const c10::Error& e) {
    // LibTorch's reason (a zip record not found, a bad pickle) says nothing a user can act on
    // beyond "damaged"; its first line is kept for a bug report.
    const std::string why = e.what_without_backtrace();
    throw InputError(reading.string(), "damaged or not written by hiscmcl train (cannot be loaded: " +
                                           why.substr(0, why.find('\n')) + "); train the model again");
  } catch (const std::bad_alloc&) {
    throw InputError(reading.string(), "damaged (a size in it is impossible); train the model again");
  }
  b.model->eval();
  b.dir = dir;
  for (size_t m = 0; m < n_members; ++m)
    b.members.push_back(load_model_bundle(member_dir(dir, m)));
  return b;
}

fs::path member_dir(const fs::path& dir, size_t m) { return dir / ("member_" + std::to_string(m + 1)); }

void set_bundle_dir(ModelBundle& b, const fs::path& dir) {
  b.dir = dir;
  for (size_t m = 0; m < b.members.size(); ++m) set_bundle_dir(b.members[m], member_dir(dir, m));
}

}  // namespace hiscmcl
