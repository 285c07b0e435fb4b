// Gene symbol table: real STUtility mouse_genes.tsv.gz, plus bad-input errors.
#include <gtest/gtest.h>

#include <fstream>

#include "common/error.h"
#include "eval/gene_symbols.h"
#include "test_util.h"

using namespace hiscmcl;
using hiscmcl::test::TempDir;

TEST(GeneSymbols, LoadsStutilityMouseGenes) {
  HISCMCL_REQUIRE_DATA("stutility_mob");
  auto path = test::shared_data() / "stutility_mob/inst/extdata/mouse_genes.tsv.gz";
  GeneSymbolMap m = load_gene_symbols(path);
  EXPECT_EQ(m.size(), 48709u);  // 48,710 lines less the header
  EXPECT_EQ(m.at("ENSMUSG00000051951.5"), "Xkr4");
  EXPECT_EQ(m.at("ENSMUSG00000057666.18"), "Gapdh");
  EXPECT_EQ(gene_display_name(m, "ENSMUSG00000029580.14"), "Actb");
  EXPECT_EQ(gene_display_name(m, "ENSMUSG00000029580"), "Actb");  // version-free id
  EXPECT_EQ(gene_display_name(m, "ENSMUSG99999999999.1"), "ENSMUSG99999999999.1");
}

TEST(GeneSymbols, BadInputNamesFileAndLine) {
  TempDir dir;
  EXPECT_THROW(load_gene_symbols(dir / "missing.tsv.gz"), InputError);
  std::ofstream(dir / "bad_header.tsv") << "id\ttype\tname\nA.1\tx\tB\n";
  try {
    load_gene_symbols(dir / "bad_header.tsv");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad_header.tsv (line 1)"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "short.tsv") << "gene_id\tgene_type\tgene_name\nA.1\tx\tB\nC.2\n";
  try {
    load_gene_symbols(dir / "short.tsv");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "plain.tsv") << "gene_id\tgene_type\tgene_name\nA.1\tx\tBee\n";
  EXPECT_EQ(load_gene_symbols(dir / "plain.tsv").at("A.1"), "Bee");  // uncompressed works too
}
