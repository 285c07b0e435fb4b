// NumPy .npy files (format versions 1.0-3.0), the subset the pipeline needs:
//   - 1-D arrays of fixed-width strings: unicode `<U9` (UCS-4) or bytes `|S9` (gene panels);
//   - 2-D float32 or float16 C-order arrays (feature caches), written atomically, read copied or
//     memory-mapped.
// Pickled object arrays (dtype 'O') are refused with a message saying how to convert them.
// Every error is an InputError naming the file.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "common/feature_matrix.h"
#include "common/matrix.h"

namespace hiscmcl {

// Trailing NUL padding is removed; unicode is returned as UTF-8.
std::vector<std::string> read_npy_strings(const std::filesystem::path& path);

// `<f4` (or `<f2`: m rounded to float16), 2-D, C order. Atomic: a temporary name, then rename.
void write_npy_f32(const std::filesystem::path& path, const Matrix& m);
void write_npy_features(const std::filesystem::path& path, const Matrix& m, FeatureDtype dtype);
// `<f4` or `<f2` values as float32 (a copy).
Matrix read_npy_f32(const std::filesystem::path& path);
// `<f4` or `<f2`, memory-mapped read-only: nothing is read until a row is.
FeatureMatrix map_npy_features(const std::filesystem::path& path);

}  // namespace hiscmcl
