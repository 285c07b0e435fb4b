// make_encoder: the one place that maps an encoder name to its implementation.
#include <stdexcept>

#include "encoders/cnn.h"
#include "encoders/cnn_encoder.h"
#include "encoders/encoder.h"
#include "encoders/histo_encoder.h"

namespace hiscmcl {

std::unique_ptr<Encoder> make_encoder(const std::string& name, const EncoderOptions& opt) {
  if (name == "histo") return make_histo_encoder(opt);
  if (is_cnn_trunk_name(name)) return make_cnn_encoder(name, opt);
  const std::string ts = "torchscript:";
  if (name == ts)
    throw std::invalid_argument("encoder 'torchscript:' names no model file (torchscript:<file>; the other encoders: "
                                "histo, resnet18, resnet50, densenet121, small_cnn)");
  if (name.rfind(ts, 0) == 0 && name.size() > ts.size())
    return make_torchscript_encoder(name.substr(ts.size()), opt);
  throw std::invalid_argument("unknown encoder '" + name +
                              "' (valid: histo, resnet18, resnet50, densenet121, small_cnn, "
                              "torchscript:<file>)");
}

}  // namespace hiscmcl
