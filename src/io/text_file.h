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
// Without surrounding white space (spaces, tabs, CR, LF); a view into `s`.
std::string_view trim(std::string_view s);
// Removes surrounding spaces and one pair of double quotes ("10x13" -> 10x13).
std::string_view unquote(std::string_view field);
// A whole (unquoted) field as a finite number; a leading '+' is allowed, as other tools write it.
bool parse_finite_number(std::string_view field, double& out);

}  // namespace hiscmcl
