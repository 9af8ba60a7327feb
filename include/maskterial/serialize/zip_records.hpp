#pragma once
// The record sizes of a zip archive, read from its central directory without inflating anything. The state
// dict reader checks them before asking libtorch's zip reader for a record: a few MB of deflated zeros can
// claim gigabytes (torch.save itself stores records uncompressed).
#include <cstdint>
#include <map>
#include <string>

namespace maskterial {

struct ZipRecord {
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint16_t method = 0;          // 0: stored, 8: deflated
  uint64_t local_header = 0;    // offset of the record's local header
  uint64_t directory_index = 0;  // position in the central directory
};

// Records by name as stored (torch.save: "<archive>/data.pkl", "<archive>/data/0", ...). Throws Error naming
// `source` when the end-of-central-directory record or an entry is missing or cut short.
std::map<std::string, ZipRecord> zip_records(const std::string& bytes, const std::string& source);

// The content of a stored (uncompressed) record; throws Error naming `source` when it is compressed or its
// local header or data lie outside `bytes`.
std::string stored_record(const std::string& bytes, const ZipRecord& record, const std::string& source);

}  // namespace maskterial
