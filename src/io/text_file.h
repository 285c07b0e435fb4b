// Whole-file reads of plain or gzip-compressed text (zlib's gzread passes plain files through),
// and a tiny zero-copy line/field splitter for the hand-written table parsers.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace hiscmcl {

// The file's bytes, gunzipped when it is gzip. InputError naming the file when missing or corrupt.
std::string read_maybe_gzipped(const std::filesystem::path& path);

// Splits text into lines (without '\n' or a trailing '\r'); views into `text`.
std::vector<std::string_view> split_lines(std::string_view text);
// Splits one line at `sep`; views into `line`.
std::vector<std::string_view> split_fields(std::string_view line, char sep);
// Removes surrounding spaces and one pair of double quotes ("10x13" -> 10x13).
std::string_view unquote(std::string_view field);

}  // namespace hiscmcl
