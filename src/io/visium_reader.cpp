#include "io/visium_reader.h"

#include <hdf5.h>

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "common/error.h"
#include "common/log.h"
#include "io/image_info.h"
#include "io/text_file.h"

namespace fs = std::filesystem;

namespace hiscmcl {
namespace {

// Closes an HDF5 handle on scope exit.
struct H5Id {
  hid_t id = -1;
  herr_t (*close)(hid_t) = nullptr;
  H5Id(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  ~H5Id() {
    if (id >= 0 && close) close(id);
  }
  H5Id(H5Id&& o) noexcept : id(o.id), close(o.close) { o.id = -1; }
  H5Id(const H5Id&) = delete;
  H5Id& operator=(const H5Id&) = delete;
  operator hid_t() const { return id; }
};

class H5File {
 public:
  explicit H5File(const fs::path& path) : path_(path.string()), file_(-1, H5Fclose) {
    if (!fs::exists(path)) throw InputError(path_, "file not found");
    H5Eset_auto(H5E_DEFAULT, nullptr, nullptr);  // our errors name the file; no HDF5 stack dumps
    if (H5Fis_hdf5(path_.c_str()) <= 0) throw InputError(path_, "not an HDF5 file (corrupt?)");
    file_.id = H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file_.id < 0) throw InputError(path_, "cannot open HDF5 file (corrupt or truncated?)");
  }

  bool exists(const std::string& name) const {
    // H5Lexists needs every parent to exist, so walk the path one component at a time.
    size_t pos = 0;
    while ((pos = name.find('/', pos + 1)) != std::string::npos)
      if (H5Lexists(file_, name.substr(0, pos).c_str(), H5P_DEFAULT) <= 0) return false;
    return H5Lexists(file_, name.c_str(), H5P_DEFAULT) > 0;
  }

  H5Id open(const std::string& name) const {
    if (!exists(name))
      throw InputError(path_, "not a 10x feature-barcode matrix: missing dataset " + name,
                       "dataset " + name);
    H5Id d(H5Dopen2(file_, name.c_str(), H5P_DEFAULT), H5Dclose);
    if (d.id < 0) throw InputError(path_, "cannot open dataset " + name, "dataset " + name);
    return d;
  }

  template <class T>
  std::vector<T> read_numbers(const std::string& name, hid_t mem_type) const {
    H5Id d = open(name);
    H5Id space(H5Dget_space(d), H5Sclose);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    std::vector<T> out(size_t(std::max<hssize_t>(n, 0)));
    if (n > 0 && H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
      throw InputError(path_, "cannot read dataset " + name + " as numbers", "dataset " + name);
    return out;
  }

  std::vector<std::string> read_strings(const std::string& name) const {
    H5Id d = open(name);
    H5Id ftype(H5Dget_type(d), H5Tclose);
    if (H5Tget_class(ftype) != H5T_STRING)
      throw InputError(path_, "dataset " + name + " is not a string dataset", "dataset " + name);
    H5Id space(H5Dget_space(d), H5Sclose);
    size_t n = size_t(std::max<hssize_t>(H5Sget_simple_extent_npoints(space), 0));
    std::vector<std::string> out(n);
    if (n == 0) return out;
    H5Id mtype(H5Tcopy(H5T_C_S1), H5Tclose);
    if (H5Tis_variable_str(ftype) > 0) {
      H5Tset_size(mtype, H5T_VARIABLE);
      std::vector<char*> buf(n, nullptr);
      if (H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
        throw InputError(path_, "cannot read strings of " + name, "dataset " + name);
      for (size_t i = 0; i < n; ++i) out[i] = buf[i] ? buf[i] : "";
      H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, buf.data());
    } else {
      size_t width = H5Tget_size(ftype);
      H5Tset_size(mtype, width);
      std::vector<char> buf(n * width, '\0');
      if (H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
        throw InputError(path_, "cannot read strings of " + name, "dataset " + name);
      for (size_t i = 0; i < n; ++i) {
        const char* p = buf.data() + i * width;
        out[i].assign(p, strnlen(p, width));
      }
    }
    return out;
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  H5Id file_;
};

bool parse_double(std::string_view f, double& out) {
  f = unquote(f);
  if (f.empty()) return false;
  auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), out);
  return ec == std::errc() && p == f.data() + f.size() && std::isfinite(out);
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
  H5File f(path);
  if (!f.exists("/matrix"))
    throw InputError(f.path(), "not a 10x feature-barcode matrix (Space Ranger/Cell Ranger v3+): "
                               "missing group /matrix", "dataset /matrix");
  auto shape = f.read_numbers<int64_t>("/matrix/shape", H5T_NATIVE_INT64);
  if (shape.size() != 2)
    throw InputError(f.path(), "/matrix/shape must hold 2 numbers", "dataset /matrix/shape");
  FeatureBarcodeMatrix m;
  m.barcodes = f.read_strings("/matrix/barcodes");
  std::vector<std::string> names = f.read_strings("/matrix/features/name");
  m.gene_ids = f.read_strings("/matrix/features/id");
  auto data = f.read_numbers<float>("/matrix/data", H5T_NATIVE_FLOAT);
  auto indices = f.read_numbers<int64_t>("/matrix/indices", H5T_NATIVE_INT64);
  auto indptr = f.read_numbers<int64_t>("/matrix/indptr", H5T_NATIVE_INT64);

  const int64_t n_genes = shape[0], n_barcodes = shape[1];
  auto bad = [&](const std::string& what, const std::string& ds) {
    throw InputError(f.path(), what, "dataset " + ds);
  };
  if (int64_t(names.size()) != n_genes) bad("feature count differs from shape[0]", "/matrix/features/name");
  if (int64_t(m.gene_ids.size()) != n_genes) bad("feature count differs from shape[0]", "/matrix/features/id");
  if (int64_t(m.barcodes.size()) != n_barcodes) bad("barcode count differs from shape[1]", "/matrix/barcodes");
  if (int64_t(indptr.size()) != n_barcodes + 1) bad("indptr length is not barcodes + 1", "/matrix/indptr");
  if (data.size() != indices.size()) bad("data and indices lengths differ", "/matrix/indices");
  if (indptr.front() != 0 || indptr.back() != int64_t(data.size()))
    bad("indptr does not span data", "/matrix/indptr");
  for (int64_t j = 0; j < n_barcodes; ++j)
    if (indptr[size_t(j + 1)] < indptr[size_t(j)]) bad("indptr is not non-decreasing", "/matrix/indptr");
  for (size_t k = 0; k < indices.size(); ++k) {
    if (indices[k] < 0 || indices[k] >= n_genes) bad("feature index out of range", "/matrix/indices");
    if (!(data[k] >= 0) || !std::isfinite(data[k])) bad("negative or NaN count", "/matrix/data");
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
  std::string bc_text = read_maybe_gzipped(bc);
  for (auto line : split_lines(bc_text))
    if (!line.empty()) m.barcodes.emplace_back(unquote(line));
  std::string ft_text = read_maybe_gzipped(ft);
  std::vector<std::string> names;
  auto ft_lines = split_lines(ft_text);
  for (size_t i = 0; i < ft_lines.size(); ++i) {
    if (ft_lines[i].empty()) continue;
    auto f = split_fields(ft_lines[i], '\t');
    m.gene_ids.emplace_back(unquote(f[0]));
    names.emplace_back(unquote(f.size() > 1 ? f[1] : f[0]));
  }
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
  if (size_fields.size() < 3 || !parse_double(size_fields[0], dims[0]) ||
      !parse_double(size_fields[1], dims[1]) || !parse_double(size_fields[2], dims[2]))
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
    if (f.size() < 3 || !parse_double(f[0], g) || !parse_double(f[1], b) || !parse_double(f[2], v))
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
      if (!parse_double(f[size_t(k + 1)], v[k]))
        throw InputError(file, "non-numeric value '" + std::string(f[size_t(k + 1)]) + "'",
                         "line " + std::to_string(i + 1) + ", column " + std::to_string(k + 2));
    p.in_tissue = int(v[0]);
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
  // Visium spots are 55 µm across.
  g.um_per_px = ms.um_per_px ? *ms.um_per_px : 55.0 / g.spot_diameter_px;
  return s;
}

}  // namespace hiscmcl
