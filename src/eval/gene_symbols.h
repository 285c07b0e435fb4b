// Gene id -> symbol table (STUtility's mouse_genes.tsv.gz: gene_id, gene_type, gene_name, tab
// separated, gzipped or plain), so reports can show MOB genes by symbol.
//   load_gene_symbols: versioned Ensembl id (ENSMUSG00000051951.5) -> symbol (Xkr4). Throws
//     InputError naming the file (and line) for a missing file, a bad header or a short row.
//   gene_display_name: the symbol for an id, matching with or without the version suffix;
//     the id itself when unknown.
#pragma once
#include <filesystem>
#include <string>
#include <unordered_map>

namespace hiscmcl {

using GeneSymbolMap = std::unordered_map<std::string, std::string>;

GeneSymbolMap load_gene_symbols(const std::filesystem::path& path);
std::string gene_display_name(const GeneSymbolMap& symbols, const std::string& gene_id);

}  // namespace hiscmcl
