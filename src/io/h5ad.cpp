// AnnData .h5ad through the HDF5 C API. Encoding attributes follow the AnnData on-disk spec
// (anndata >= 0.8): every element carries encoding-type / encoding-version string attributes.
#include "io/h5ad.h"

#include <hdf5.h>

#include <cmath>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "common/atomic_output.h"
#include "common/error.h"

namespace fs = std::filesystem;

namespace hiscmcl {
namespace {

// HDF5 prints a stack trace on every failed call unless told not to; we report our own errors.
void silence_hdf5() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

// Owns one HDF5 identifier and closes it with the matching function.
class Hid {
 public:
  Hid() = default;
  Hid(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Hid(Hid&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = H5I_INVALID_HID; }
  Hid& operator=(Hid&& o) noexcept {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = H5I_INVALID_HID;
    return *this;
  }
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  ~Hid() { reset(); }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = H5I_INVALID_HID;
  }
  operator hid_t() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  herr_t (*close_)(hid_t) = nullptr;
};

Hid vlen_utf8_type() {
  Hid t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

// ---------------------------------------------------------------- writing

class Writer {
 public:
  explicit Writer(std::string file) : file_(std::move(file)) {}

  hid_t check(hid_t id, const std::string& what) const {
    if (id < 0) throw InputError(file_, "HDF5 write failed: " + what);
    return id;
  }
  void check(herr_t rc, const std::string& what, int) const {
    if (rc < 0) throw InputError(file_, "HDF5 write failed: " + what);
  }

  void attr_string(hid_t obj, const char* name, const std::string& value) const {
    Hid type = vlen_utf8_type();
    Hid space(H5Screate(H5S_SCALAR), H5Sclose);
    Hid a(check(H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT), name), H5Aclose);
    const char* p = value.c_str();
    check(H5Awrite(a, type, &p), name, 0);
  }
  void attr_strings(hid_t obj, const char* name, const std::vector<std::string>& values) const {
    Hid type = vlen_utf8_type();
    hsize_t n = values.size();
    Hid space(H5Screate_simple(1, &n, nullptr), H5Sclose);
    Hid a(check(H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT), name), H5Aclose);
    std::vector<const char*> ptrs;
    for (const auto& v : values) ptrs.push_back(v.c_str());
    if (n > 0) check(H5Awrite(a, type, ptrs.data()), name, 0);
  }
  void encoding(hid_t obj, const char* type, const char* version) const {
    attr_string(obj, "encoding-type", type);
    attr_string(obj, "encoding-version", version);
  }

  Hid group(hid_t parent, const char* name, const char* type = "dict",
            const char* version = "0.1.0") const {
    Hid g(check(H5Gcreate2(parent, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), name),
          H5Gclose);
    encoding(g, type, version);
    return g;
  }

  // A dense numeric array ("array" 0.2.0) of any rank; mem/file types chosen by the caller.
  void array(hid_t parent, const char* name, hid_t type, const std::vector<hsize_t>& dims,
             const void* data) const {
    Hid space(H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose);
    Hid d(check(H5Dcreate2(parent, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                name),
          H5Dclose);
    hsize_t n = 1;
    for (auto x : dims) n *= x;
    if (n > 0) check(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), name, 0);
    encoding(d, "array", "0.2.0");
  }
  void strings(hid_t parent, const char* name, const std::vector<std::string>& values) const {
    Hid type = vlen_utf8_type();
    hsize_t n = values.size();
    Hid space(H5Screate_simple(1, &n, nullptr), H5Sclose);
    Hid d(check(H5Dcreate2(parent, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                name),
          H5Dclose);
    std::vector<const char*> ptrs;
    for (const auto& v : values) ptrs.push_back(v.c_str());
    if (n > 0) check(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), name, 0);
    encoding(d, "string-array", "0.2.0");
  }
  void scalar_string(hid_t parent, const char* name, const std::string& value) const {
    Hid type = vlen_utf8_type();
    Hid space(H5Screate(H5S_SCALAR), H5Sclose);
    Hid d(check(H5Dcreate2(parent, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                name),
          H5Dclose);
    const char* p = value.c_str();
    check(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &p), name, 0);
    encoding(d, "string", "0.2.0");
  }
  void scalar_number(hid_t parent, const char* name, hid_t type, const void* value) const {
    Hid space(H5Screate(H5S_SCALAR), H5Sclose);
    Hid d(check(H5Dcreate2(parent, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                name),
          H5Dclose);
    check(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, value), name, 0);
    encoding(d, "numeric-scalar", "0.2.0");
  }

 private:
  std::string file_;
};

void check_shape(const PreparedSection& s, const std::string& file) {
  const int64_t n = s.n_spots(), g = int64_t(s.genes.size());
  auto bad = [&](const std::string& what) {
    throw InputError(file, "inconsistent section '" + s.id + "': " + what);
  };
  if (s.expression.rows != n || s.expression.cols != g) bad("expression is not spots x genes");
  if (!s.counts.data.empty() && (s.counts.rows != n || s.counts.cols != g))
    bad("counts is not spots x genes");
  if (int64_t(s.pixel_xy.size()) != n) bad("pixel_xy has the wrong length");
  if (!s.array_xy.empty() && int64_t(s.array_xy.size()) != n) bad("array_xy has the wrong length");
  if (!s.labels.empty() && int64_t(s.labels.size()) != n) bad("labels has the wrong length");
}

// ---------------------------------------------------------------- reading

class Reader {
 public:
  explicit Reader(const fs::path& path) : file_(path.string()) {
    silence_hdf5();
    if (!fs::exists(path)) throw InputError(file_, "file not found");
    if (H5Fis_hdf5(file_.c_str()) <= 0) throw InputError(file_, "not an HDF5 file (corrupt or not .h5ad)");
    h_ = Hid(H5Fopen(file_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!h_.valid()) throw InputError(file_, "cannot open as HDF5 (corrupt file?)");
  }
  hid_t root() const { return h_; }
  const std::string& file() const { return file_; }

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw InputError(file_, what, "dataset /" + path);
  }

  bool exists(const std::string& path) const {
    size_t pos = 0;
    while (true) {
      size_t slash = path.find('/', pos);
      std::string prefix = path.substr(0, slash);
      if (H5Lexists(h_, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
      if (slash == std::string::npos) return true;
      pos = slash + 1;
    }
  }
  H5I_type_t kind(const std::string& path) const {
    Hid o(H5Oopen(h_, path.c_str(), H5P_DEFAULT), H5Oclose);
    if (!o.valid()) fail(path, "cannot open object");
    return H5Iget_type(o);
  }
  Hid dataset(const std::string& path) const {
    if (!exists(path)) fail(path, "missing (not an AnnData file written as expected?)");
    Hid d(H5Dopen2(h_, path.c_str(), H5P_DEFAULT), H5Dclose);
    if (!d.valid()) fail(path, "not a dataset");
    return d;
  }
  Hid group(const std::string& path) const {
    if (!exists(path)) fail(path, "missing (not an AnnData file?)");
    Hid g(H5Gopen2(h_, path.c_str(), H5P_DEFAULT), H5Gclose);
    if (!g.valid()) fail(path, "not a group");
    return g;
  }

  std::vector<hsize_t> dims(hid_t d) const {
    Hid space(H5Dget_space(d), H5Sclose);
    int rank = H5Sget_simple_extent_ndims(space);
    std::vector<hsize_t> out(size_t(std::max(rank, 0)));
    if (rank > 0) H5Sget_simple_extent_dims(space, out.data(), nullptr);
    return out;
  }

  // Numeric dataset converted to T by HDF5 (float/int sources alike).
  template <typename T>
  std::vector<T> numbers(const std::string& path, hid_t mem_type,
                         std::vector<hsize_t>* shape = nullptr) const {
    Hid d = dataset(path);
    Hid type(H5Dget_type(d), H5Tclose);
    H5T_class_t cls = H5Tget_class(type);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) fail(path, "expected numbers");
    auto dm = dims(d);
    size_t n = 1;
    for (auto x : dm) n *= size_t(x);
    std::vector<T> out(n);
    if (n > 0 && H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
      fail(path, "read failed (corrupt data?)");
    if (shape) *shape = dm;
    return out;
  }

  std::vector<std::string> strings_of(hid_t d, const std::string& path) const {
    Hid type(H5Dget_type(d), H5Tclose);
    if (H5Tget_class(type) != H5T_STRING) fail(path, "expected strings");
    Hid space(H5Dget_space(d), H5Sclose);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    std::vector<std::string> out;
    if (n <= 0) return out;
    if (H5Tis_variable_str(type) > 0) {
      Hid mem = vlen_utf8_type();
      std::vector<char*> ptrs(size_t(n), nullptr);
      if (H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
        fail(path, "read failed (corrupt data?)");
      for (char* p : ptrs) out.emplace_back(p ? p : "");
      H5Dvlen_reclaim(mem, space, H5P_DEFAULT, ptrs.data());
    } else {
      size_t width = H5Tget_size(type);
      Hid mem(H5Tcopy(type), H5Tclose);
      std::vector<char> buf(size_t(n) * width);
      if (H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
        fail(path, "read failed (corrupt data?)");
      for (hssize_t i = 0; i < n; ++i) {
        const char* p = buf.data() + size_t(i) * width;
        size_t len = strnlen(p, width);
        out.emplace_back(p, len);
      }
    }
    return out;
  }
  std::vector<std::string> strings(const std::string& path) const {
    Hid d = dataset(path);
    return strings_of(d, path);
  }

  std::string attr_string(hid_t obj, const char* name, const std::string& where) const {
    if (H5Aexists(obj, name) <= 0) return {};
    Hid a(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
    Hid type(H5Aget_type(a), H5Tclose);
    if (H5Tget_class(type) != H5T_STRING) return {};
    if (H5Tis_variable_str(type) > 0) {
      Hid mem = vlen_utf8_type();
      char* p = nullptr;
      if (H5Aread(a, mem, &p) < 0) fail(where, std::string("cannot read attribute ") + name);
      std::string s = p ? p : "";
      Hid space(H5Aget_space(a), H5Sclose);
      H5Dvlen_reclaim(mem, space, H5P_DEFAULT, &p);
      return s;
    }
    size_t width = H5Tget_size(type);
    std::vector<char> buf(width + 1, 0);
    if (H5Aread(a, type, buf.data()) < 0) fail(where, std::string("cannot read attribute ") + name);
    return std::string(buf.data(), strnlen(buf.data(), width));
  }

  double scalar_number(const std::string& path) const {
    auto v = numbers<double>(path, H5T_NATIVE_DOUBLE);
    if (v.size() != 1) fail(path, "expected a scalar");
    return v[0];
  }
  std::string scalar_string(const std::string& path) const {
    auto v = strings(path);
    if (v.size() != 1) fail(path, "expected a scalar string");
    return v[0];
  }

  // A dataframe's index: the dataset named by the `_index` attribute.
  std::vector<std::string> dataframe_index(const std::string& df) const {
    if (!exists(df)) fail(df, "missing (not an AnnData file?)");
    if (kind(df) != H5I_GROUP)
      fail(df, "old AnnData layout (compound dataframe, anndata < 0.7) is not supported; "
               "re-save the file with a recent anndata");
    Hid g = group(df);
    std::string index = attr_string(g, "_index", df);
    if (index.empty()) index = "_index";
    return strings(df + "/" + index);
  }

  // A string-valued column: plain strings, a categorical group (codes + categories), or the
  // anndata 0.7 layout (codes dataset whose `categories` attribute references the categories).
  std::vector<std::string> string_column(const std::string& path) const {
    std::vector<std::string> out;
    if (kind(path) == H5I_GROUP) {
      auto categories = strings(path + "/categories");
      auto codes = numbers<int64_t>(path + "/codes", H5T_NATIVE_INT64);
      for (int64_t c : codes) {
        if (c >= int64_t(categories.size())) fail(path + "/codes", "category code out of range");
        out.push_back(c < 0 ? std::string() : categories[size_t(c)]);
      }
      return out;
    }
    Hid d = dataset(path);
    Hid type(H5Dget_type(d), H5Tclose);
    if (H5Tget_class(type) == H5T_STRING) return strings_of(d, path);
    if (H5Aexists(d, "categories") > 0) {
      Hid a(H5Aopen(d, "categories", H5P_DEFAULT), H5Aclose);
      hobj_ref_t ref;
      if (H5Aread(a, H5T_STD_REF_OBJ, &ref) < 0) fail(path, "cannot read categories reference");
      Hid cat(H5Rdereference2(d, H5P_DEFAULT, H5R_OBJECT, &ref), H5Dclose);
      if (!cat.valid()) fail(path, "dangling categories reference");
      auto categories = strings_of(cat, path + " (categories)");
      auto codes = numbers<int64_t>(path, H5T_NATIVE_INT64);
      for (int64_t c : codes) {
        if (c >= int64_t(categories.size())) fail(path, "category code out of range");
        out.push_back(c < 0 ? std::string() : categories[size_t(c)]);
      }
      return out;
    }
    fail(path, "expected a string or categorical column");
  }

 private:
  std::string file_;
  Hid h_;
};

}  // namespace

void write_prepared_h5ad(const fs::path& path, const PreparedSection& s) {
  silence_hdf5();
  const std::string file = path.string();
  check_shape(s, file);
  const hsize_t n = hsize_t(s.n_spots()), g = hsize_t(s.genes.size());
  AtomicPath out(path);
  {
    Writer w(file);
    Hid f(H5Fcreate(out.temp().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (!f.valid()) throw InputError(file, "cannot create HDF5 file");
    w.encoding(f, "anndata", "0.1.0");

    w.array(f, "X", H5T_NATIVE_FLOAT, {n, g}, s.expression.data.data());

    Hid layers = w.group(f, "layers");
    if (!s.counts.data.empty()) w.array(layers, "counts", H5T_NATIVE_FLOAT, {n, g}, s.counts.data.data());

    {
      Hid obs = w.group(f, "obs", "dataframe", "0.2.0");
      w.attr_string(obs, "_index", "_index");
      w.strings(obs, "_index", s.spot_ids);
      std::vector<std::string> columns;
      auto column = [&](const char* name, const std::vector<std::array<double, 2>>& xy, int k) {
        std::vector<double> v(n);
        for (hsize_t i = 0; i < n; ++i) v[i] = xy[i][size_t(k)];
        w.array(obs, name, H5T_NATIVE_DOUBLE, {n}, v.data());
        columns.push_back(name);
      };
      if (!s.array_xy.empty()) {
        column("array_x", s.array_xy, 0);
        column("array_y", s.array_xy, 1);
      }
      column("pixel_x", s.pixel_xy, 0);
      column("pixel_y", s.pixel_xy, 1);
      if (!s.labels.empty()) {
        w.strings(obs, "label", s.labels);
        columns.push_back("label");
      }
      w.attr_strings(obs, "column-order", columns);
    }
    {
      Hid var = w.group(f, "var", "dataframe", "0.2.0");
      w.attr_string(var, "_index", "_index");
      w.strings(var, "_index", s.genes);
      w.attr_strings(var, "column-order", {});
    }
    {
      Hid obsm = w.group(f, "obsm");
      std::vector<double> xy(2 * n);
      for (hsize_t i = 0; i < n; ++i) {
        xy[2 * i] = s.pixel_xy[i][0];
        xy[2 * i + 1] = s.pixel_xy[i][1];
      }
      w.array(obsm, "spatial", H5T_NATIVE_DOUBLE, {n, 2}, xy.data());
    }
    w.group(f, "varm");
    w.group(f, "obsp");
    w.group(f, "varp");
    {
      Hid uns = w.group(f, "uns");
      w.scalar_string(uns, "section_id", s.id);
      w.scalar_string(uns, "patient", s.patient);
      w.scalar_string(uns, "image_path", s.image.image_path);
      w.scalar_string(uns, "normalization", s.normalization);
      w.scalar_number(uns, "spot_diameter_px", H5T_NATIVE_DOUBLE, &s.image.spot_diameter_px);
      w.scalar_number(uns, "um_per_px", H5T_NATIVE_DOUBLE, &s.image.um_per_px);
      int64_t width = s.image.width, height = s.image.height;
      w.scalar_number(uns, "image_width", H5T_NATIVE_INT64, &width);
      w.scalar_number(uns, "image_height", H5T_NATIVE_INT64, &height);
      w.array(uns, "affine", H5T_NATIVE_DOUBLE, {6}, s.image.affine.data());
    }
    if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) throw InputError(file, "HDF5 flush failed");
  }
  out.commit();
}

PreparedSection read_prepared_h5ad(const fs::path& path) {
  Reader r(path);
  PreparedSection s;
  s.spot_ids = r.dataframe_index("obs");
  s.genes = r.dataframe_index("var");
  const int64_t n = int64_t(s.spot_ids.size()), g = int64_t(s.genes.size());

  auto read_matrix = [&](const std::string& p) {
    std::vector<hsize_t> shape;
    Matrix m;
    m.data = r.numbers<float>(p, H5T_NATIVE_FLOAT, &shape);
    if (shape.size() != 2 || int64_t(shape[0]) != n || int64_t(shape[1]) != g)
      r.fail(p, "expected a dense " + std::to_string(n) + "x" + std::to_string(g) + " matrix");
    m.rows = n;
    m.cols = g;
    return m;
  };
  if (r.exists("X") && r.kind("X") != H5I_DATASET) r.fail("X", "expected dense X in a prepared section");
  s.expression = read_matrix("X");
  if (r.exists("layers/counts")) s.counts = read_matrix("layers/counts");

  auto column = [&](const std::string& p) {
    auto v = r.numbers<double>(p, H5T_NATIVE_DOUBLE);
    if (int64_t(v.size()) != n) r.fail(p, "length differs from the number of spots");
    return v;
  };
  if (r.exists("obs/array_x")) {
    auto ax = column("obs/array_x"), ay = column("obs/array_y");
    s.array_xy.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) s.array_xy[size_t(i)] = {ax[size_t(i)], ay[size_t(i)]};
  }
  std::vector<hsize_t> shape;
  auto xy = r.numbers<double>("obsm/spatial", H5T_NATIVE_DOUBLE, &shape);
  if (shape.size() != 2 || int64_t(shape[0]) != n || shape[1] != 2)
    r.fail("obsm/spatial", "expected spots x 2");
  s.pixel_xy.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) s.pixel_xy[size_t(i)] = {xy[size_t(2 * i)], xy[size_t(2 * i + 1)]};
  if (r.exists("obs/label")) {
    s.labels = r.string_column("obs/label");
    if (int64_t(s.labels.size()) != n) r.fail("obs/label", "length differs from the number of spots");
  }

  s.id = r.scalar_string("uns/section_id");
  s.patient = r.scalar_string("uns/patient");
  s.image.image_path = r.scalar_string("uns/image_path");
  s.normalization = r.scalar_string("uns/normalization");
  s.image.spot_diameter_px = r.scalar_number("uns/spot_diameter_px");
  s.image.um_per_px = r.scalar_number("uns/um_per_px");
  s.image.width = int(r.scalar_number("uns/image_width"));
  s.image.height = int(r.scalar_number("uns/image_height"));
  auto affine = r.numbers<double>("uns/affine", H5T_NATIVE_DOUBLE);
  if (affine.size() != 6) r.fail("uns/affine", "expected 6 numbers");
  for (size_t i = 0; i < 6; ++i) s.image.affine[i] = affine[i];
  return s;
}

Section read_h5ad_section(const fs::path& path) {
  Reader r(path);
  Section s;
  s.id = path.stem().string();
  s.spot_ids = r.dataframe_index("obs");
  s.genes = r.dataframe_index("var");
  const int64_t n = int64_t(s.spot_ids.size()), g = int64_t(s.genes.size());
  if (n == 0) r.fail("obs", "the section has no spots");

  if (!r.exists("X")) r.fail("X", "missing: not an AnnData file with counts");
  if (r.kind("X") == H5I_DATASET) {
    std::vector<hsize_t> shape;
    Matrix m;
    m.data = r.numbers<float>("X", H5T_NATIVE_FLOAT, &shape);
    if (shape.size() != 2 || int64_t(shape[0]) != n || int64_t(shape[1]) != g)
      r.fail("X", "shape does not match obs x var (" + std::to_string(n) + "x" +
                      std::to_string(g) + ")");
    m.rows = n;
    m.cols = g;
    s.counts = SparseCounts::from_dense(m);
  } else {
    Hid xg = r.group("X");
    std::string enc = r.attr_string(xg, "encoding-type", "X");
    if (enc.empty()) enc = r.attr_string(xg, "h5sparse_format", "X") + "_matrix";
    if (enc != "csr_matrix" && enc != "csc_matrix")
      r.fail("X", "unsupported sparse encoding '" + enc + "' (csr_matrix or csc_matrix expected)");
    auto values = r.numbers<float>("X/data", H5T_NATIVE_FLOAT);
    auto indices = r.numbers<int64_t>("X/indices", H5T_NATIVE_INT64);
    auto indptr = r.numbers<int64_t>("X/indptr", H5T_NATIVE_INT64);
    const bool csr = enc == "csr_matrix";
    const int64_t major = csr ? n : g, minor = csr ? g : n;
    if (int64_t(indptr.size()) != major + 1 || indices.size() != values.size() ||
        indptr.front() != 0 || indptr.back() != int64_t(values.size()))
      r.fail("X/indptr", "inconsistent sparse matrix (indptr/indices/data sizes)");
    for (size_t i = 1; i < indptr.size(); ++i)
      if (indptr[i] < indptr[i - 1]) r.fail("X/indptr", "indptr is not non-decreasing");
    for (int64_t j : indices)
      if (j < 0 || j >= minor) r.fail("X/indices", "index out of range");
    SparseCounts& c = s.counts;
    c.rows = n;
    c.cols = g;
    if (csr) {
      c.indptr = std::move(indptr);
      c.indices.assign(indices.begin(), indices.end());
      c.values = std::move(values);
    } else {  // transpose CSC to CSR
      c.indptr.assign(size_t(n + 1), 0);
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
    }
  }
  for (float v : s.counts.values)
    if (!std::isfinite(v) || v < 0) r.fail("X", "counts must be finite and non-negative (found " + std::to_string(v) + ")");

  std::vector<hsize_t> shape;
  if (!r.exists("obsm/spatial")) r.fail("obsm/spatial", "missing: spot pixel coordinates are required");
  auto xy = r.numbers<double>("obsm/spatial", H5T_NATIVE_DOUBLE, &shape);
  if (shape.size() != 2 || int64_t(shape[0]) != n || shape[1] < 2)
    r.fail("obsm/spatial", "expected spots x 2 pixel coordinates");
  s.pixel_xy.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i)
    s.pixel_xy[size_t(i)] = {xy[size_t(i) * shape[1]], xy[size_t(i) * shape[1] + 1]};

  if (r.exists("obs/array_row") && r.exists("obs/array_col")) {
    auto row = r.numbers<double>("obs/array_row", H5T_NATIVE_DOUBLE);
    auto col = r.numbers<double>("obs/array_col", H5T_NATIVE_DOUBLE);
    if (int64_t(row.size()) != n || int64_t(col.size()) != n)
      r.fail("obs/array_row", "length differs from the number of spots");
    s.array_xy.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) s.array_xy[size_t(i)] = {col[size_t(i)], row[size_t(i)]};
  } else {
    s.array_xy = s.pixel_xy;  // the reference's fallback (spec §2.3, Skin)
  }
  if (r.exists("obs/label")) {
    s.labels = r.string_column("obs/label");
    if (int64_t(s.labels.size()) != n) r.fail("obs/label", "length differs from the number of spots");
  }
  return s;
}

}  // namespace hiscmcl
