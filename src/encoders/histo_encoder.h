// The built-in weight-free histology encoder: stain deconvolution into haematoxylin and eosin,
// colour and texture statistics. Pure OpenCV.
#pragma once
#include <memory>

#include "encoders/encoder.h"

namespace hiscmcl {

std::unique_ptr<Encoder> make_histo_encoder(const EncoderOptions& opt);

}  // namespace hiscmcl
