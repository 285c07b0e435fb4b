// The choices a run config offers, as enums with their spelling in TOML/JSON. Each enum lists its
// names once (EnumChoices); choice_name and parse_choice are generic over that list, so a choice is
// validated where it is read and compared as an enum everywhere else.
#pragma once
#include <string>
#include <type_traits>
#include <utility>

#include "common/feature_matrix.h"

namespace hiscmcl {

// Expression normalisation (data/normalize.h does it).
enum class Normalization { per_spot, per_gene_compat, per_spot_ln };

enum class Fusion { hierarchical, multiscale, spot };
enum class SpotContext { batch, spatial };
enum class TrainMode { frozen, end_to_end };
enum class Distance { L1, L2 };
enum class KeyContext { compat, per_section, averaged };
enum class Weighting { inverse_square, softmax };
enum class PredictorKind { retrieval, regression, stacked };
enum class RetrievalKeys { expression, image, both };
enum class ImageNorm { imagenet, none };
enum class KeyIndexKind { flat, ivf };
enum class FeatureNorm { none, per_section };

template <class E>
struct EnumChoices;  // static constexpr std::pair<E, const char*> values[]

#define HISCMCL_CHOICES(E, ...)                                      \
  template <>                                                        \
  struct EnumChoices<E> {                                            \
    static constexpr std::pair<E, const char*> values[] = {__VA_ARGS__}; \
  }

HISCMCL_CHOICES(Fusion, {Fusion::hierarchical, "hierarchical"}, {Fusion::multiscale, "multiscale"},
                {Fusion::spot, "spot"});
HISCMCL_CHOICES(SpotContext, {SpotContext::batch, "batch"}, {SpotContext::spatial, "spatial"});
HISCMCL_CHOICES(TrainMode, {TrainMode::frozen, "frozen"}, {TrainMode::end_to_end, "end_to_end"});
HISCMCL_CHOICES(Distance, {Distance::L1, "L1"}, {Distance::L2, "L2"});
HISCMCL_CHOICES(KeyContext, {KeyContext::compat, "compat"}, {KeyContext::per_section, "per_section"},
                {KeyContext::averaged, "averaged"});
HISCMCL_CHOICES(Weighting, {Weighting::inverse_square, "inverse_square"}, {Weighting::softmax, "softmax"});
HISCMCL_CHOICES(PredictorKind, {PredictorKind::retrieval, "retrieval"}, {PredictorKind::regression, "regression"},
                {PredictorKind::stacked, "stacked"});
HISCMCL_CHOICES(RetrievalKeys, {RetrievalKeys::expression, "expression"}, {RetrievalKeys::image, "image"},
                {RetrievalKeys::both, "both"});
HISCMCL_CHOICES(ImageNorm, {ImageNorm::imagenet, "imagenet"}, {ImageNorm::none, "none"});
HISCMCL_CHOICES(FeatureDtype, {FeatureDtype::float32, "float32"}, {FeatureDtype::float16, "float16"});
HISCMCL_CHOICES(KeyIndexKind, {KeyIndexKind::flat, "flat"}, {KeyIndexKind::ivf, "ivf"});
HISCMCL_CHOICES(FeatureNorm, {FeatureNorm::none, "none"}, {FeatureNorm::per_section, "per_section"});
HISCMCL_CHOICES(Normalization, {Normalization::per_spot, "per_spot"},
                {Normalization::per_gene_compat, "per_gene_compat"},
                {Normalization::per_spot_ln, "per_spot_ln"});
#undef HISCMCL_CHOICES

template <class E, class = void>
struct is_choice : std::false_type {};
template <class E>
struct is_choice<E, std::void_t<decltype(EnumChoices<E>::values)>> : std::true_type {};

template <class E, std::enable_if_t<is_choice<E>::value, int> = 0>
std::string choice_name(E e) {
  for (auto& [v, name] : EnumChoices<E>::values)
    if (v == e) return name;
  return "?";
}

// "a | b | c", for messages and --help.
template <class E>
std::string choice_list() {
  std::string s;
  for (auto& [v, name] : EnumChoices<E>::values) s += (s.empty() ? "" : " | ") + std::string(name);
  return s;
}

// The enum spelt `text`; false when it is none of them.
template <class E>
bool parse_choice(const std::string& text, E& out) {
  for (auto& [v, name] : EnumChoices<E>::values)
    if (text == name) {
      out = v;
      return true;
    }
  return false;
}

}  // namespace hiscmcl
