// A model small enough for unit tests to train in seconds (the widths, heads and neighbour
// counts only; training settings stay the caller's).
#pragma once
#include <stdexcept>
#include <string>

#include "config/run_config.h"

namespace hiscmcl::test {

inline RunConfig small_model_config(const std::string& fusion, const std::string& context) {
  RunConfig c;
  if (!parse_choice(fusion, c.model.fusion) || !parse_choice(context, c.model.spot_context))
    throw std::invalid_argument("small_model_config: bad fusion or context");
  // The settings these tests were written for: one model, the paper's keys and predictor, no centring.
  c.train.ensemble = 1;
  c.predict.predictor = PredictorKind::retrieval;
  c.predict.keys = RetrievalKeys::expression;
  c.predict.centre_sections = false;
  c.model.d_model = 32;
  c.model.fusion_heads = 4;
  c.model.proj_dim = 16;
  c.model.spot_heads = 2;
  c.model.spot_head_dim = 8;
  c.model.n_neighbours = 3;
  c.model.n_global = 5;
  c.model.spot_context_size = 3;
  c.model.position_embedding = true;
  return c;
}

}  // namespace hiscmcl::test
