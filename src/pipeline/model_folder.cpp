#include "pipeline/model_folder.h"

#include "common/checksums.h"
#include "common/output_folder.h"
#include "predict/retrieval_predictor.h"

namespace hiscmcl {

void write_model_folder(const std::filesystem::path& dir, ModelBundle& bundle, const std::optional<StackedRidge>& ridge,
                        const std::vector<EpochLog>& log, const std::function<void(const std::filesystem::path&)>& extra) {
  std::filesystem::create_directories(dir);
  write_output_marker(dir, "train");  // a cv fold's model is a model folder as `train` writes it
  save_model_bundle(dir, bundle);
  if (ridge) save_stacked_ridge(dir, *ridge);
  save_key_index(dir, bundle);
  write_train_log(dir / "train_log.csv", log);
  if (extra) extra(dir);
  write_checksum_list(dir);
}

}  // namespace hiscmcl
