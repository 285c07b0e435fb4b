// The one HDF5 layer of the readers and the h5ad writer: RAII handles, path lookups, and typed
// reads that check rank, size and type class before reading, so that a corrupt or foreign file
// is an InputError naming the file and the HDF5 path, never a crash. Variable-length strings are
// decoded here from the file's global heap with bounds checks (libhdf5 trusts the heap and
// segfaults on a damaged one; see hdf5_file.cpp). HDF5's own error-stack printing is silenced.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hiscmcl::hdf5 {

// Owns one identifier; closes it with the call matching its kind (file, group, dataset, ...).
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : id_(id) {}
  Id(Id&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Id& operator=(Id&& o) noexcept;
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  ~Id() { reset(); }
  void reset();
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

struct FileState;  // the open file, its name for errors and the global-heap reader
class Dataset;

// A group or dataset of an open file. Errors name the file and "group /x" or "dataset /x".
class Object {
 public:
  const std::string& path() const { return path_; }  // "/obs/_index"
  hid_t id() const { return id_; }
  const std::string& file() const;
  std::string where() const;  // "dataset /obs/_index"
  [[noreturn]] void fail(const std::string& what) const;

  // A scalar string attribute (fixed or variable length); nullopt when absent or not a string.
  std::optional<std::string> attr_string(const std::string& name) const;
  // The dataset an object-reference attribute points at; nullopt when absent.
  std::optional<Dataset> attr_reference(const std::string& name) const;
  void write_attr_string(const std::string& name, const std::string& value) const;
  void write_attr_strings(const std::string& name, const std::vector<std::string>& values) const;
  void write_attr_bool(const std::string& name, bool value) const;  // as h5py writes a numpy bool

  // Made by File and Group (FileState is private to hdf5_file.cpp).
  Object(std::shared_ptr<FileState> f, std::string path, Id id, bool is_group)
      : file_(std::move(f)), path_(std::move(path)), id_(std::move(id)), group_(is_group) {}

 protected:
  std::shared_ptr<FileState> file_;
  std::string path_;
  Id id_;
  bool group_;
};

class Dataset : public Object {
 public:
  std::vector<hsize_t> dims() const;
  H5T_class_t type_class() const;
  // Numbers converted to T (float, double, int32_t, int64_t) from any stored integer or float
  // type, or an enum over integers (h5py's bool). `shape` gives the rank (empty = scalar) and
  // each expected extent (-1 = any).
  template <typename T>
  std::vector<T> read_numbers(const std::vector<int64_t>& shape,
                              std::vector<hsize_t>* dims_out = nullptr) const;
  // A scalar, or a 1-D dataset of one element.
  double read_scalar() const;
  // Rows [first, first + count) along the first dimension of an integer array, as uint8 values
  // (row-major), read without the rest of the dataset.
  std::vector<uint8_t> read_u8_rows(int64_t first, int64_t count) const;
  // A scalar or 1-D (or [n, 1]) string dataset (fixed or variable length); expected_count < 0 = any.
  std::vector<std::string> read_strings(int64_t expected_count = -1) const;

  using Object::Object;

 private:
  // dims(), checked against `shape` (-1 = any extent); *n = their product, capped at 2^62.
  std::vector<hsize_t> dims_of_shape(const std::vector<int64_t>& shape, uint64_t* n) const;
  template <typename T>
  std::vector<T> read_enum_values(const std::vector<int64_t>& shape, std::vector<hsize_t>* dims_out) const;
};

class Group : public Object {
 public:
  std::vector<std::string> children() const;  // link names, in name order (for messages)
  Group create_group(const std::string& name) const;
  // Contiguous native-typed datasets (T: float, double, int64_t, int32_t, uint8_t); empty dims = a scalar.
  template <typename T>
  Dataset write_numbers(const std::string& name, const std::vector<hsize_t>& dims,
                        const T* data) const;
  Dataset write_strings(const std::string& name, const std::vector<std::string>& values) const;
  Dataset write_string(const std::string& name, const std::string& value) const;  // scalar

  using Object::Object;
};

class File {
 public:
  // Read-only. `expected` describes the file for "missing" errors ("an AnnData file").
  static File open(const std::filesystem::path& path, const std::string& expected);
  // Read-only, from the bytes of an HDF5 file in memory (HDF5's core driver, no file touched;
  // the bytes are copied). Errors name `name` as they would the path.
  static File open_image(const void* data, size_t size, const std::string& name,
                         const std::string& expected);
  // Creates (truncating) `create_at`; errors name `display_name` (the final path).
  static File create(const std::filesystem::path& create_at, const std::string& display_name);

  const std::string& name() const;
  Group root() const;
  // True when every component of `path` exists (H5Lexists alone fails on a missing parent).
  bool exists(const std::string& path) const;
  bool is_group(const std::string& path) const;    // false when absent
  bool is_dataset(const std::string& path) const;  // false when absent
  // InputError "missing dataset /x (not <expected>?)" when absent, or naming the wrong kind.
  Group group(const std::string& path) const;
  Dataset dataset(const std::string& path) const;
  void flush() const;
  [[noreturn]] void fail(const std::string& path, const std::string& what) const;

 private:
  explicit File(std::shared_ptr<FileState> s) : state_(std::move(s)) {}
  // Checks the HDF5 open of `s` and reads the superblock's sizes (both opens).
  static std::shared_ptr<FileState> opened(std::shared_ptr<FileState> s);
  std::shared_ptr<FileState> state_;
};

}  // namespace hiscmcl::hdf5
