#include "io/st_legacy_reader.h"

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "common/error.h"
#include "common/log.h"
#include "io/image_info.h"
#include "io/spot_spacing.h"
#include "io/text_file.h"

namespace fs = std::filesystem;

namespace hiscmcl {
namespace {

enum class CountParse { ok, non_numeric, nan, negative, infinite };

// Integers (the normal case) take a digit loop; anything else goes through from_chars.
CountParse parse_count(std::string_view f, double& out) {
  f = unquote(f);
  if (f.empty()) return CountParse::non_numeric;
  bool all_digits = f.size() < 16;
  uint64_t v = 0;
  for (char c : f) {
    if (c < '0' || c > '9') {
      all_digits = false;
      break;
    }
    v = v * 10 + uint64_t(c - '0');
  }
  if (all_digits) {
    out = double(v);
    return CountParse::ok;
  }
  std::string_view g = f;
  if (g.front() == '+') g.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(g.data(), g.data() + g.size(), out);
  if (ec != std::errc() || ptr != g.data() + g.size()) return CountParse::non_numeric;
  if (std::isnan(out)) return CountParse::nan;
  if (std::isinf(out) || out > FLT_MAX) return CountParse::infinite;  // inf as float32
  if (out < 0) return CountParse::negative;
  return CountParse::ok;
}

std::string line_no(size_t i) { return "line " + std::to_string(i + 1); }

// Tab-separated unless the header has no tab but a comma.
char detect_separator(std::string_view header) {
  if (header.find('\t') != std::string_view::npos) return '\t';
  if (header.find(',') != std::string_view::npos) return ',';
  return '\t';
}

// Column index of each wanted name (-1 when absent), after lining the header up with the rows:
// R's write.table leaves out the row-name column's header, so a header one field short of the
// first data row gets an empty name prepended.
std::vector<int> find_columns(std::vector<std::string_view> header, size_t first_row_fields,
                              const std::vector<std::string>& names) {
  if (first_row_fields == header.size() + 1) header.insert(header.begin(), std::string_view());
  std::vector<int> idx(names.size(), -1);
  for (size_t j = 0; j < header.size(); ++j)
    for (size_t k = 0; k < names.size(); ++k)
      if (idx[k] < 0 && unquote(header[j]) == names[k]) idx[k] = int(j);
  return idx;
}

// Rows as wide as the header (lined up as find_columns does): a shorter row is a damaged file.
void check_row_width(const std::string& file, size_t header_fields, size_t first_row_fields,
                     size_t row_fields, size_t i) {
  const size_t want = first_row_fields == header_fields + 1 ? header_fields + 1 : header_fields;
  if (row_fields < want)
    throw InputError(file,
                     "row has " + std::to_string(row_fields) + " fields but the header has " +
                         std::to_string(want),
                     line_no(i));
}

}  // namespace

std::string spot_key(double x, double y) {
  return std::to_string(std::llround(x)) + "x" + std::to_string(std::llround(y));
}

std::array<double, 2> apply_affine(const std::array<double, 6>& a, double x, double y) {
  return {a[0] * x + a[1] * y + a[2], a[3] * x + a[4] * y + a[5]};
}

CountsTable read_counts_tsv(const fs::path& path) {
  const std::string file = path.string();
  std::string text = read_maybe_gzipped(path);
  std::vector<std::string_view> lines = split_lines(text);
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.empty()) throw InputError(file, "empty counts file", "line 1");

  std::vector<std::string_view> header = split_fields(lines[0], '\t');
  // Normal layout: empty first field, then genes. R's write.table layout: genes only, rows one
  // field longer.
  size_t first_gene = 1;
  if (lines.size() > 1) {
    size_t row_fields = size_t(std::count(lines[1].begin(), lines[1].end(), '\t')) + 1;
    if (row_fields == header.size() + 1 && !unquote(header[0]).empty()) first_gene = 0;
  }
  CountsTable t;
  for (size_t j = first_gene; j < header.size(); ++j) t.genes.emplace_back(unquote(header[j]));
  if (t.genes.empty() || (t.genes.size() == 1 && t.genes[0].empty()))
    throw InputError(file, "counts header has no gene names (expected: empty field, then genes)",
                     "line 1");
  const size_t n_genes = t.genes.size();
  // Genes and spot ids are join keys: a repeat would silently lose a column or double a spot.
  {
    std::unordered_map<std::string_view, size_t> seen;
    for (size_t j = 0; j < n_genes; ++j) {
      auto [it, fresh] = seen.emplace(t.genes[j], j);
      if (!fresh)
        throw InputError(file,
                         "duplicate gene '" + t.genes[j] + "' in the header (columns " +
                             std::to_string(it->second + 2) + " and " + std::to_string(j + 2) + ")",
                         "line 1");
    }
  }
  std::unordered_map<std::string, size_t> spot_line;

  SparseCounts& c = t.counts;
  c.cols = int64_t(n_genes);
  c.indptr.push_back(0);
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (line.empty()) continue;
    auto wrong_width = [&](size_t n) {
      return InputError(file,
                        "row has " + std::to_string(n) + " counts but the header has " +
                            std::to_string(n_genes) + " genes",
                        line_no(i));
    };
    // Pointer scan without splitting first: this loop sees millions of fields.
    const char* p = line.data();
    const char* const end = p + line.size();
    const char* tab = static_cast<const char*>(std::memchr(p, '\t', line.size()));
    if (!tab) throw wrong_width(0);
    t.spot_ids.emplace_back(unquote(std::string_view(p, size_t(tab - p))));
    if (auto [it, fresh] = spot_line.emplace(t.spot_ids.back(), i); !fresh)
      throw InputError(file,
                       "duplicate spot id '" + t.spot_ids.back() + "' (first on " +
                           line_no(it->second) + ")",
                       line_no(i));
    p = tab + 1;
    size_t j = 0;
    for (;;) {
      if (j == n_genes) throw wrong_width(size_t(std::count(line.begin(), line.end(), '\t')));
      const char* q = p;
      uint64_t iv = 0;
      while (q < end && unsigned(*q - '0') < 10u) iv = iv * 10 + uint64_t(*q++ - '0');
      double v = 0;
      if (q > p && q - p < 16 && (q == end || *q == '\t')) {
        v = double(iv);
      } else {
        q = static_cast<const char*>(std::memchr(p, '\t', size_t(end - p)));
        if (!q) q = end;
        std::string_view field(p, size_t(q - p));
        CountParse r = parse_count(field, v);
        if (r != CountParse::ok) {
          const char* what = r == CountParse::nan        ? "NaN count"
                             : r == CountParse::negative ? "negative count"
                             : r == CountParse::infinite ? "infinite count"
                                                         : "non-numeric count";
          throw InputError(file,
                           std::string(what) + " '" + std::string(field) + "' for spot '" +
                               t.spot_ids.back() + "', gene '" + t.genes[j] + "'",
                           line_no(i) + ", column " + std::to_string(j + 2));
        }
      }
      if (v != 0) {
        c.indices.push_back(int32_t(j));
        c.values.push_back(float(v));
      }
      ++j;
      if (q == end) break;
      p = q + 1;
    }
    if (j != n_genes) throw wrong_width(j);
    c.indptr.push_back(int64_t(c.values.size()));
  }
  c.rows = int64_t(t.spot_ids.size());
  return t;
}

namespace {

// A small delimited table (spot table, labels): its lines, separator, header and the width of
// the first data row (which may carry one more field than the header: R's row names).
struct DelimitedText {
  std::string text;
  std::vector<std::string_view> lines;  // views into text
  char sep = '\t';
  std::vector<std::string_view> header;
  size_t first_fields = 0;
};

// Fills t in place: its views point into t.text, which must not move afterwards.
void read_delimited(const fs::path& path, const char* what, DelimitedText& t) {
  t.text = read_maybe_gzipped(path);
  t.lines = split_lines(t.text);
  while (!t.lines.empty() && t.lines.back().empty()) t.lines.pop_back();
  if (t.lines.empty()) throw InputError(path.string(), std::string("empty ") + what, "line 1");
  t.sep = detect_separator(t.lines[0]);
  t.header = split_fields(t.lines[0], t.sep);
  t.first_fields = t.lines.size() > 1 ? split_fields(t.lines[1], t.sep).size() : t.header.size();
}

}  // namespace

std::vector<SpotTableRow> read_spot_table(const fs::path& path) {
  const std::string file = path.string();
  DelimitedText t;
  read_delimited(path, "spot table", t);
  const std::vector<std::string> names = {"x", "y", "pixel_x", "pixel_y", "selected"};
  std::vector<int> col = find_columns(t.header, t.first_fields, names);
  for (size_t k = 0; k < 4; ++k)
    if (col[k] < 0)
      throw InputError(file, "spot table has no '" + names[k] +
                                 "' column (expected x y new_x new_y pixel_x pixel_y selected)",
                       "line 1");
  std::vector<SpotTableRow> rows;
  for (size_t i = 1; i < t.lines.size(); ++i) {
    if (t.lines[i].empty()) continue;
    auto f = split_fields(t.lines[i], t.sep);
    check_row_width(file, t.header.size(), t.first_fields, f.size(), i);
    double v[5] = {0, 0, 0, 0, 1};
    for (size_t k = 0; k < 5; ++k) {
      if (col[k] < 0) continue;
      if (size_t(col[k]) >= f.size())
        throw InputError(file, "row is missing the '" + names[k] + "' column", line_no(i));
      if (!parse_finite_number(f[size_t(col[k])], v[k]))
        throw InputError(file,
                         "non-numeric " + names[k] + " '" + std::string(f[size_t(col[k])]) + "'",
                         line_no(i));
    }
    rows.push_back({v[0], v[1], v[2], v[3], int(std::lround(v[4]))});
  }
  return rows;
}

std::map<std::string, std::string> read_spot_labels(const fs::path& path) {
  const std::string file = path.string();
  DelimitedText t;
  read_delimited(path, "labels file", t);
  std::vector<int> col = find_columns(t.header, t.first_fields, {"x", "y", "label"});
  const char* names[3] = {"x", "y", "label"};
  for (int k = 0; k < 3; ++k)
    if (col[size_t(k)] < 0)
      throw InputError(file, std::string("labels file has no '") + names[k] + "' column", "line 1");
  std::map<std::string, std::string> out;
  for (size_t i = 1; i < t.lines.size(); ++i) {
    if (t.lines[i].empty()) continue;
    auto f = split_fields(t.lines[i], t.sep);
    check_row_width(file, t.header.size(), t.first_fields, f.size(), i);
    double x = 0, y = 0;
    if (!parse_finite_number(f[size_t(col[0])], x) || !parse_finite_number(f[size_t(col[1])], y))
      throw InputError(file, "non-numeric x or y", line_no(i));
    auto [it, inserted] = out.emplace(spot_key(x, y), std::string(unquote(f[size_t(col[2])])));
    if (!inserted) spdlog::warn("{} ({}): second label row for spot {} ignored", file, line_no(i), it->first);
  }
  return out;
}

Section read_st_legacy(const ManifestSection& ms, StLegacyJoinStats* stats_out,
                       const ReadOptions& opts) {
  auto t0 = std::chrono::steady_clock::now();
  auto need = [&](const char* key) -> const fs::path& {
    auto it = ms.files.find(key);
    if (it == ms.files.end())
      throw InputError(ms.id, std::string("st_legacy section needs a '") + key + "' file");
    return it->second;
  };
  const fs::path& counts_path = need("counts");
  const fs::path& spots_path = need("spots");
  const fs::path& image_path = need("image");

  // Image first: a truncated or missing image fails before the heavier counts parse.
  ImageSize size = read_image_size(image_path);
  CountsTable ct = read_counts_tsv(counts_path);
  std::vector<SpotTableRow> table = read_spot_table(spots_path);

  StLegacyJoinStats st;
  st.count_rows = int64_t(ct.spot_ids.size());
  st.table_rows = int64_t(table.size());
  std::unordered_map<std::string, size_t> by_key;
  for (size_t i = 0; i < table.size(); ++i) {
    auto [it, inserted] = by_key.emplace(spot_key(table[i].x, table[i].y), i);
    if (!inserted)
      throw InputError(spots_path.string(), "duplicate spot " + it->first, line_no(i + 1));
    if (table[i].selected != 1) ++st.unselected;
  }

  std::vector<int64_t> keep_rows;
  std::vector<size_t> keep_table;
  std::vector<bool> table_used(table.size(), false);
  for (size_t r = 0; r < ct.spot_ids.size(); ++r) {
    auto it = by_key.find(ct.spot_ids[r]);
    if (it == by_key.end()) {
      ++st.counts_without_spot;
      continue;
    }
    table_used[it->second] = true;
    if (table[it->second].selected != 1) continue;
    keep_rows.push_back(int64_t(r));
    keep_table.push_back(it->second);
  }
  std::string examples;
  for (size_t i = 0; i < table.size(); ++i)
    if (table[i].selected == 1 && !table_used[i] && ++st.spots_without_counts <= 5)
      examples += (examples.empty() ? "" : ", ") + spot_key(table[i].x, table[i].y);
  if (st.spots_without_counts > 5) examples += ", ...";
  st.joined = int64_t(keep_rows.size());
  if (st.counts_without_spot)
    spdlog::warn("{}: {} count rows have no row in {} (dropped)", counts_path.string(),
                 st.counts_without_spot, spots_path.string());
  if (st.spots_without_counts) {
    const std::string what = std::to_string(st.spots_without_counts) + " of " +
                             std::to_string(st.table_rows - st.unselected) +
                             " selected spots of " + spots_path.string() +
                             " have no count row (" + examples + ")";
    if (!opts.allow_missing_spots && !ms.allow_missing_spots)
      throw InputError(counts_path.string(),
                       what + "; a counts file cut short loses spots this way. If they are "
                              "missing on purpose, set allow_missing_spots = true in the "
                              "manifest section (or pass --allow-missing-spots) to drop them");
    spdlog::warn("{}: {} (dropped)", counts_path.string(), what);
  }
  if (keep_rows.empty())
    throw InputError(counts_path.string(),
                     "empty section: no spot is both in the counts and selected (== 1) in " +
                         spots_path.string());

  Section s;
  s.id = ms.id;
  s.patient = ms.patient;
  s.genes = std::move(ct.genes);
  s.counts = ct.counts.select_rows(keep_rows);
  std::array<double, 6> affine = ms.affine.value_or(std::array<double, 6>{1, 0, 0, 0, 1, 0});
  for (size_t k = 0; k < keep_rows.size(); ++k) {
    const SpotTableRow& row = table[keep_table[k]];
    s.spot_ids.push_back(ct.spot_ids[size_t(keep_rows[k])]);
    s.array_xy.push_back({row.x, row.y});
    auto p = apply_affine(affine, row.pixel_x, row.pixel_y);
    if (!(p[0] >= 0 && p[0] < size.width && p[1] >= 0 && p[1] < size.height))
      throw InputError(spots_path.string(),
                       "spot " + s.spot_ids.back() + " centre (" + std::to_string(p[0]) + ", " +
                           std::to_string(p[1]) + ") lies outside the image " +
                           image_path.string() + " (" + std::to_string(size.width) + " x " +
                           std::to_string(size.height) + " px); check the affine");
    s.pixel_xy.push_back(p);
  }

  // Region labels and published clusters share one layout (x, y, label); a spot without a row
  // is 'undetermined', which scoring leaves out.
  for (auto [key, out] : {std::pair{"labels", &s.labels}, std::pair{"clusters", &s.clusters}}) {
    auto it = ms.files.find(key);
    if (it == ms.files.end()) continue;
    auto labels = read_spot_labels(it->second);
    int64_t unlabeled = 0;
    for (const auto& id : s.spot_ids) {
      auto l = labels.find(id);
      if (l == labels.end()) ++unlabeled;
      out->push_back(l == labels.end() ? "undetermined" : l->second);
    }
    if (unlabeled)
      spdlog::warn("{}: {} spots have no label row (labelled 'undetermined')", it->second.string(), unlabeled);
    if (out == &s.labels) st.unlabeled = unlabeled;
  }

  ImageGeometry& g = s.image;
  g.image_path = image_path.string();
  g.width = size.width;
  g.height = size.height;
  g.affine = affine;
  std::optional<double> um = choose_um_per_px(ms.um_per_px, size.um_per_px, image_path.string());
  // The ST 1k array's spots are 100 µm across at a 200 µm pitch: without a stated diameter or
  // pixel size, half the median nearest-neighbour distance; a stated one is checked against it.
  if (ms.spot_diameter_px) g.spot_diameter_px = *ms.spot_diameter_px;
  else if (um) g.spot_diameter_px = 100.0 / *um;
  else g.spot_diameter_px = median_nearest_spot_distance(s.pixel_xy) / spacing_per_diameter(SpotArray::st);
  g.spot_diameter_px = settle_spot_diameter(
      ms.id,
      ms.spot_diameter_px ? "the manifest's spot_diameter_px"
      : ms.um_per_px      ? "the manifest's um_per_px (100 um spots)"
                          : image_path.string() + " (its pixel size, 100 um spots)",
      g.spot_diameter_px, s.pixel_xy, SpotArray::st);
  g.um_per_px = um ? *um : 100.0 / g.spot_diameter_px;

  if (stats_out) *stats_out = st;
  double ms_elapsed =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  spdlog::debug("{}: {} spots x {} genes read in {:.0f} ms", ms.id, s.n_spots(), s.n_genes(),
                ms_elapsed);
  return s;
}

}  // namespace hiscmcl
