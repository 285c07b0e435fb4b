// The `histo` Encoder: histo_features() per crop, crops of a batch spread over the thread pool.
// Output is raw (not standardised); the model's caller z-scores with training statistics.
#include "encoders/histo_encoder.h"

#include "common/thread_pool.h"
#include "encoders/histo_features.h"

namespace hiscmcl {
namespace {

class HistoEncoder : public Encoder {
 public:
  std::string name() const override { return "histo"; }
  int input_size() const override { return kHistoInputPx; }
  int64_t dim() const override { return histo_feature_dim(); }
  Matrix embed(const std::vector<cv::Mat>& crops) override {
    Matrix out(int64_t(crops.size()), dim());
    parallel_for(int64_t(crops.size()),
                 [&](int64_t i) { histo_features(crops[size_t(i)], out.row(i)); });
    return out;
  }
};

}  // namespace

std::unique_ptr<Encoder> make_histo_encoder(const EncoderOptions&) {
  return std::make_unique<HistoEncoder>();
}

}  // namespace hiscmcl
