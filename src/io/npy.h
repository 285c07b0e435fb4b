// NumPy .npy files (format versions 1.0-3.0), the subset the pipeline needs:
//   - 1-D arrays of fixed-width strings: unicode `<U9` (UCS-4) or bytes `|S9` (gene panels);
//   - 2-D float32 C-order arrays (feature caches), written atomically.
// Pickled object arrays (dtype 'O') are refused with a message saying how to convert them.
// Every error is an InputError naming the file.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "common/matrix.h"

namespace hiscmcl {

// Trailing NUL padding is removed; unicode is returned as UTF-8.
std::vector<std::string> read_npy_strings(const std::filesystem::path& path);

// `<f4`, 2-D, C order. Atomic: a temporary name, then rename.
void write_npy_f32(const std::filesystem::path& path, const Matrix& m);
Matrix read_npy_f32(const std::filesystem::path& path);

}  // namespace hiscmcl
