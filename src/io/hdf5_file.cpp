// HDF5 through its C API, with every size checked before it turns into an allocation or a read.
//
// Variable-length strings. A stored vlen string is a 16-byte descriptor (length, global-heap
// collection address, object index); libhdf5 (1.10) resolves it in H5HG_read without checking
// that the index names an object of the collection or that the object's size matches the
// length, so a damaged heap makes it index past its object table or memcpy past its buffer:
// a segfault, not an error (flipping 64 bytes of a 10x matrix's heap is enough). There is no
// option to make that path safe, so the library never resolves our vlen strings: a soft
// conversion registered below turns "variable-length string" into a tagged opaque type of the
// descriptor's size by copying the stored bytes unchanged. H5Dread / H5Aread with that type
// hand us the raw descriptors, after HDF5 has undone chunking and compression; we then read the
// heap collections ourselves and check every size and index against the bytes actually there.
#include "io/hdf5_file.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>

#include "common/error.h"

namespace fs = std::filesystem;

namespace hiscmcl::hdf5 {
namespace {

// HDF5 prints its error stack on every failed call unless told not to; we report our own.
// The setting is per thread in a thread-safe libhdf5, hence thread_local.
void silence_hdf5() {
  thread_local bool done = false;
  if (!done) H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  done = true;
}

const char kDescriptorTag[] = "hiscmcl.vlen-string-descriptor";

// Soft conversion "variable-length string -> our opaque type of the same size": a verbatim copy
// of the stored descriptor (in place, so nothing to move). Refuses every other pair of types.
herr_t copy_descriptor(hid_t src, hid_t dst, H5T_cdata_t* cdata, size_t, size_t, size_t, void*,
                       void*, hid_t) {
  if (cdata->command != H5T_CONV_INIT) return 0;  // CONV: bytes already in place; FREE: nothing
  if (H5Tget_class(src) != H5T_STRING || H5Tis_variable_str(src) <= 0) return -1;
  if (H5Tget_class(dst) != H5T_OPAQUE || H5Tget_size(src) != H5Tget_size(dst)) return -1;
  char* tag = H5Tget_tag(dst);
  const bool ours = tag && std::strcmp(tag, kDescriptorTag) == 0;
  if (tag) H5free_memory(tag);
  if (!ours) return -1;
  cdata->need_bkg = H5T_BKG_NO;
  return 0;
}

void register_descriptor_conversion() {
  static std::once_flag once;
  std::call_once(once, [] {
    Id src(H5Tcopy(H5T_C_S1));
    H5Tset_size(src, H5T_VARIABLE);
    Id dst(H5Tcreate(H5T_OPAQUE, 16));
    H5Tset_tag(dst, kDescriptorTag);
    H5Tregister(H5T_PERS_SOFT, "hiscmcl_vlen_descriptor", src, dst, copy_descriptor);
  });
}

Id vlen_utf8_type() {
  Id t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

template <typename T> hid_t native_type();
template <> hid_t native_type<float>() { return H5T_NATIVE_FLOAT; }
template <> hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }
template <> hid_t native_type<int32_t>() { return H5T_NATIVE_INT32; }
template <> hid_t native_type<int64_t>() { return H5T_NATIVE_INT64; }

std::string class_name(H5T_class_t c) {
  switch (c) {
    case H5T_INTEGER: return "integers";
    case H5T_FLOAT: return "floats";
    case H5T_STRING: return "strings";
    case H5T_COMPOUND: return "a compound type";
    case H5T_REFERENCE: return "references";
    case H5T_ENUM: return "an enum";
    case H5T_VLEN: return "variable-length sequences";
    case H5T_ARRAY: return "an array type";
    case H5T_OPAQUE: return "opaque data";
    case H5T_BITFIELD: return "bitfields";
    default: return "an unreadable type";
  }
}

std::string shape_text(const std::vector<hsize_t>& d) {
  if (d.empty()) return "a scalar";
  std::string s = "shape ";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "x" : "") + std::to_string(d[i]);
  return s;
}

std::string shape_text(const std::vector<int64_t>& d) {
  if (d.empty()) return "a scalar";
  std::string s = std::to_string(d.size()) + "-D array of shape ";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "x" : "") + (d[i] < 0 ? "*" : std::to_string(d[i]));
  return s;
}

// "/a/b" and "a/b" alike -> "a/b".
std::string relative(const std::string& path) {
  size_t b = path.find_first_not_of('/');
  return b == std::string::npos ? std::string() : path.substr(b);
}

uint64_t decode_le(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = n; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

constexpr uint64_t align8(uint64_t n) { return (n + 7) & ~uint64_t(7); }

// One global heap collection, read from the file and indexed with every bound checked.
struct Collection {
  std::vector<unsigned char> bytes;
  std::unordered_map<uint32_t, std::pair<size_t, size_t>> objects;  // index -> (offset, size)
};

}  // namespace

struct FileState {
  std::string name;
  std::string expected;  // "an AnnData file", for "missing" errors
  Id file;
  size_t sizeof_addr = 8, sizeof_size = 8;
  uint64_t base = 0;       // where relative addresses start (the user block's size)
  uint64_t file_size = 0;
  std::ifstream raw;       // heap collections are read through this, never through libhdf5
  bool in_memory = false;  // File::open_image: the heap collections are read from `image`
  std::string image;
  std::map<uint64_t, Collection> heaps;

  // n bytes at absolute offset `at`, from the file or the image; false when they are not there.
  bool read_raw(uint64_t at, void* dst, size_t n) {
    if (in_memory) {
      if (at > image.size() || n > image.size() - at) return false;
      std::memcpy(dst, image.data() + at, n);
      return true;
    }
    if (!raw.is_open()) raw.open(name, std::ios::binary);
    raw.clear();
    raw.seekg(std::streamoff(at));
    return bool(raw.read(static_cast<char*>(dst), std::streamsize(n)));
  }

  // A dataspace can claim any extent; a corrupt one must not become a huge allocation. Deflate
  // compresses at most ~1032:1, so real data never exceeds ~1100 times the file (chunks that
  // were never written aside, which our formats do not have).
  void check_plausible(const Object& o, uint64_t n, size_t elem_bytes) const {
    const uint64_t limit = file_size * 1100 + (uint64_t(64) << 20);
    if (n > 0 && (elem_bytes == 0 || n > limit / elem_bytes))
      o.fail(std::to_string(n) + " elements of " + std::to_string(elem_bytes) +
             " bytes claimed: more than the file can hold (corrupt?)");
  }

  const Collection& collection(const Object& o, uint64_t addr) {
    if (auto it = heaps.find(addr); it != heaps.end()) return it->second;
    auto bad = [&](const std::string& why) {
      o.fail("global heap collection at address " + std::to_string(addr) + " is corrupt: " + why);
    };
    const uint64_t at = base + addr;
    const uint64_t header = align8(8 + sizeof_size), obj_header = align8(8 + sizeof_size);
    if (addr > file_size || at > file_size || file_size - at < header) bad("outside the file");
    unsigned char h[24] = {};
    if (!read_raw(at, h, 8 + sizeof_size)) bad("unreadable");
    if (std::memcmp(h, "GCOL", 4) != 0 || h[4] != 1) bad("no GCOL signature");
    const uint64_t size = decode_le(h + 8, sizeof_size);
    if (size < header || size > file_size - at) bad("its size runs past the end of the file");
    Collection c;
    c.bytes.resize(size_t(size));
    if (!read_raw(at, c.bytes.data(), size_t(size))) bad("unreadable");
    // Objects follow the header back to back, each padded to 8 bytes; index 0 is the free space,
    // which libhdf5 always keeps last.
    for (uint64_t p = header; size - p >= obj_header;) {
      const unsigned char* q = c.bytes.data() + p;
      const uint32_t idx = uint32_t(decode_le(q, 2));
      const uint64_t len = decode_le(q + 8, sizeof_size);
      if (idx == 0) break;
      if (len > size - p - obj_header) bad("object " + std::to_string(idx) + " overruns it");
      if (!c.objects.emplace(idx, std::make_pair(size_t(p + obj_header), size_t(len))).second)
        bad("object " + std::to_string(idx) + " appears twice");
      p += obj_header + std::min(align8(len), size - p - obj_header);
    }
    return heaps.emplace(addr, std::move(c)).first->second;
  }

  // n descriptors, fetched by `read` into a buffer of the opaque descriptor type, resolved.
  std::vector<std::string> vlen_strings(const Object& o, uint64_t n,
                                        const std::function<herr_t(hid_t, void*)>& read) {
    register_descriptor_conversion();
    const size_t dsize = 4 + sizeof_addr + 4;
    check_plausible(o, n, dsize);
    std::vector<std::string> out(static_cast<size_t>(n));
    if (n == 0) return out;
    Id mem(H5Tcreate(H5T_OPAQUE, dsize));
    H5Tset_tag(mem, kDescriptorTag);
    std::vector<unsigned char> raw_desc(size_t(n) * dsize);
    if (read(mem, raw_desc.data()) < 0) o.fail("cannot read the variable-length strings (corrupt?)");
    for (size_t i = 0; i < size_t(n); ++i) {
      const unsigned char* d = raw_desc.data() + i * dsize;
      const uint64_t len = decode_le(d, 4), addr = decode_le(d + 4, sizeof_addr);
      const uint32_t idx = uint32_t(decode_le(d + 4 + sizeof_addr, 4));
      if (addr == 0) continue;  // a null string (address 0 is the superblock, never a heap)
      const Collection& c = collection(o, addr);
      auto it = c.objects.find(idx);
      if (it == c.objects.end() || it->second.second != len)
        o.fail("string " + std::to_string(i) + " points at no heap object of its length (corrupt?)");
      const char* s = reinterpret_cast<const char*>(c.bytes.data() + it->second.first);
      out[i].assign(s, strnlen(s, size_t(len)));  // C-string semantics, as libhdf5 reads them
    }
    return out;
  }
};

// ---------------------------------------------------------------- handles

Id& Id::operator=(Id&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Id::reset() {
  if (id_ >= 0) {
    switch (H5Iget_type(id_)) {
      case H5I_FILE: H5Fclose(id_); break;
      case H5I_GROUP: H5Gclose(id_); break;
      case H5I_DATASET: H5Dclose(id_); break;
      case H5I_ATTR: H5Aclose(id_); break;
      case H5I_DATATYPE: H5Tclose(id_); break;
      case H5I_DATASPACE: H5Sclose(id_); break;
      case H5I_GENPROP_LST: H5Pclose(id_); break;
      default: break;
    }
  }
  id_ = H5I_INVALID_HID;
}

// ---------------------------------------------------------------- objects

const std::string& Object::file() const { return file_->name; }
std::string Object::where() const { return (group_ ? "group " : "dataset ") + path_; }
void Object::fail(const std::string& what) const { throw InputError(file(), what, where()); }

namespace {

// An open attribute with its type and dataspace, each checked.
struct Attribute {
  Id a, type, space;
};

std::optional<Attribute> open_attribute(const Object& o, const std::string& name) {
  htri_t exists = H5Aexists(o.id(), name.c_str());
  if (exists < 0) o.fail("cannot list attributes (corrupt?)");
  if (exists == 0) return std::nullopt;
  Attribute at{Id(H5Aopen(o.id(), name.c_str(), H5P_DEFAULT)), Id(), Id()};
  if (!at.a.valid()) o.fail("attribute " + name + ": cannot open (corrupt?)");
  at.type = Id(H5Aget_type(at.a));
  at.space = Id(H5Aget_space(at.a));
  if (!at.type.valid() || !at.space.valid())
    o.fail("attribute " + name + ": unreadable type or dataspace (corrupt?)");
  return at;
}

}  // namespace

std::optional<std::string> Object::attr_string(const std::string& name) const {
  std::optional<Attribute> at = open_attribute(*this, name);
  if (!at) return std::nullopt;
  auto bad = [&](const std::string& what) { fail("attribute " + name + ": " + what); };
  const Id &a = at->a, &type = at->type, &space = at->space;
  if (H5Tget_class(type) != H5T_STRING) return std::nullopt;
  if (H5Sget_simple_extent_npoints(space) != 1) bad("expected a single string");
  htri_t var = H5Tis_variable_str(type);
  if (var < 0) bad("unreadable string type (corrupt?)");
  if (var > 0)
    return file_->vlen_strings(*this, 1, [&](hid_t mem, void* buf) { return H5Aread(a, mem, buf); })[0];
  const size_t width = H5Tget_size(type);
  file_->check_plausible(*this, 1, width);
  std::vector<char> buf(width + 1, 0);
  if (H5Aread(a, type, buf.data()) < 0) bad("cannot read (corrupt?)");
  return std::string(buf.data(), strnlen(buf.data(), width));
}

std::optional<Dataset> Object::attr_reference(const std::string& name) const {
  std::optional<Attribute> at = open_attribute(*this, name);
  if (!at) return std::nullopt;
  auto bad = [&](const std::string& what) { fail("attribute " + name + ": " + what); };
  const Id &a = at->a, &type = at->type, &space = at->space;
  if (H5Tequal(type, H5T_STD_REF_OBJ) <= 0 || H5Sget_simple_extent_npoints(space) != 1)
    bad("expected one object reference");
  hobj_ref_t ref{};
  if (H5Aread(a, H5T_STD_REF_OBJ, &ref) < 0) bad("cannot read (corrupt?)");
  Id target(H5Rdereference2(id_, H5P_DEFAULT, H5R_OBJECT, &ref));
  if (!target.valid() || H5Iget_type(target) != H5I_DATASET) bad("does not point at a dataset");
  char path[1024] = {};
  H5Iget_name(target, path, sizeof path);
  return Dataset(file_, path[0] ? path : path_ + " (" + name + ")", std::move(target), false);
}

void Object::write_attr_string(const std::string& name, const std::string& value) const {
  Id type = vlen_utf8_type();
  Id space(H5Screate(H5S_SCALAR));
  Id a(H5Acreate2(id_, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT));
  const char* p = value.c_str();
  if (!a.valid() || H5Awrite(a, type, &p) < 0) fail("HDF5 write failed: attribute " + name);
}

void Object::write_attr_strings(const std::string& name,
                                const std::vector<std::string>& values) const {
  Id type = vlen_utf8_type();
  hsize_t n = values.size();
  Id space(H5Screate_simple(1, &n, nullptr));
  Id a(H5Acreate2(id_, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid()) fail("HDF5 write failed: attribute " + name);
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  if (n > 0 && H5Awrite(a, type, ptrs.data()) < 0) fail("HDF5 write failed: attribute " + name);
}

// ---------------------------------------------------------------- datasets

std::vector<hsize_t> Dataset::dims() const {
  Id space(H5Dget_space(id_));
  if (!space.valid()) fail("unreadable dataspace (corrupt?)");
  H5S_class_t cls = H5Sget_simple_extent_type(space);
  if (cls == H5S_NULL) return {0};
  int rank = H5Sget_simple_extent_ndims(space);
  if (cls == H5S_NO_CLASS || rank < 0 || rank > H5S_MAX_RANK) fail("unreadable dataspace (corrupt?)");
  std::vector<hsize_t> d(static_cast<size_t>(rank));
  if (rank > 0 && H5Sget_simple_extent_dims(space, d.data(), nullptr) < 0)
    fail("unreadable dataspace (corrupt?)");
  return d;
}

H5T_class_t Dataset::type_class() const {
  Id type(H5Dget_type(id_));
  H5T_class_t c = type.valid() ? H5Tget_class(type) : H5T_NO_CLASS;
  if (c == H5T_NO_CLASS) fail("unreadable datatype (corrupt?)");
  return c;
}

template <typename T>
std::vector<T> Dataset::read_numbers(const std::vector<int64_t>& shape,
                                     std::vector<hsize_t>* dims_out) const {
  H5T_class_t cls = type_class();
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) fail("expected numbers, found " + class_name(cls));
  std::vector<hsize_t> d = dims();
  bool match = d.size() == shape.size();
  for (size_t i = 0; match && i < d.size(); ++i) match = shape[i] < 0 || hsize_t(shape[i]) == d[i];
  if (!match) fail("expected a " + shape_text(shape) + ", found " + shape_text(d));
  uint64_t n = 1;
  for (hsize_t x : d) n = x == 0 || n <= (uint64_t(1) << 62) / x ? n * x : uint64_t(1) << 62;
  Id type(H5Dget_type(id_));
  file_->check_plausible(*this, n, H5Tget_size(type));
  file_->check_plausible(*this, n, sizeof(T));
  std::vector<T> out(static_cast<size_t>(n));
  if (n > 0 && H5Dread(id_, native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
    fail("read failed (corrupt data?)");
  if (dims_out) *dims_out = d;
  return out;
}

template std::vector<float> Dataset::read_numbers(const std::vector<int64_t>&, std::vector<hsize_t>*) const;
template std::vector<double> Dataset::read_numbers(const std::vector<int64_t>&, std::vector<hsize_t>*) const;
template std::vector<int32_t> Dataset::read_numbers(const std::vector<int64_t>&, std::vector<hsize_t>*) const;
template std::vector<int64_t> Dataset::read_numbers(const std::vector<int64_t>&, std::vector<hsize_t>*) const;

double Dataset::read_scalar() const {
  std::vector<hsize_t> d = dims();
  if (!d.empty() && !(d.size() == 1 && d[0] == 1)) fail("expected a scalar, found " + shape_text(d));
  return read_numbers<double>(d.empty() ? std::vector<int64_t>{} : std::vector<int64_t>{1})[0];
}

std::vector<std::string> Dataset::read_strings(int64_t expected_count) const {
  Id type(H5Dget_type(id_));
  if (!type.valid()) fail("unreadable datatype (corrupt?)");
  H5T_class_t cls = H5Tget_class(type);
  if (cls != H5T_STRING) fail("expected strings, found " + class_name(cls));
  std::vector<hsize_t> d = dims();
  if (d.size() > 1) fail("expected a 1-D string array, found " + shape_text(d));
  const uint64_t n = d.empty() ? 1 : d[0];
  if (expected_count >= 0 && n != uint64_t(expected_count))
    fail("holds " + std::to_string(n) + " strings, expected " + std::to_string(expected_count));
  htri_t var = H5Tis_variable_str(type);
  if (var < 0) fail("unreadable string type (corrupt?)");
  if (var > 0)
    return file_->vlen_strings(*this, n, [&](hid_t mem, void* buf) {
      return H5Dread(id_, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    });
  const size_t width = H5Tget_size(type);
  file_->check_plausible(*this, n, width);
  std::vector<char> buf(size_t(n) * width);
  if (n > 0 && H5Dread(id_, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
    fail("read failed (corrupt data?)");
  std::vector<std::string> out;
  out.reserve(size_t(n));
  for (size_t i = 0; i < size_t(n); ++i) {
    const char* p = buf.data() + i * width;
    out.emplace_back(p, strnlen(p, width));
  }
  return out;
}

// ---------------------------------------------------------------- groups

std::vector<std::string> Group::children() const {
  std::vector<std::string> names;
  auto add = [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  hsize_t at = 0;
  if (H5Literate(id_, H5_INDEX_NAME, H5_ITER_INC, &at, add, &names) < 0) fail("cannot list (corrupt?)");
  return names;
}

Group Group::create_group(const std::string& name) const {
  Id g(H5Gcreate2(id_, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!g.valid()) fail("HDF5 write failed: group " + name);
  return Group(file_, (path_ == "/" ? "/" : path_ + "/") + name, std::move(g), true);
}

namespace {

// Creates parent/name with `type` over `space` and writes `data` (skipped when nothing to write).
Dataset write_dataset(const Object& parent, const std::shared_ptr<FileState>& f,
                      const std::string& name, hid_t type, hid_t space, const void* data,
                      bool write) {
  const std::string path = (parent.path() == "/" ? "/" : parent.path() + "/") + name;
  Id d(H5Dcreate2(parent.id(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!d.valid() || (write && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0))
    throw InputError(f->name, "HDF5 write failed: " + name, "dataset " + path);
  return Dataset(f, path, std::move(d), false);
}

}  // namespace

template <typename T>
Dataset Group::write_numbers(const std::string& name, const std::vector<hsize_t>& dims,
                             const T* data) const {
  Id space(dims.empty() ? H5Screate(H5S_SCALAR)
                        : H5Screate_simple(int(dims.size()), dims.data(), nullptr));
  hsize_t n = 1;
  for (auto x : dims) n *= x;
  return write_dataset(*this, file_, name, native_type<T>(), space, data, n > 0);
}

template Dataset Group::write_numbers(const std::string&, const std::vector<hsize_t>&, const float*) const;
template Dataset Group::write_numbers(const std::string&, const std::vector<hsize_t>&, const double*) const;
template Dataset Group::write_numbers(const std::string&, const std::vector<hsize_t>&, const int64_t*) const;

Dataset Group::write_strings(const std::string& name, const std::vector<std::string>& values) const {
  Id type = vlen_utf8_type();
  hsize_t n = values.size();
  Id space(H5Screate_simple(1, &n, nullptr));
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  return write_dataset(*this, file_, name, type, space, ptrs.data(), n > 0);
}

Dataset Group::write_string(const std::string& name, const std::string& value) const {
  Id type = vlen_utf8_type();
  Id space(H5Screate(H5S_SCALAR));
  const char* p = value.c_str();
  return write_dataset(*this, file_, name, type, space, &p, true);
}

// ---------------------------------------------------------------- files

File File::open(const fs::path& path, const std::string& expected) {
  silence_hdf5();
  auto s = std::make_shared<FileState>();
  s->name = path.string();
  s->expected = expected;
  if (!fs::exists(path)) throw InputError(s->name, "file not found");
  if (fs::is_directory(path)) throw InputError(s->name, "is a folder, expected an HDF5 file");
  if (H5Fis_hdf5(s->name.c_str()) <= 0)
    throw InputError(s->name, "not an HDF5 file (corrupt, or not " + expected + ")");
  s->file = Id(H5Fopen(s->name.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  s->file_size = fs::file_size(path);
  return File(opened(std::move(s)));
}

File File::open_image(const void* data, size_t size, const std::string& name,
                      const std::string& expected) {
  silence_hdf5();
  auto s = std::make_shared<FileState>();
  s->name = name;
  s->expected = expected;
  s->in_memory = true;
  s->image.assign(static_cast<const char*>(data), size);
  s->file_size = size;
  // What H5Fis_hdf5 looks for: the signature at 0, 512, 1024, 2048, ... (after a user block).
  static const char kSignature[] = "\x89HDF\r\n\x1a\n";
  bool signed_ = false;
  for (uint64_t at = 0; !signed_ && at + 8 <= size; at = at ? at * 2 : 512)
    signed_ = std::memcmp(s->image.data() + at, kSignature, 8) == 0;
  if (!signed_) throw InputError(name, "not an HDF5 file (corrupt, or not " + expected + ")");
  // The core driver without a backing store; HDF5 copies the image. Two open core files of the
  // same name count as one file (H5FD_core_cmp compares names), so each image gets its own.
  static std::atomic<uint64_t> serial{0};
  const std::string driver_name = "hiscmcl-image-" + std::to_string(++serial) + ":" + name;
  Id fapl(H5Pcreate(H5P_FILE_ACCESS));
  if (!fapl.valid() || H5Pset_fapl_core(fapl, 1 << 16, 0) < 0 ||
      H5Pset_file_image(fapl, s->image.data(), s->image.size()) < 0)
    throw InputError(name, "cannot hand the file image to HDF5");
  s->file = Id(H5Fopen(driver_name.c_str(), H5F_ACC_RDONLY, fapl));
  return File(opened(std::move(s)));
}

std::shared_ptr<FileState> File::opened(std::shared_ptr<FileState> s) {
  if (!s->file.valid()) throw InputError(s->name, "cannot open as HDF5 (corrupt or truncated?)");
  Id fcpl(H5Fget_create_plist(s->file));
  hsize_t userblock = 0;
  if (!fcpl.valid() || H5Pget_sizes(fcpl, &s->sizeof_addr, &s->sizeof_size) < 0 ||
      H5Pget_userblock(fcpl, &userblock) < 0 || s->sizeof_addr < 2 || s->sizeof_addr > 8 ||
      s->sizeof_size < 2 || s->sizeof_size > 8)
    throw InputError(s->name, "unreadable HDF5 superblock (corrupt?)");
  s->base = userblock;
  return s;
}

File File::create(const fs::path& create_at, const std::string& display_name) {
  silence_hdf5();
  auto s = std::make_shared<FileState>();
  s->name = display_name;
  s->file = Id(H5Fcreate(create_at.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  if (!s->file.valid()) throw InputError(display_name, "cannot create HDF5 file");
  return File(std::move(s));
}

const std::string& File::name() const { return state_->name; }

Group File::root() const {
  Id g(H5Gopen2(state_->file, "/", H5P_DEFAULT));
  if (!g.valid()) throw InputError(state_->name, "cannot open the root group (corrupt?)");
  return Group(state_, "/", std::move(g), true);
}

bool File::exists(const std::string& path) const {
  const std::string rel = relative(path);
  if (rel.empty()) return true;
  for (size_t slash = 0;; ++slash) {
    slash = rel.find('/', slash);
    if (H5Lexists(state_->file, rel.substr(0, slash).c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) return true;
  }
}

namespace {

H5I_type_t kind_of(hid_t file, const std::string& rel) {
  Id o(H5Oopen(file, rel.empty() ? "/" : rel.c_str(), H5P_DEFAULT));
  return o.valid() ? H5Iget_type(o) : H5I_BADID;
}

}  // namespace

bool File::is_group(const std::string& path) const {
  return exists(path) && kind_of(state_->file, relative(path)) == H5I_GROUP;
}

bool File::is_dataset(const std::string& path) const {
  return exists(path) && kind_of(state_->file, relative(path)) == H5I_DATASET;
}

Group File::group(const std::string& path) const {
  const std::string rel = relative(path);
  if (!exists(rel))
    throw InputError(state_->name, "missing group /" + rel + " (not " + state_->expected + "?)");
  if (kind_of(state_->file, rel) != H5I_GROUP) fail(rel, "expected a group");
  Id g(H5Gopen2(state_->file, rel.empty() ? "/" : rel.c_str(), H5P_DEFAULT));
  if (!g.valid()) fail(rel, "cannot open group (corrupt?)");
  return Group(state_, "/" + rel, std::move(g), true);
}

Dataset File::dataset(const std::string& path) const {
  const std::string rel = relative(path);
  if (!exists(rel))
    throw InputError(state_->name, "missing dataset /" + rel + " (not " + state_->expected + "?)");
  if (kind_of(state_->file, rel) != H5I_DATASET) fail(rel, "expected a dataset");
  Id d(H5Dopen2(state_->file, rel.c_str(), H5P_DEFAULT));
  if (!d.valid()) fail(rel, "cannot open dataset (corrupt?)");
  return Dataset(state_, "/" + rel, std::move(d), false);
}

void File::flush() const {
  if (H5Fflush(state_->file, H5F_SCOPE_GLOBAL) < 0)
    throw InputError(state_->name, "HDF5 flush failed");
}

void File::fail(const std::string& path, const std::string& what) const {
  const std::string rel = relative(path);
  const bool group = exists(rel) && kind_of(state_->file, rel) == H5I_GROUP;
  throw InputError(state_->name, what, (group ? "group /" : "dataset /") + rel);
}

}  // namespace hiscmcl::hdf5
