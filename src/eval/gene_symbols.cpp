#include "eval/gene_symbols.h"

#include <zlib.h>

#include <memory>
#include <sstream>
#include <vector>

#include "common/error.h"

namespace hiscmcl {
namespace {

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream ss(line);
  while (std::getline(ss, field, '\t')) out.push_back(field);
  if (!line.empty() && line.back() == '\t') out.emplace_back();
  return out;
}

std::string strip_version(const std::string& id) {
  auto dot = id.rfind('.');
  return dot == std::string::npos ? id : id.substr(0, dot);
}

}  // namespace

GeneSymbolMap load_gene_symbols(const std::filesystem::path& path) {
  const std::string file = path.string();
  if (!std::filesystem::exists(path)) throw InputError(file, "file not found");
  // gzopen reads plain files transparently too.
  std::unique_ptr<gzFile_s, int (*)(gzFile)> gz(gzopen(file.c_str(), "rb"), gzclose);
  if (!gz) throw InputError(file, "cannot open");
  std::string text;
  char buf[1 << 16];
  int got;
  while ((got = gzread(gz.get(), buf, sizeof buf)) > 0) text.append(buf, size_t(got));
  if (got < 0) throw InputError(file, "corrupt gzip stream");

  GeneSymbolMap map;
  std::istringstream lines(text);
  std::string line;
  int64_t line_no = 0;
  int id_col = -1, name_col = -1;
  size_t n_cols = 0;
  while (std::getline(lines, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto f = split_tabs(line);
    if (line_no == 1) {
      for (size_t i = 0; i < f.size(); ++i) {
        if (f[i] == "gene_id") id_col = int(i);
        if (f[i] == "gene_name") name_col = int(i);
      }
      if (id_col < 0 || name_col < 0)
        throw InputError(file, "header lacks the columns gene_id and gene_name", "line 1");
      n_cols = f.size();
      continue;
    }
    if (line.empty()) continue;
    if (f.size() < n_cols)
      throw InputError(file, "expected " + std::to_string(n_cols) + " tab-separated fields, got " +
                                 std::to_string(f.size()),
                       "line " + std::to_string(line_no));
    map[f[size_t(id_col)]] = f[size_t(name_col)];
  }
  if (line_no == 0) throw InputError(file, "empty file");
  return map;
}

std::string gene_display_name(const GeneSymbolMap& symbols, const std::string& gene_id) {
  if (auto it = symbols.find(gene_id); it != symbols.end()) return it->second;
  // The id may carry a different version, or none: compare the stable part.
  const std::string base = strip_version(gene_id);
  for (const auto& [id, name] : symbols)
    if (strip_version(id) == base) return name;
  return gene_id;
}

}  // namespace hiscmcl
