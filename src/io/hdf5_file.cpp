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

#include <zlib.h>

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
template <> hid_t native_type<uint8_t>() { return H5T_NATIVE_UINT8; }

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

// libhdf5 (1.10) converts numbers bit by bit through the stored type's layout (bit offset and
// precision; a float's sign, exponent and mantissa fields) without checking that layout against
// the type's size: a corrupt one, such as precision 0, makes H5T__bit_copy read far outside its
// buffer (SIGBUS). Checked before any conversion; every real integer or float type passes.
bool plausible_number_layout(hid_t type) {
  const size_t size = H5Tget_size(type), precision = H5Tget_precision(type);
  const int offset = H5Tget_offset(type);
  if (size == 0 || size > 16 || precision == 0 || offset < 0 || size_t(offset) + precision > 8 * size)
    return false;
  if (H5Tget_class(type) != H5T_FLOAT) return true;
  size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
  if (H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) < 0) return false;
  return spos < precision && esize >= 1 && esize <= 32 && epos + esize <= precision &&
         msize >= 1 && mpos + msize <= precision;
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

void Object::write_attr_bool(const std::string& name, bool value) const {
  // h5py's bool: an 8-bit enum {FALSE = 0, TRUE = 1}, so numpy and pandas read it as a bool
  Id type(H5Tenum_create(H5T_NATIVE_INT8));
  int8_t f = 0, t = 1, v = value ? 1 : 0;
  if (!type.valid() || H5Tenum_insert(type, "FALSE", &f) < 0 || H5Tenum_insert(type, "TRUE", &t) < 0)
    fail("HDF5 write failed: attribute " + name);
  Id space(H5Screate(H5S_SCALAR));
  Id a(H5Acreate2(id_, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid() || H5Awrite(a, type, &v) < 0) fail("HDF5 write failed: attribute " + name);
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

namespace {

// The bytes a gzip (zlib) stream inflates to, counted without keeping them; stops past `limit`.
uint64_t inflated_size(const unsigned char* in, size_t n, uint64_t limit) {
  z_stream z{};
  if (n > UINT32_MAX || inflateInit(&z) != Z_OK) return UINT64_MAX;
  z.next_in = const_cast<unsigned char*>(in);
  z.avail_in = uInt(n);
  unsigned char window[16384];
  int status = Z_OK;
  while (status == Z_OK && z.total_out <= limit) {
    z.next_out = window;
    z.avail_out = sizeof window;
    status = inflate(&z, Z_NO_FLUSH);
  }
  const uint64_t out = status == Z_STREAM_END ? z.total_out : UINT64_MAX;
  inflateEnd(&z);
  return out;
}

// Chunked datasets. libhdf5 (1.10) copies a whole chunk's bytes out of the buffer it read (and
// unfiltered) the chunk into, without checking that the buffer is that big: an unfiltered chunk
// whose index entry claims fewer bytes, or a gzip chunk that inflates to fewer bytes, makes
// H5Dread read past the buffer (heap-buffer-overflow in H5VM_memcpyvv; found by fuzz_10x_h5).
// H5Zregister cannot replace the built-in gzip filter, so every stored chunk is checked before
// the read: its stored size, and what its gzip stream inflates to (counted, not kept: the cost
// is one more inflate of chunked gzip data). `elem_bytes` is an element's size on disk.
// Refuses filters other than gzip, shuffle and fletcher32 (those libhdf5 has and our formats
// use, in the order HDF5 writers put them), and chunk grids far sparser than their stored chunks.
void check_chunks(const Object& o, const std::vector<hsize_t>& dims, size_t elem_bytes,
                  uint64_t file_size) {
  Id dcpl(H5Dget_create_plist(o.id()));
  if (!dcpl.valid()) o.fail("unreadable dataset properties (corrupt?)");
  if (H5Pget_layout(dcpl) != H5D_CHUNKED) return;
  const int rank = H5Pget_chunk(dcpl, 0, nullptr);
  if (rank != int(dims.size()) || rank <= 0) o.fail("unreadable chunk layout (corrupt?)");
  std::vector<hsize_t> chunk(size_t(rank), 0);
  H5Pget_chunk(dcpl, rank, chunk.data());
  uint64_t chunk_bytes = elem_bytes, cells = 1;
  for (int i = 0; i < rank; ++i) {
    const hsize_t c = chunk[size_t(i)], d = dims[size_t(i)];
    if (c == 0 || chunk_bytes > (uint64_t(1) << 32) / c) o.fail("unreadable chunk layout (corrupt?)");
    chunk_bytes *= c;
    const uint64_t along = d / c + (d % c != 0);
    cells = along == 0 ? 0 : cells <= (uint64_t(1) << 62) / along ? cells * along : uint64_t(1) << 62;
  }
  int deflate = -1, shuffle = -1, fletcher = -1;
  const int nfilters = H5Pget_nfilters(dcpl);
  if (nfilters < 0) o.fail("unreadable filter pipeline (corrupt?)");
  for (int i = 0; i < nfilters; ++i) {
    unsigned flags = 0, config = 0, cd[8] = {};
    size_t ncd = 8;
    char name[64] = {};
    const H5Z_filter_t id = H5Pget_filter2(dcpl, unsigned(i), &flags, &ncd, cd, sizeof name, name, &config);
    int* slot = id == H5Z_FILTER_DEFLATE     ? &deflate
                : id == H5Z_FILTER_SHUFFLE   ? &shuffle
                : id == H5Z_FILTER_FLETCHER32 ? &fletcher
                                             : nullptr;
    if (!slot)
      o.fail("compressed with HDF5 filter " + std::to_string(id) +
             ", which is not supported (gzip, shuffle and fletcher32 are)");
    if (*slot >= 0) o.fail("filter " + std::to_string(id) + " appears twice (corrupt?)");
    *slot = i;
  }
  if (deflate >= 0 && ((shuffle >= 0 && shuffle > deflate) || (fletcher >= 0 && fletcher < deflate)))
    o.fail("unsupported filter order (gzip with shuffle after it or fletcher32 before it)");
  if (cells == 0) return;
  hsize_t stored = 0;
  Id space(H5Dget_space(o.id()));  // (1.10.8 refuses H5S_ALL here)
  if (!space.valid() || H5Dget_num_chunks(o.id(), space, &stored) < 0)
    o.fail("unreadable chunk index (corrupt?)");
  if (stored == 0) return;
  if (cells > 4 * stored + 65536) o.fail("chunk grid far sparser than its stored chunks (corrupt?)");
  unsigned opts = 0;
  const bool raw_edges = H5Pget_chunk_opts(dcpl, &opts) >= 0 &&
                         (opts & H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS) != 0;
  std::vector<hsize_t> at(size_t(rank), 0);  // the chunk's offset, an odometer over the grid
  std::vector<unsigned char> raw;
  for (uint64_t k = 0; k < cells; ++k) {
    unsigned mask = 0;
    haddr_t addr = HADDR_UNDEF;
    hsize_t size = 0;
    if (H5Dget_chunk_info_by_coord(o.id(), at.data(), &mask, &addr, &size) < 0)
      o.fail("unreadable chunk index (corrupt?)");
    if (addr != HADDR_UNDEF) {
      bool edge = false;
      for (int i = 0; i < rank; ++i) edge |= at[size_t(i)] + chunk[size_t(i)] > dims[size_t(i)];
      auto applied = [&](int f) { return f >= 0 && !(raw_edges && edge) && !(mask & (1u << f)); };
      const uint64_t checksum = applied(fletcher) ? 4 : 0;
      if (size > file_size || size < checksum) o.fail("a chunk's stored size is impossible (corrupt?)");
      uint64_t holds = size - checksum;
      if (applied(deflate)) {
        raw.resize(size_t(size));
        uint32_t filters = 0;
        if (H5Dread_chunk(o.id(), H5P_DEFAULT, at.data(), &filters, raw.data()) < 0)
          o.fail("unreadable chunk (corrupt?)");
        holds = inflated_size(raw.data(), size_t(size - checksum), chunk_bytes);
      }
      if (applied(deflate) ? holds != chunk_bytes : holds < chunk_bytes)
        o.fail(std::string(applied(deflate) ? "a gzip chunk inflates to " : "a chunk is stored in ") +
               (holds == UINT64_MAX ? std::string("other than") : std::to_string(holds)) +
               " bytes but holds " + std::to_string(chunk_bytes) + " (corrupt?)");
    }
    for (int i = rank - 1; i >= 0; --i) {
      at[size_t(i)] += chunk[size_t(i)];
      if (at[size_t(i)] < dims[size_t(i)]) break;
      at[size_t(i)] = 0;
    }
  }
}

}  // namespace

std::vector<hsize_t> Dataset::dims_of_shape(const std::vector<int64_t>& shape, uint64_t* n) const {
  std::vector<hsize_t> d = dims();
  bool match = d.size() == shape.size();
  for (size_t i = 0; match && i < d.size(); ++i) match = shape[i] < 0 || hsize_t(shape[i]) == d[i];
  if (!match) fail("expected a " + shape_text(shape) + ", found " + shape_text(d));
  *n = 1;
  for (hsize_t x : d) *n = x == 0 || *n <= (uint64_t(1) << 62) / x ? *n * x : uint64_t(1) << 62;
  return d;
}

template <typename T>
std::vector<T> Dataset::read_numbers(const std::vector<int64_t>& shape,
                                     std::vector<hsize_t>* dims_out) const {
  H5T_class_t cls = type_class();
  if (cls == H5T_ENUM) return read_enum_values<T>(shape, dims_out);
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) fail("expected numbers, found " + class_name(cls));
  uint64_t n = 0;
  std::vector<hsize_t> d = dims_of_shape(shape, &n);
  Id type(H5Dget_type(id_));
  if (!type.valid() || !plausible_number_layout(type))
    fail("unreadable type of " + class_name(cls) + ": its bit layout does not fit its size (corrupt?)");
  file_->check_plausible(*this, n, H5Tget_size(type));
  file_->check_plausible(*this, n, sizeof(T));
  std::vector<T> out(static_cast<size_t>(n));
  if (n > 0) check_chunks(*this, d, H5Tget_size(type), file_->file_size);
  if (n > 0 && H5Dread(id_, native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
    fail("read failed (corrupt data?)");
  if (dims_out) *dims_out = d;
  return out;
}

// An enum over integers (h5py's bool: FALSE = 0, TRUE = 1) read as its underlying integers:
// HDF5 converts no enum to a plain number type, so the raw values are read and widened here.
template <typename T>
std::vector<T> Dataset::read_enum_values(const std::vector<int64_t>& shape,
                                         std::vector<hsize_t>* dims_out) const {
  Id type(H5Dget_type(id_));
  Id base(type.valid() ? H5Tget_super(type) : H5I_INVALID_HID);
  if (!base.valid() || H5Tget_class(base) != H5T_INTEGER) fail("expected numbers, found an enum");
  Id mem(H5Tget_native_type(type, H5T_DIR_DEFAULT));
  const size_t width = mem.valid() ? H5Tget_size(mem) : 0;
  const bool is_signed = H5Tget_sign(base) == H5T_SGN_2;
  if (width != 1 && width != 2 && width != 4 && width != 8) fail("unsupported enum width");
  uint64_t n = 0;
  std::vector<hsize_t> d = dims_of_shape(shape, &n);
  file_->check_plausible(*this, n, width);
  file_->check_plausible(*this, n, sizeof(T));
  std::vector<unsigned char> raw(size_t(n) * width);
  if (n > 0) check_chunks(*this, d, width, file_->file_size);
  if (n > 0 && H5Dread(id_, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()) < 0)
    fail("read failed (corrupt data?)");
  std::vector<T> out(static_cast<size_t>(n));
  for (size_t i = 0; i < out.size(); ++i) {
    const unsigned char* p = raw.data() + i * width;
    int64_t v = 0;
    if (width == 1) v = is_signed ? int64_t(int8_t(*p)) : int64_t(*p);
    else if (width == 2) { uint16_t u; std::memcpy(&u, p, 2); v = is_signed ? int64_t(int16_t(u)) : int64_t(u); }
    else if (width == 4) { uint32_t u; std::memcpy(&u, p, 4); v = is_signed ? int64_t(int32_t(u)) : int64_t(u); }
    else { std::memcpy(&v, p, 8); }
    out[i] = T(v);
  }
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

std::vector<uint8_t> Dataset::read_u8_rows(int64_t first, int64_t count) const {
  H5T_class_t cls = type_class();
  if (cls != H5T_INTEGER) fail("expected uint8 values, found " + class_name(cls));
  std::vector<hsize_t> d = dims();
  if (d.empty()) fail("expected an array, found a scalar");
  if (first < 0 || count < 0 || hsize_t(first + count) > d[0])
    fail("rows " + std::to_string(first) + ".." + std::to_string(first + count) + " outside " +
         shape_text(d));
  uint64_t row = 1;
  for (size_t i = 1; i < d.size(); ++i) row *= d[i];
  file_->check_plausible(*this, row * uint64_t(count), 1);
  std::vector<uint8_t> out(size_t(row) * size_t(count));
  if (count == 0) return out;
  std::vector<hsize_t> start(d.size(), 0), block = d;
  start[0] = hsize_t(first);
  block[0] = hsize_t(count);
  Id file_space(H5Dget_space(id_));
  Id mem_space(H5Screate_simple(int(block.size()), block.data(), nullptr));
  if (!file_space.valid() || !mem_space.valid() ||
      H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr, block.data(), nullptr) < 0)
    fail("cannot select rows (corrupt?)");
  if (H5Dread(id_, H5T_NATIVE_UINT8, mem_space, file_space, H5P_DEFAULT, out.data()) < 0)
    fail("read failed (corrupt data?)");
  return out;
}

std::vector<std::string> Dataset::read_strings(int64_t expected_count) const {
  Id type(H5Dget_type(id_));
  if (!type.valid()) fail("unreadable datatype (corrupt?)");
  H5T_class_t cls = H5Tget_class(type);
  if (cls != H5T_STRING) fail("expected strings, found " + class_name(cls));
  std::vector<hsize_t> d = dims();
  // h5py writes a column of strings as [n, 1] (HEST's patch barcodes).
  if (d.size() > 1 && !(d.size() == 2 && d[1] == 1))
    fail("expected a 1-D string array, found " + shape_text(d));
  const uint64_t n = d.empty() ? 1 : d[0];
  if (expected_count >= 0 && n != uint64_t(expected_count))
    fail("holds " + std::to_string(n) + " strings, expected " + std::to_string(expected_count));
  htri_t var = H5Tis_variable_str(type);
  if (var < 0) fail("unreadable string type (corrupt?)");
  if (var > 0)
    return file_->vlen_strings(*this, n, [&](hid_t mem, void* buf) {
      // Stored as descriptors: length, heap collection address, object index.
      check_chunks(*this, d, 4 + file_->sizeof_addr + 4, file_->file_size);
      return H5Dread(id_, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    });
  const size_t width = H5Tget_size(type);
  file_->check_plausible(*this, n, width);
  std::vector<char> buf(size_t(n) * width);
  if (n > 0) check_chunks(*this, d, width, file_->file_size);
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
template Dataset Group::write_numbers(const std::string&, const std::vector<hsize_t>&, const int32_t*) const;
template Dataset Group::write_numbers(const std::string&, const std::vector<hsize_t>&, const uint8_t*) const;  // images

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
  // An object libhdf5 cannot even open (1.14 decodes and refuses e.g. a corrupt datatype
  // message here, where 1.10 opened it) is corrupt, not of another kind.
  const H5I_type_t kind = kind_of(state_->file, rel);
  if (kind == H5I_BADID) fail(rel, "cannot open dataset (corrupt?)");
  if (kind != H5I_DATASET) fail(rel, "expected a dataset");
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
