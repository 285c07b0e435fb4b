#include "predict/retrieval_predictor.h"

#include "predict/retrieval.h"
#include "train/feature_tensors.h"
#include "train/trainer.h"

namespace hiscmcl {

Matrix RetrievalPredictor::image_embeddings(const std::vector<std::array<double, 2>>& pixel_xy,
                                            const SectionFeatures& features) {
  PreparedSection query;
  query.id = "query";
  query.pixel_xy = pixel_xy;
  query.array_xy.assign(pixel_xy.size(), {0.0, 0.0});
  query.spot_ids.assign(pixel_xy.size(), "");
  FeatureTensors t = build_feature_tensors({&query}, {features}, bundle_.stats, bundle_.config, false);
  return to_matrix(hiscmcl::image_embeddings(bundle_.model, t, bundle_.config));
}

Matrix RetrievalPredictor::predict(const std::vector<std::array<double, 2>>& pixel_xy,
                                   const SectionFeatures& features) {
  Matrix sum = predict_member(pixel_xy, features);
  for (auto& m : bundle_.members) {
    Matrix y = RetrievalPredictor(m).predict_member(pixel_xy, features);
    for (size_t i = 0; i < sum.data.size(); ++i) sum.data[i] += y.data[i];
  }
  const float n = float(1 + bundle_.members.size());
  if (n > 1)
    for (float& v : sum.data) v /= n;
  return sum;
}

Matrix RetrievalPredictor::predict_member(const std::vector<std::array<double, 2>>& pixel_xy,
                                          const SectionFeatures& features) {
  Matrix q = image_embeddings(pixel_xy, features);
  const PredictConfig& pc = bundle_.config.predict;
  if (pc.predictor == Predictor::regression) {
    torch::NoGradGuard no_grad;
    return to_matrix(bundle_.model->regress(to_tensor(q)));
  }
  double tau = 0;
  if (pc.weighting == Weighting::softmax)
    tau = pc.softmax_temperature > 0 ? pc.softmax_temperature : bundle_.model->temperature();
  Matrix values = to_matrix(bundle_.key_expression);
  if (pc.centre_sections) values = centre_groups(values, bundle_.key_offsets);
  return retrieval_predict(q, to_matrix(bundle_.key_embeddings), values, pc.k,
                           parse_retrieval_distance(choice_name(pc.distance)), nullptr, 1e-12, tau);
}

}  // namespace hiscmcl
