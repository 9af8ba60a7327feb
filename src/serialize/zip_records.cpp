#include "maskterial/serialize/zip_records.hpp"

#include <algorithm>

#include "maskterial/util/error.hpp"

namespace maskterial {
namespace {

constexpr uint32_t kEndOfDirectory = 0x06054b50, kZip64Locator = 0x07064b50, kZip64End = 0x06064b50,
                   kDirectoryEntry = 0x02014b50;
constexpr uint32_t kUnknown32 = 0xffffffff;

class Bytes {
 public:
  Bytes(const std::string& b, const std::string& source) : b_(b), source_(source) {}
  uint64_t le(uint64_t at, int n) const {
    if (at > b_.size() || static_cast<uint64_t>(n) > b_.size() - at) throw cut();
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b_[at + i]);
    return v;
  }
  std::string text(uint64_t at, uint64_t n) const {
    if (at > b_.size() || n > b_.size() - at) throw cut();
    return b_.substr(at, n);
  }
  Error cut() const { return file_error(source_, "not a readable zip archive (central directory cut short)"); }

 private:
  const std::string& b_;
  const std::string& source_;
};

// The zip64 extra field holds the sizes whose 32-bit fields read 0xffffffff, uncompressed first.
void read_zip64_sizes(const Bytes& b, uint64_t extra, uint64_t extra_end, ZipRecord& r) {
  while (extra + 4 <= extra_end) {
    const uint64_t id = b.le(extra, 2), size = b.le(extra + 2, 2);
    uint64_t at = extra + 4;
    if (id == 1) {
      if (r.uncompressed_size == kUnknown32 && at + 8 <= extra_end) r.uncompressed_size = b.le(at, 8), at += 8;
      if (r.compressed_size == kUnknown32 && at + 8 <= extra_end) r.compressed_size = b.le(at, 8), at += 8;
      if (r.local_header == kUnknown32 && at + 8 <= extra_end) r.local_header = b.le(at, 8);
      return;
    }
    extra = at + size;
  }
}

}  // namespace

std::map<std::string, ZipRecord> zip_records(const std::string& bytes, const std::string& source) {
  const Bytes b(bytes, source);
  // The end record sits in the last 22 + 65535 (comment) bytes.
  if (bytes.size() < 22) throw b.cut();
  uint64_t end = bytes.size() - 22;
  const uint64_t lowest = bytes.size() > 22 + 65535 ? bytes.size() - 22 - 65535 : 0;
  while (b.le(end, 4) != kEndOfDirectory) {
    if (end == lowest) throw file_error(source, "not a zip archive (no end of central directory)");
    --end;
  }
  uint64_t entries = b.le(end + 10, 2), offset = b.le(end + 16, 4);
  if ((offset == kUnknown32 || entries == 0xffff) && end >= 20 && b.le(end - 20, 4) == kZip64Locator) {
    const uint64_t end64 = b.le(end - 20 + 8, 8);
    if (b.le(end64, 4) != kZip64End) throw b.cut();
    entries = b.le(end64 + 32, 8);
    offset = b.le(end64 + 48, 8);
  }
  std::map<std::string, ZipRecord> records;
  uint64_t at = offset;
  for (uint64_t i = 0; i < entries; ++i) {
    if (b.le(at, 4) != kDirectoryEntry) throw b.cut();
    ZipRecord r;
    r.method = static_cast<uint16_t>(b.le(at + 10, 2));
    r.compressed_size = b.le(at + 20, 4);
    r.uncompressed_size = b.le(at + 24, 4);
    r.local_header = b.le(at + 42, 4);
    r.directory_index = i;
    const uint64_t name_length = b.le(at + 28, 2), extra_length = b.le(at + 30, 2), comment_length = b.le(at + 32, 2);
    const std::string name = b.text(at + 46, name_length);
    read_zip64_sizes(b, at + 46 + name_length, at + 46 + name_length + extra_length, r);
    records[name] = r;
    at += 46 + name_length + extra_length + comment_length;
  }
  return records;
}

std::string stored_record(const std::string& bytes, const ZipRecord& record, const std::string& source) {
  if (record.method != 0 || record.compressed_size != record.uncompressed_size)
    throw file_error(source, "a record is compressed (torch.save stores them uncompressed)");
  const Bytes b(bytes, source);
  constexpr uint32_t kLocalHeader = 0x04034b50;
  if (b.le(record.local_header, 4) != kLocalHeader) throw b.cut();
  const uint64_t name_length = b.le(record.local_header + 26, 2), extra_length = b.le(record.local_header + 28, 2);
  return b.text(record.local_header + 30 + name_length + extra_length, record.uncompressed_size);
}

}  // namespace maskterial
