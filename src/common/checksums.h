// A folder's checksum list (FOLDER/checksums.txt: "crc32 size path" per file), written by whoever
// finishes the folder and verified by whoever reads it, so a damaged or edited file is named
// instead of silently changing results. CRC-32 (zlib's): cheap enough to run on every load.
#pragma once
#include <filesystem>

namespace hiscmcl {

inline constexpr const char* kChecksumFile = "checksums.txt";

// Lists every regular file below dir (but the list itself and lock files).
void write_checksum_list(const std::filesystem::path& dir);
// Throws InputError naming the first file that is missing, resized or changed. Returns false
// (nothing checked) when dir has no list: a folder written before lists existed.
bool verify_checksum_list(const std::filesystem::path& dir);

}  // namespace hiscmcl
