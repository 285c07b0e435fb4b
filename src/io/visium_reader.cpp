#include "io/visium_reader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "common/error.h"
#include "common/log.h"
#include "io/hdf5_file.h"
#include "io/image_info.h"
#include "io/spot_spacing.h"
#include "io/text_file.h"

namespace fs = std::filesystem;

namespace hiscmcl {
namespace {

// The first repeated name, as (first index, second index); nullopt when all are unique.
std::optional<std::pair<size_t, size_t>> first_duplicate(const std::vector<std::string>& names) {
  std::unordered_map<std::string_view, size_t> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    auto [it, fresh] = seen.emplace(names[i], i);
    if (!fresh) return std::make_pair(it->second, i);
  }
  return std::nullopt;
}

fs::path first_existing(const fs::path& dir, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (fs::exists(dir / n)) return dir / n;
  return {};
}

}  // namespace

std::vector<std::string> make_unique_names(const std::vector<std::string>& names) {
  std::unordered_map<std::string, int> count;
  std::unordered_set<std::string> taken(names.begin(), names.end());
  std::vector<std::string> out = names;
  std::unordered_set<std::string> seen;
  for (auto& n : out) {
    if (seen.insert(n).second) continue;
    std::string base = n, cand;
    int& k = count[base];
    do cand = base + "-" + std::to_string(++k);
    while (taken.count(cand));
    taken.insert(cand);
    seen.insert(cand);
    n = cand;
  }
  return out;
}

FeatureBarcodeMatrix read_10x_h5(const fs::path& path) {
  return read_10x_h5(
      hdf5::File::open(path, "a 10x feature-barcode matrix (Space Ranger/Cell Ranger v3+)"));
}

FeatureBarcodeMatrix read_10x_h5(const hdf5::File& f) {
  f.group("matrix");
  auto shape = f.dataset("matrix/shape").read_numbers<int64_t>({2});
  const int64_t n_genes = shape[0], n_barcodes = shape[1];
  if (n_genes < 0 || n_barcodes < 0) f.fail("matrix/shape", "negative extent");
  FeatureBarcodeMatrix m;
  hdf5::Dataset barcodes = f.dataset("matrix/barcodes"), ids = f.dataset("matrix/features/id");
  m.barcodes = barcodes.read_strings(n_barcodes);
  std::vector<std::string> names = f.dataset("matrix/features/name").read_strings(n_genes);
  m.gene_ids = ids.read_strings(n_genes);
  // Barcodes and feature ids are keys (names are symbols, made unique below).
  if (auto d = first_duplicate(m.barcodes))
    barcodes.fail("duplicate barcode '" + m.barcodes[d->second] + "' (entries " +
                  std::to_string(d->first) + " and " + std::to_string(d->second) + ")");
  if (auto d = first_duplicate(m.gene_ids))
    ids.fail("duplicate feature id '" + m.gene_ids[d->second] + "' (entries " +
             std::to_string(d->first) + " and " + std::to_string(d->second) + ")");

  hdf5::Dataset indptr_ds = f.dataset("matrix/indptr");
  auto indptr = indptr_ds.read_numbers<int64_t>({n_barcodes + 1});
  if (indptr.front() != 0) indptr_ds.fail("indptr does not start at 0");
  for (int64_t j = 0; j < n_barcodes; ++j)
    if (indptr[size_t(j + 1)] < indptr[size_t(j)]) indptr_ds.fail("indptr is not non-decreasing");
  hdf5::Dataset data_ds = f.dataset("matrix/data"), indices_ds = f.dataset("matrix/indices");
  auto data = data_ds.read_numbers<float>({indptr.back()});
  auto indices = indices_ds.read_numbers<int64_t>({indptr.back()});
  for (size_t k = 0; k < indices.size(); ++k) {
    if (indices[k] < 0 || indices[k] >= n_genes) indices_ds.fail("feature index out of range");
    if (!(data[k] >= 0) || !std::isfinite(data[k])) data_ds.fail("negative or NaN count");
  }

  // CSC of features x barcodes is exactly CSR of barcodes x features.
  m.genes = make_unique_names(names);
  m.counts.rows = n_barcodes;
  m.counts.cols = n_genes;
  m.counts.indptr = std::move(indptr);
  m.counts.indices.assign(indices.begin(), indices.end());
  m.counts.values = std::move(data);
  return m;
}

FeatureBarcodeMatrix read_10x_mtx(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw InputError(dir.string(), "matrix folder not found");
  fs::path mtx = first_existing(dir, {"matrix.mtx.gz", "matrix.mtx"});
  fs::path bc = first_existing(dir, {"barcodes.tsv.gz", "barcodes.tsv"});
  fs::path ft = first_existing(dir, {"features.tsv.gz", "features.tsv", "genes.tsv.gz", "genes.tsv"});
  if (mtx.empty()) throw InputError((dir / "matrix.mtx.gz").string(), "file not found");
  if (bc.empty()) throw InputError((dir / "barcodes.tsv.gz").string(), "file not found");
  if (ft.empty()) throw InputError((dir / "features.tsv.gz").string(), "file not found");

  FeatureBarcodeMatrix m;
  // Barcodes and feature ids are keys: a repeat is an error naming the file, line and id.
  auto check_unique = [](const std::vector<std::string>& keys, const std::vector<size_t>& line,
                         const fs::path& file, const char* what) {
    if (auto d = first_duplicate(keys))
      throw InputError(file.string(),
                       std::string("duplicate ") + what + " '" + keys[d->second] +
                           "' (first on line " + std::to_string(line[d->first] + 1) + ")",
                       "line " + std::to_string(line[d->second] + 1));
  };
  std::vector<size_t> line_of;
  std::string bc_text = read_maybe_gzipped(bc);
  auto bc_lines = split_lines(bc_text);
  for (size_t i = 0; i < bc_lines.size(); ++i) {
    if (bc_lines[i].empty()) continue;
    m.barcodes.emplace_back(unquote(bc_lines[i]));
    line_of.push_back(i);
  }
  check_unique(m.barcodes, line_of, bc, "barcode");
  line_of.clear();
  std::string ft_text = read_maybe_gzipped(ft);
  std::vector<std::string> names;
  auto ft_lines = split_lines(ft_text);
  for (size_t i = 0; i < ft_lines.size(); ++i) {
    if (ft_lines[i].empty()) continue;
    auto f = split_fields(ft_lines[i], '\t');
    m.gene_ids.emplace_back(unquote(f[0]));
    names.emplace_back(unquote(f.size() > 1 ? f[1] : f[0]));
    line_of.push_back(i);
  }
  check_unique(m.gene_ids, line_of, ft, "feature id");
  m.genes = make_unique_names(names);

  const std::string file = mtx.string();
  std::string text = read_maybe_gzipped(mtx);
  auto lines = split_lines(text);
  size_t i = 0;
  if (lines.empty() || lines[0].rfind("%%MatrixMarket", 0) != 0)
    throw InputError(file, "not a MatrixMarket file (no %%MatrixMarket header)", "line 1");
  if (lines[0].find("coordinate") == std::string_view::npos)
    throw InputError(file, "only coordinate MatrixMarket files are supported", "line 1");
  while (i < lines.size() && (lines[i].empty() || lines[i][0] == '%')) ++i;
  if (i == lines.size()) throw InputError(file, "missing the size line");
  double dims[3];
  auto size_fields = split_fields(lines[i], ' ');
  if (size_fields.size() < 3 || !parse_finite_number(size_fields[0], dims[0]) ||
      !parse_finite_number(size_fields[1], dims[1]) || !parse_finite_number(size_fields[2], dims[2]))
    throw InputError(file, "bad size line (expected: features barcodes entries)",
                     "line " + std::to_string(i + 1));
  const int64_t n_genes = int64_t(dims[0]), n_bc = int64_t(dims[1]);
  if (n_genes != int64_t(m.genes.size()))
    throw InputError(file, std::to_string(n_genes) + " features but " + ft.string() + " lists " +
                               std::to_string(m.genes.size()));
  if (n_bc != int64_t(m.barcodes.size()))
    throw InputError(file, std::to_string(n_bc) + " barcodes but " + bc.string() + " lists " +
                               std::to_string(m.barcodes.size()));
  // Entries (feature, barcode, value), 1-based; bucket them by barcode.
  std::vector<std::vector<std::pair<int32_t, float>>> rows(static_cast<size_t>(n_bc));
  for (++i; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    auto f = split_fields(lines[i], ' ');
    double g = 0, b = 0, v = 0;
    if (f.size() < 3 || !parse_finite_number(f[0], g) || !parse_finite_number(f[1], b) || !parse_finite_number(f[2], v))
      throw InputError(file, "bad entry line", "line " + std::to_string(i + 1));
    if (g < 1 || g > n_genes || b < 1 || b > n_bc)
      throw InputError(file, "entry index out of range", "line " + std::to_string(i + 1));
    if (v < 0) throw InputError(file, "negative count", "line " + std::to_string(i + 1));
    rows[size_t(b) - 1].push_back({int32_t(g) - 1, float(v)});
  }
  m.counts.rows = n_bc;
  m.counts.cols = n_genes;
  m.counts.indptr.push_back(0);
  for (auto& r : rows) {
    std::sort(r.begin(), r.end());
    for (auto& [g, v] : r) {
      m.counts.indices.push_back(g);
      m.counts.values.push_back(v);
    }
    m.counts.indptr.push_back(int64_t(m.counts.values.size()));
  }
  return m;
}

std::vector<TissuePosition> read_tissue_positions(const fs::path& path) {
  const std::string file = path.string();
  std::string text = read_maybe_gzipped(path);
  auto lines = split_lines(text);
  std::vector<TissuePosition> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    auto f = split_fields(lines[i], ',');
    if (i == 0 && unquote(f[0]) == "barcode") continue;  // v2 header
    if (f.size() < 6)
      throw InputError(file,
                       "expected 6 columns (barcode, in_tissue, array_row, array_col, "
                       "pxl_row_in_fullres, pxl_col_in_fullres)",
                       "line " + std::to_string(i + 1));
    TissuePosition p;
    p.barcode = std::string(unquote(f[0]));
    double v[5];
    for (int k = 0; k < 5; ++k)
      if (!parse_finite_number(f[size_t(k + 1)], v[k]))
        throw InputError(file, "non-numeric value '" + std::string(f[size_t(k + 1)]) + "'",
                         "line " + std::to_string(i + 1) + ", column " + std::to_string(k + 2));
    p.in_tissue = int(std::clamp(v[0], -1.0, 2.0));  // int(1e10) is UB; only 1 is in tissue
    p.array_row = v[1];
    p.array_col = v[2];
    p.pxl_row = v[3];
    p.pxl_col = v[4];
    out.push_back(std::move(p));
  }
  return out;
}

ScaleFactors read_scalefactors(const fs::path& path) {
  const std::string file = path.string();
  std::string text = read_maybe_gzipped(path);
  ScaleFactors sf;
  try {
    auto j = nlohmann::json::parse(text);
    auto get = [&](const char* key) -> double {
      if (!j.contains(key) || !j[key].is_number())
        throw InputError(file, std::string("missing number '") + key + "'");
      return j[key].get<double>();
    };
    sf.spot_diameter_fullres = get("spot_diameter_fullres");
    sf.tissue_hires_scalef = get("tissue_hires_scalef");
    sf.tissue_lowres_scalef = get("tissue_lowres_scalef");
  } catch (const nlohmann::json::exception& e) {
    throw InputError(file, std::string("invalid JSON: ") + e.what());
  }
  return sf;
}

Section read_visium(const ManifestSection& ms) {
  auto dir_it = ms.files.find("dir");
  if (dir_it == ms.files.end()) throw InputError(ms.id, "visium section needs a 'dir'");
  const fs::path dir = dir_it->second;
  if (!fs::is_directory(dir)) throw InputError(dir.string(), "Space Ranger output folder not found");

  FeatureBarcodeMatrix m;
  if (fs::exists(dir / "filtered_feature_bc_matrix.h5")) m = read_10x_h5(dir / "filtered_feature_bc_matrix.h5");
  else if (fs::is_directory(dir / "filtered_feature_bc_matrix")) m = read_10x_mtx(dir / "filtered_feature_bc_matrix");
  else
    throw InputError((dir / "filtered_feature_bc_matrix.h5").string(),
                     "file not found (nor a filtered_feature_bc_matrix/ folder)");

  fs::path pos_path = first_existing(dir / "spatial", {"tissue_positions.csv", "tissue_positions_list.csv"});
  if (pos_path.empty())
    throw InputError((dir / "spatial" / "tissue_positions_list.csv").string(),
                     "file not found (nor spatial/tissue_positions.csv)");
  auto positions = read_tissue_positions(pos_path);

  // Image and the factor from full-resolution pixels to its pixels.
  fs::path image;
  double scale = 1;
  ScaleFactors sf;
  fs::path sf_path = dir / "spatial" / "scalefactors_json.json";
  bool have_sf = fs::exists(sf_path);
  if (have_sf) sf = read_scalefactors(sf_path);
  if (auto it = ms.files.find("image"); it != ms.files.end()) {
    image = it->second;
  } else {
    fs::path hires = dir / "spatial" / "tissue_hires_image.png";
    fs::path lowres = dir / "spatial" / "tissue_lowres_image.png";
    if (fs::exists(hires)) image = hires;
    else if (fs::exists(lowres)) image = lowres;
    else throw InputError(lowres.string(), "no image: give `image` in the manifest or provide spatial/tissue_{hires,lowres}_image.png");
    if (!have_sf) throw InputError(sf_path.string(), "file not found (needed to scale coordinates to " + image.filename().string() + ")");
    scale = image == hires ? sf.tissue_hires_scalef : sf.tissue_lowres_scalef;
  }
  if (!ms.spot_diameter_px && !have_sf)
    throw InputError(sf_path.string(), "file not found (needed for the spot diameter; or set spot_diameter_px)");
  ImageSize size = read_image_size(image);

  std::unordered_map<std::string, const TissuePosition*> pos_by_bc;
  for (const auto& p : positions) pos_by_bc.emplace(p.barcode, &p);

  Section s;
  s.id = ms.id;
  s.patient = ms.patient;
  s.genes = m.genes;
  std::vector<int64_t> keep;
  int64_t missing = 0;
  std::array<double, 6> affine = ms.affine.value_or(std::array<double, 6>{1, 0, 0, 0, 1, 0});
  for (size_t b = 0; b < m.barcodes.size(); ++b) {
    auto it = pos_by_bc.find(m.barcodes[b]);
    if (it == pos_by_bc.end()) {
      ++missing;
      continue;
    }
    const TissuePosition& p = *it->second;
    if (p.in_tissue != 1) continue;
    keep.push_back(int64_t(b));
    s.spot_ids.push_back(m.barcodes[b]);
    s.array_xy.push_back({p.array_col, p.array_row});
    double x = p.pxl_col * scale, y = p.pxl_row * scale;
    std::array<double, 2> px = {affine[0] * x + affine[1] * y + affine[2],
                                affine[3] * x + affine[4] * y + affine[5]};
    if (!(px[0] >= 0 && px[0] < size.width && px[1] >= 0 && px[1] < size.height))
      throw InputError(pos_path.string(),
                       "spot " + p.barcode + " centre (" + std::to_string(px[0]) + ", " +
                           std::to_string(px[1]) + ") lies outside the image " + image.string() +
                           " (" + std::to_string(size.width) + " x " + std::to_string(size.height) + " px)");
    s.pixel_xy.push_back(px);
  }
  if (missing)
    spdlog::warn("{}: {} matrix barcodes have no row in {} (dropped)", dir.string(), missing, pos_path.string());
  if (keep.empty())
    throw InputError(pos_path.string(), "empty section: no in-tissue barcode is in the matrix");
  s.counts = m.counts.select_rows(keep);

  ImageGeometry& g = s.image;
  g.image_path = image.string();
  g.width = size.width;
  g.height = size.height;
  g.affine = affine;
  g.spot_diameter_px = ms.spot_diameter_px ? *ms.spot_diameter_px : sf.spot_diameter_fullres * scale;
  g.spot_diameter_px =
      settle_spot_diameter(ms.id, ms.spot_diameter_px ? "the manifest's spot_diameter_px" : sf_path.string(),
                           g.spot_diameter_px, s.pixel_xy, SpotArray::visium);
  // Visium spots are 55 µm across.
  std::optional<double> um = choose_um_per_px(ms.um_per_px, size.um_per_px, image.string());
  g.um_per_px = um ? *um : 55.0 / g.spot_diameter_px;
  return s;
}

}  // namespace hiscmcl
