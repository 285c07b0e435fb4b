// AnnData .h5ad through io/hdf5_file.h. Encoding attributes follow the AnnData on-disk spec
// (anndata >= 0.8): every element carries encoding-type / encoding-version string attributes.
#include "io/h5ad.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/atomic_output.h"
#include "common/error.h"
#include "common/log.h"
#include "io/hdf5_file.h"

namespace fs = std::filesystem;

namespace hiscmcl {
namespace {

const char kWhat[] = "an AnnData file";

// ---------------------------------------------------------------- writing

void encoding(const hdf5::Object& o, const char* type, const char* version) {
  o.write_attr_string("encoding-type", type);
  o.write_attr_string("encoding-version", version);
}
hdf5::Group group(const hdf5::Group& parent, const char* name, const char* type = "dict",
                  const char* version = "0.1.0") {
  hdf5::Group g = parent.create_group(name);
  encoding(g, type, version);
  return g;
}
// A dense numeric array ("array" 0.2.0) of any rank.
template <typename T>
void array(const hdf5::Group& parent, const char* name, const std::vector<hsize_t>& dims,
           const T* data) {
  encoding(parent.write_numbers<T>(name, dims, data), "array", "0.2.0");
}
void strings(const hdf5::Group& parent, const char* name, const std::vector<std::string>& values) {
  encoding(parent.write_strings(name, values), "string-array", "0.2.0");
}
void scalar_string(const hdf5::Group& parent, const char* name, const std::string& value) {
  encoding(parent.write_string(name, value), "string", "0.2.0");
}
template <typename T>
void scalar_number(const hdf5::Group& parent, const char* name, T value) {
  encoding(parent.write_numbers<T>(name, {}, &value), "numeric-scalar", "0.2.0");
}

void check_shape(const PreparedSection& s, const std::string& file) {
  const int64_t n = s.n_spots(), g = int64_t(s.genes.size());
  auto bad = [&](const std::string& what) {
    throw InputError(file, "inconsistent section '" + s.id + "': " + what);
  };
  if (s.expression.rows != n || s.expression.cols != g) bad("expression is not spots x genes");
  if (!s.counts.data.empty() && (s.counts.rows != n || s.counts.cols != g))
    bad("counts is not spots x genes");
  if (!s.spread.data.empty() && (s.spread.rows != n || s.spread.cols != g)) bad("spread is not spots x genes");
  if (int64_t(s.pixel_xy.size()) != n) bad("pixel_xy has the wrong length");
  if (!s.array_xy.empty() && int64_t(s.array_xy.size()) != n) bad("array_xy has the wrong length");
  if (!s.labels.empty() && int64_t(s.labels.size()) != n) bad("labels has the wrong length");
  if (!s.clusters.empty() && int64_t(s.clusters.size()) != n) bad("clusters has the wrong length");
  if (!s.spatial_image.empty() &&
      (s.spatial_image.width <= 0 || s.spatial_image.height <= 0 ||
       s.spatial_image.rgb.size() != size_t(s.spatial_image.width) * size_t(s.spatial_image.height) * 3 ||
       !(s.spatial_image.hires_scalef > 0)))
    bad("spatial image is not height x width x 3 with a positive scale");
  auto check_name = [&](const std::string& name) {
    if (name.empty() || name.find('/') != std::string::npos) bad("obs column '" + name + "' is not a valid name");
    for (const char* fixed : {"_index", "array_x", "array_y", "pixel_x", "pixel_y", "label", "cluster"})
      if (name == fixed) bad("obs column " + name + " would replace a fixed column");
  };
  for (const auto& c : s.obs_columns) {
    if (int64_t(c.values.size()) != n) bad("obs column " + c.name + " has the wrong length");
    check_name(c.name);
  }
  for (const auto& c : s.obs_categoricals) {
    if (int64_t(c.codes.size()) != n) bad("obs column " + c.name + " has the wrong length");
    check_name(c.name);
    for (int code : c.codes)
      if (code < -1 || code >= int(c.categories.size())) bad("obs column " + c.name + " has a code without a category");
  }
}

// uns/spatial/<library id> as scanpy's read_visium writes it (sc.pl.spatial and squidpy find the
// image and its scale there); obsm/spatial stays in full-resolution pixels.
void write_spatial_image(const hdf5::Group& uns, const PreparedSection& s) {
  const SpatialImage& im = s.spatial_image;
  hdf5::Group spatial = group(uns, "spatial");
  // An HDF5 name holds no '/', and "." would name the group itself.
  std::string library = s.id;
  for (char& c : library)
    if (c == '/') c = '_';
  if (library.empty() || library == "." || library == "..") library = "section";
  hdf5::Group lib = group(spatial, library.c_str());
  hdf5::Group images = group(lib, "images");
  array(images, "hires", {hsize_t(im.height), hsize_t(im.width), 3}, im.rgb.data());
  hdf5::Group scale = group(lib, "scalefactors");
  scalar_number(scale, "tissue_hires_scalef", im.hires_scalef);
  scalar_number(scale, "spot_diameter_fullres", s.image.spot_diameter_px);
  hdf5::Group meta = group(lib, "metadata");
  scalar_string(meta, "source_image_path", s.image.image_path);
}

// ---------------------------------------------------------------- reading

// A dataframe's index: the dataset named by the `_index` attribute. Names must be unique: they
// are the join keys of everything downstream.
std::vector<std::string> dataframe_index(const hdf5::File& f, const std::string& df) {
  if (f.is_dataset(df))
    f.fail(df, "old AnnData layout (compound dataframe, anndata < 0.7) is not supported; "
               "re-save the file with a recent anndata");
  std::string index = "_index";
  if (f.exists(df)) index = f.group(df).attr_string("_index").value_or("");
  if (index.empty()) index = "_index";
  hdf5::Dataset d = f.dataset(df + "/" + index);  // a missing df reports its missing index
  std::vector<std::string> names = d.read_strings();
  std::unordered_map<std::string, size_t> first;
  for (size_t i = 0; i < names.size(); ++i) {
    auto [it, fresh] = first.emplace(names[i], i);
    if (!fresh)
      d.fail("duplicate " + df + " name '" + names[i] + "' (entries " + std::to_string(it->second) +
             " and " + std::to_string(i) + "); make them unique (anndata: " + df +
             "_names_make_unique())");
  }
  return names;
}

std::vector<std::string> decode_categories(const hdf5::Dataset& codes_ds, int64_t n,
                                           const std::vector<std::string>& categories) {
  std::vector<std::string> out;
  for (int64_t c : codes_ds.read_numbers<int64_t>({n})) {
    if (c >= int64_t(categories.size())) codes_ds.fail("category code out of range");
    out.push_back(c < 0 ? std::string() : categories[size_t(c)]);
  }
  return out;
}

// A string-valued column of n entries: plain strings, a categorical group (codes + categories),
// or the anndata 0.7 layout (codes dataset whose `categories` attribute references the categories).
std::vector<std::string> string_column(const hdf5::File& f, const std::string& path, int64_t n) {
  if (f.is_group(path))
    return decode_categories(f.dataset(path + "/codes"), n,
                             f.dataset(path + "/categories").read_strings());
  hdf5::Dataset d = f.dataset(path);
  if (d.type_class() == H5T_STRING) return d.read_strings(n);
  if (auto categories = d.attr_reference("categories"))
    return decode_categories(d, n, categories->read_strings());
  d.fail("expected a string or categorical column");
}

// X or a layer, dense or sparse (CSR, or CSC transposed to CSR), as n x g counts.
SparseCounts read_counts_matrix(const hdf5::File& f, const std::string& path, int64_t n, int64_t g) {
  if (f.is_dataset(path)) {
    Matrix m;
    m.data = f.dataset(path).read_numbers<float>({n, g});
    m.rows = n;
    m.cols = g;
    return SparseCounts::from_dense(m);
  }
  hdf5::Group xg = f.group(path);
  std::string enc = xg.attr_string("encoding-type").value_or("");
  if (enc.empty()) enc = xg.attr_string("h5sparse_format").value_or("") + "_matrix";
  if (enc != "csr_matrix" && enc != "csc_matrix")
    xg.fail("unsupported sparse encoding '" + enc + "' (csr_matrix or csc_matrix expected)");
  const bool csr = enc == "csr_matrix";
  const int64_t major = csr ? n : g, minor = csr ? g : n;
  hdf5::Dataset indptr_ds = f.dataset(path + "/indptr");
  auto indptr = indptr_ds.read_numbers<int64_t>({major + 1});
  if (indptr.front() != 0) indptr_ds.fail("indptr does not start at 0");
  for (size_t i = 1; i < indptr.size(); ++i)
    if (indptr[i] < indptr[i - 1]) indptr_ds.fail("indptr is not non-decreasing");
  const int64_t nnz = indptr.back();
  auto values = f.dataset(path + "/data").read_numbers<float>({nnz});
  hdf5::Dataset indices_ds = f.dataset(path + "/indices");
  auto indices = indices_ds.read_numbers<int64_t>({nnz});
  for (int64_t j : indices)
    if (j < 0 || j >= minor) indices_ds.fail("index out of range");
  SparseCounts c;
  c.rows = n;
  c.cols = g;
  if (csr) {
    c.indptr = std::move(indptr);
    c.indices.assign(indices.begin(), indices.end());
    c.values = std::move(values);
    return c;
  }
  c.indptr.assign(size_t(n + 1), 0);  // transpose CSC to CSR
  for (int64_t j : indices) ++c.indptr[size_t(j + 1)];
  for (int64_t i = 0; i < n; ++i) c.indptr[size_t(i + 1)] += c.indptr[size_t(i)];
  c.indices.resize(values.size());
  c.values.resize(values.size());
  std::vector<int64_t> next(c.indptr.begin(), c.indptr.end() - 1);
  for (int64_t col = 0; col < g; ++col)
    for (int64_t k = indptr[size_t(col)]; k < indptr[size_t(col + 1)]; ++k) {
      int64_t row = indices[size_t(k)];
      int64_t dst = next[size_t(row)]++;
      c.indices[size_t(dst)] = int32_t(col);
      c.values[size_t(dst)] = values[size_t(k)];
    }
  return c;
}

std::string layer_names(const hdf5::File& f) {
  std::string out;
  if (f.is_group("layers"))
    for (const auto& l : f.group("layers").children()) out += (out.empty() ? "" : ", ") + l;
  return out;
}

std::string number_text(float v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// Counts are finite non-negative integers. Normalised or log data in X (scanpy's usual layout,
// raw counts in a layer) would be normalised again downstream without a word, so it is refused
// unless the manifest says where the counts are or that X is to be taken as it is.
void check_raw_counts(const hdf5::File& f, const std::string& path, const Section& s,
                      const H5adCountsSource& src) {
  const SparseCounts& c = s.counts;
  std::string first_fraction;  // with assume_normalised: the first non-integer, for the warning
  for (int64_t r = 0; r < c.rows; ++r)
    for (int64_t k = c.indptr[size_t(r)]; k < c.indptr[size_t(r + 1)]; ++k) {
      const float v = c.values[size_t(k)];
      if (std::isfinite(v) && v >= 0 && v == std::floor(v)) continue;
      const std::string found = number_text(v) + " at spot '" + s.spot_ids[size_t(r)] +
                                "', gene '" + s.genes[size_t(c.indices[size_t(k)])] + "'";
      if (!std::isfinite(v) || (v < 0 && src.assume_normalised))
        f.fail(path, "values must be finite and non-negative (found " + found + ")");
      if (src.assume_normalised) {
        if (first_fraction.empty()) first_fraction = found;
        continue;
      }
      std::string hint;
      if (src.counts_layer.empty()) {
        const std::string layers = layer_names(f);
        hint = "; set counts_layer = \"NAME\" in the manifest to read layers/NAME (" +
               (layers.empty() ? std::string("this file has no layers") : "layers here: " + layers) +
               "), or assume_normalised = true";
      }
      f.fail(path, path + " is not raw counts (found value " + found + ")" + hint);
    }
  if (!first_fraction.empty())
    spdlog::warn("{}: {} is not raw counts (found value {}); taken as it is (assume_normalised "
                 "= true)", f.name(), path, first_fraction);
}

}  // namespace

void write_prepared_h5ad(const fs::path& path, const PreparedSection& s) {
  const std::string file = path.string();
  check_shape(s, file);
  const hsize_t n = hsize_t(s.n_spots()), g = hsize_t(s.genes.size());
  AtomicPath out(path);
  {
    hdf5::File f = hdf5::File::create(out.temp(), file);
    hdf5::Group root = f.root();
    encoding(root, "anndata", "0.1.0");

    array(root, "X", {n, g}, s.expression.data.data());

    hdf5::Group layers = group(root, "layers");
    if (!s.counts.data.empty()) array(layers, "counts", {n, g}, s.counts.data.data());
    if (!s.spread.data.empty()) array(layers, "sd", {n, g}, s.spread.data.data());

    {
      hdf5::Group obs = group(root, "obs", "dataframe", "0.2.0");
      obs.write_attr_string("_index", "_index");
      strings(obs, "_index", s.spot_ids);
      std::vector<std::string> columns;
      auto column = [&](const char* name, const std::vector<std::array<double, 2>>& xy, int k) {
        std::vector<double> v(n);
        for (hsize_t i = 0; i < n; ++i) v[i] = xy[i][size_t(k)];
        array(obs, name, {n}, v.data());
        columns.push_back(name);
      };
      if (!s.array_xy.empty()) {
        column("array_x", s.array_xy, 0);
        column("array_y", s.array_xy, 1);
      }
      column("pixel_x", s.pixel_xy, 0);
      column("pixel_y", s.pixel_xy, 1);
      if (!s.labels.empty()) {
        strings(obs, "label", s.labels);
        columns.push_back("label");
      }
      if (!s.clusters.empty()) {
        strings(obs, "cluster", s.clusters);
        columns.push_back("cluster");
      }
      for (const auto& c : s.obs_columns) {
        std::vector<double> v(c.values.begin(), c.values.end());
        array(obs, c.name.c_str(), {n}, v.data());
        columns.push_back(c.name);
      }
      for (const auto& c : s.obs_categoricals) {
        hdf5::Group cat = group(obs, c.name.c_str(), "categorical", "0.2.0");
        cat.write_attr_bool("ordered", false);
        strings(cat, "categories", c.categories);
        std::vector<int32_t> codes(c.codes.begin(), c.codes.end());
        array(cat, "codes", {n}, codes.data());
        columns.push_back(c.name);
      }
      obs.write_attr_strings("column-order", columns);
    }
    {
      hdf5::Group var = group(root, "var", "dataframe", "0.2.0");
      var.write_attr_string("_index", "_index");
      strings(var, "_index", s.genes);
      var.write_attr_strings("column-order", {});
    }
    {
      hdf5::Group obsm = group(root, "obsm");
      std::vector<double> xy(2 * n);
      for (hsize_t i = 0; i < n; ++i) {
        xy[2 * i] = s.pixel_xy[i][0];
        xy[2 * i + 1] = s.pixel_xy[i][1];
      }
      array(obsm, "spatial", {n, 2}, xy.data());
    }
    group(root, "varm");
    group(root, "obsp");
    group(root, "varp");
    {
      hdf5::Group uns = group(root, "uns");
      scalar_string(uns, "section_id", s.id);
      scalar_string(uns, "patient", s.patient);
      scalar_string(uns, "image_path", s.image.image_path);
      scalar_string(uns, "normalization", s.normalization);
      scalar_number(uns, "spot_diameter_px", s.image.spot_diameter_px);
      scalar_number(uns, "um_per_px", s.image.um_per_px);
      scalar_number(uns, "image_width", int64_t(s.image.width));
      scalar_number(uns, "image_height", int64_t(s.image.height));
      array(uns, "affine", {6}, s.image.affine.data());
      if (!s.spatial_image.empty()) write_spatial_image(uns, s);
    }
    f.flush();
  }
  out.commit();
}

PreparedSection read_prepared_h5ad(const fs::path& path) {
  return read_prepared_h5ad(hdf5::File::open(path, kWhat));
}

PreparedSection read_prepared_h5ad(const hdf5::File& f) {
  PreparedSection s;
  s.spot_ids = dataframe_index(f, "obs");
  s.genes = dataframe_index(f, "var");
  const int64_t n = int64_t(s.spot_ids.size()), g = int64_t(s.genes.size());

  auto dense = [&](const std::string& p) {
    Matrix m;
    m.data = f.dataset(p).read_numbers<float>({n, g});
    m.rows = n;
    m.cols = g;
    return m;
  };
  if (f.is_group("X")) f.fail("X", "expected dense X in a prepared section");
  s.expression = dense("X");
  if (f.exists("layers/counts")) s.counts = dense("layers/counts");
  if (f.exists("layers/sd")) s.spread = dense("layers/sd");

  auto column = [&](const std::string& p) { return f.dataset(p).read_numbers<double>({n}); };
  if (f.exists("obs/array_x")) {
    auto ax = column("obs/array_x"), ay = column("obs/array_y");
    s.array_xy.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) s.array_xy[size_t(i)] = {ax[size_t(i)], ay[size_t(i)]};
  }
  auto xy = f.dataset("obsm/spatial").read_numbers<double>({n, 2});
  s.pixel_xy.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) s.pixel_xy[size_t(i)] = {xy[size_t(2 * i)], xy[size_t(2 * i + 1)]};
  if (f.exists("obs/label")) s.labels = string_column(f, "obs/label", n);
  if (f.exists("obs/cluster")) s.clusters = string_column(f, "obs/cluster", n);

  auto text = [&](const char* p) { return f.dataset(p).read_strings(1)[0]; };
  auto number = [&](const char* p) { return f.dataset(p).read_scalar(); };
  s.id = text("uns/section_id");
  s.patient = text("uns/patient");
  s.image.image_path = text("uns/image_path");
  s.normalization = text("uns/normalization");
  s.image.spot_diameter_px = number("uns/spot_diameter_px");
  s.image.um_per_px = number("uns/um_per_px");
  // Image sizes are pixel counts: a non-integer or out-of-range one is corrupt (and casting it
  // to int would be undefined).
  auto pixels = [&](const char* p) {
    hdf5::Dataset d = f.dataset(p);
    const double v = d.read_scalar();
    if (!(v >= 0 && v <= double(std::numeric_limits<int>::max()) && v == std::floor(v))) {
      std::ostringstream os;
      os << v;
      d.fail("expected an image size in pixels, found " + os.str());
    }
    return int(v);
  };
  s.image.width = pixels("uns/image_width");
  s.image.height = pixels("uns/image_height");
  auto affine = f.dataset("uns/affine").read_numbers<double>({6});
  for (size_t i = 0; i < 6; ++i) s.image.affine[i] = affine[i];
  return s;
}

namespace {

// The rows `keep` (increasing) of a section read from an h5ad, in every per-spot field.
void keep_spots(Section& s, const std::vector<int64_t>& keep) {
  auto pick = [&](auto& v) {
    if (v.empty()) return;
    std::remove_reference_t<decltype(v)> out;
    out.reserve(keep.size());
    for (int64_t i : keep) out.push_back(v[size_t(i)]);
    v = std::move(out);
  };
  pick(s.spot_ids);
  pick(s.pixel_xy);
  pick(s.array_xy);
  pick(s.labels);
  pick(s.clusters);
  s.counts = s.counts.select_rows(keep);
}

}  // namespace

Section read_h5ad_section(const fs::path& path, const H5adCountsSource& src) {
  return read_h5ad_section(hdf5::File::open(path, kWhat), src);
}

Section read_h5ad_section(const hdf5::File& f, const H5adCountsSource& src) {
  Section s;
  s.id = fs::path(f.name()).stem().string();
  s.spot_ids = dataframe_index(f, "obs");
  s.genes = dataframe_index(f, "var");
  const int64_t n = int64_t(s.spot_ids.size()), g = int64_t(s.genes.size());
  if (n == 0) f.fail("obs", "the section has no spots");

  const std::string counts = src.counts_layer.empty() ? "X" : "layers/" + src.counts_layer;
  if (!f.exists(counts)) {
    if (src.counts_layer.empty()) f.fail("X", "missing: not an AnnData file with counts");
    const std::string layers = layer_names(f);
    throw InputError(f.name(), "counts_layer = \"" + src.counts_layer + "\" but there is no " +
                                   counts + " (layers here: " + (layers.empty() ? "none" : layers) + ")");
  }
  s.counts = read_counts_matrix(f, counts, n, g);
  check_raw_counts(f, counts, s, src);

  s.pixel_xy.resize(size_t(n));
  if (f.exists("obsm/spatial")) {
    auto xy = f.dataset("obsm/spatial").read_numbers<double>({n, -1});
    const size_t w = xy.size() / size_t(n);
    if (w < 2) f.fail("obsm/spatial", "expected spots x 2 pixel coordinates");
    for (int64_t i = 0; i < n; ++i) s.pixel_xy[size_t(i)] = {xy[size_t(i) * w], xy[size_t(i) * w + 1]};
  } else if (f.exists("obs/pxl_col_in_fullres") && f.exists("obs/pxl_row_in_fullres")) {
    // Space Ranger's (and HEST's) columns: x = column, y = row, full-resolution pixels.
    auto x = f.dataset("obs/pxl_col_in_fullres").read_numbers<double>({n});
    auto y = f.dataset("obs/pxl_row_in_fullres").read_numbers<double>({n});
    for (int64_t i = 0; i < n; ++i) s.pixel_xy[size_t(i)] = {x[size_t(i)], y[size_t(i)]};
  } else {
    f.fail("obsm/spatial", "missing: spot pixel coordinates are required (obsm/spatial, or obs "
                           "pxl_col_in_fullres and pxl_row_in_fullres)");
  }

  if (f.exists("obs/array_row") && f.exists("obs/array_col")) {
    auto row = f.dataset("obs/array_row").read_numbers<double>({n});
    auto col = f.dataset("obs/array_col").read_numbers<double>({n});
    s.array_xy.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) s.array_xy[size_t(i)] = {col[size_t(i)], row[size_t(i)]};
  } else {
    s.array_xy = s.pixel_xy;  // the reference's fallback (METHOD.md §2.5)
  }
  if (f.exists("obs/label")) s.labels = string_column(f, "obs/label", n);
  // Space Ranger's in_tissue (bool or 0/1): spots off the tissue are no training data.
  if (f.exists("obs/in_tissue") && !f.is_group("obs/in_tissue")) {
    auto in_tissue = f.dataset("obs/in_tissue").read_numbers<double>({n});
    std::vector<int64_t> keep;
    for (int64_t i = 0; i < n; ++i)
      if (in_tissue[size_t(i)] != 0) keep.push_back(i);
    if (keep.empty()) f.fail("obs/in_tissue", "no spot is in the tissue (every in_tissue is 0)");
    if (int64_t(keep.size()) < n) {
      spdlog::info("{}: {} of {} spots are off the tissue (obs in_tissue = 0), dropped", f.name(),
                   n - int64_t(keep.size()), n);
      keep_spots(s, keep);
    }
  }
  return s;  // a foreign obs "cluster" (often numeric, from scanpy) is not taken as published clusters
}

}  // namespace hiscmcl
