// Hostile model files: the npy and state dict readers refuse them with an error naming the file, in time
// linear in the file, without deep recursion and without inflating or allocating what a header claims.
#include <gtest/gtest.h>

#include <caffe2/serialize/inline_container.h>

#include <chrono>
#include <filesystem>

#include "maskterial/serialize/npy.hpp"
#include "maskterial/serialize/state_dict.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"
#include "cli_test_helpers.hpp"

namespace fs = std::filesystem;
using namespace maskterial;
using maskterial::cli_test::fresh_dir;
using namespace std::string_literals;  // pickles hold NUL bytes

namespace {

// Pickle opcodes for hand-made data.pkl files.
std::string le32(uint32_t v) { return {char(v), char(v >> 8), char(v >> 16), char(v >> 24)}; }
std::string text(const std::string& s) { return "X" + le32(static_cast<uint32_t>(s.size())) + s; }
std::string int32(uint32_t v) { return "J" + le32(v); }

// {'w': float tensor of `numel` elements in record data/0}, as torch.save writes it (protocol 2).
std::string tensor_dict_pickle(uint32_t numel) {
  return std::string("\x80\x02}(") + text("w") + "ctorch._utils\n_rebuild_tensor_v2\n(" + "(" + text("storage") +
         "ctorch\nFloatStorage\n" + text("0") + text("cpu") + int32(numel) + "tQ" + "K\x00"s + "(" + int32(numel) +
         "t" + "(K\x01t" + "\x89" + "ccollections\nOrderedDict\n)R" + "tR" + "u.";
}

std::string write_archive(const fs::path& path, const std::string& pickle, const std::string& storage = "",
                          bool compress = false) {
  caffe2::serialize::PyTorchStreamWriter writer(path.string());
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  if (!storage.empty()) writer.writeRecord("data/0", storage.data(), storage.size(), compress);
  writer.writeEndOfFile();
  return path.string();
}

// The reader refuses the file with an Error naming it and containing `words`.
void expect_refused(const std::string& path, const std::string& words) {
  try {
    load_state_dict(path);
    ADD_FAILURE() << path << " was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST(StateDictHardening, HandMadePickleOfATensorLoads) {  // the control for the hostile variants below
  const fs::path dir = fresh_dir("mt_sd_good");
  const std::string values(16, '\0');
  const StateDict dict = load_state_dict(write_archive(dir / "good.pth", tensor_dict_pickle(4), values));
  ASSERT_EQ(dict.size(), 1u);
  EXPECT_EQ(dict[0].second.numel(), 4);
}

TEST(StateDictHardening, SelfReferentialDictIsRefused) {
  const fs::path dir = fresh_dir("mt_sd_self");
  // d = {}; d["model"] = d
  expect_refused(write_archive(dir / "self.pth", "\x80\x02}q\x00"s + text("model") + "h\x00s."s),
                 "self-referential");
}

TEST(StateDictHardening, MillionFoldNestingIsRefused) {
  const fs::path dir = fresh_dir("mt_sd_deep");
  const size_t depth = 1000000;
  expect_refused(write_archive(dir / "deep.pth", "\x80\x02" + std::string(depth, ']') + std::string(depth - 1, 'a') + "."),
                 "nested deeper");
}

TEST(StateDictHardening, LongMarkedRunsTakeLinearTime) {
  const fs::path dir = fresh_dir("mt_sd_long");
  std::string pickle = "\x80\x02(";
  for (int i = 0; i < 200000; ++i) pickle += "K\x01";
  const std::string path = write_archive(dir / "long.pth", pickle + "l.");
  const auto start = std::chrono::steady_clock::now();
  expect_refused(path, "does not hold a dict");
  EXPECT_LT(seconds_since(start), 2.0);  // quadratic: about a minute
}

TEST(StateDictHardening, RecordsInflatingBeyondTheArchiveAreRefusedUninflated) {
  const fs::path dir = fresh_dir("mt_sd_bomb");
  const uint32_t numel = 16u << 20;  // 64 MB of zeros deflate to ~64 KB
  const std::string path =
      write_archive(dir / "bomb.pth", tensor_dict_pickle(numel), std::string(size_t{numel} * 4, '\0'), true);
  ASSERT_LT(fs::file_size(path), size_t{1} << 20);
  expect_refused(path, "decompression bomb");
}

TEST(StateDictHardening, StoragesLargerThanTheirRecordAreRefusedBeforeAllocating) {
  const fs::path dir = fresh_dir("mt_sd_claim");
  // Claims 2^31 - 1 floats (8 GB) with 16 bytes stored.
  expect_refused(write_archive(dir / "claim.pth", tensor_dict_pickle(0x7fffffff), std::string(16, '\0')),
                 "smaller than its");
}

// A zip of stored records, written by hand (no CRCs: these are refused before anything reads a record).
std::string stored_zip(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& records) {
  const auto le16 = [](uint32_t v) { return std::string{char(v), char(v >> 8)}; };
  std::string local, directory;
  for (const auto& [name, content] : records) {
    const uint32_t offset = static_cast<uint32_t>(local.size()), size = static_cast<uint32_t>(content.size());
    const std::string sizes = le32(0) + le32(size) + le32(size) + le16(static_cast<uint32_t>(name.size())) + le16(0);
    local += le32(0x04034b50) + le16(20) + le16(0) + le16(0) + le32(0) + sizes + name + content;
    directory += le32(0x02014b50) + le16(20) + le16(20) + le16(0) + le16(0) + le32(0) + sizes + le16(0) + le16(0) +
                 le16(0) + le32(0) + le32(offset) + name;
  }
  const std::string end = le32(0x06054b50) + le16(0) + le16(0) + le16(static_cast<uint32_t>(records.size())) +
                          le16(static_cast<uint32_t>(records.size())) + le32(static_cast<uint32_t>(directory.size())) +
                          le32(static_cast<uint32_t>(local.size())) + le16(0);
  maskterial::write_file_atomic(path.string(), local + directory + end);
  return path.string();
}

// libtorch's reader leaks its zip state when its constructor throws (found by fuzz_model_files), so what it
// would refuse there is refused before it is built.
TEST(StateDictHardening, ArchivesLibtorchWouldRefuseAreRefusedFirst) {
  const fs::path dir = fresh_dir("mt_sd_layout");
  const std::string pickle = tensor_dict_pickle(0);
  expect_refused(stored_zip(dir / "empty.pth", {}), "no records");
  expect_refused(stored_zip(dir / "flat.pth", {{"data.pkl", pickle}}), "is not in a folder");
  expect_refused(stored_zip(dir / "noversion.pth", {{"archive/data.pkl", pickle}}), "no version record");
  expect_refused(stored_zip(dir / "future.pth", {{"archive/data.pkl", pickle}, {"archive/version", "99\n"}}),
                 "unsupported format version '99'");
  expect_refused(stored_zip(dir / "words.pth", {{"archive/data.pkl", pickle}, {"archive/version", "three"}}),
                 "unsupported format version 'three'");
}

// A format 1.0 .npy file with the given header dict and `data`.
std::string npy_file(const std::string& dict, const std::string& data = "") {
  const std::string header = dict + "\n";
  return std::string("\x93NUMPY\x01\x00", 8) + char(header.size() & 0xff) + char(header.size() >> 8) + header + data;
}

TEST(NpyHardening, HeadersAreParsedWithoutRegexAndChecked) {
  EXPECT_EQ(npy::parse(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }", std::string(8, '\0')),
                       "ok.npy").sizes(),
            torch::IntArrayRef({2, 1}));
  std::string shape;
  for (int i = 0; i < 20000; ++i) shape += "1, ";  // 60 KB: std::regex overflowed the stack
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"long.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + "), }")},
      {"huge.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }")},
      {"noshape.npy", npy_file("{'descr': '<f4', 'fortran_order': False, }")},
      {"open.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,")}};
  for (const auto& [name, bytes] : bad) {
    try {
      npy::parse(bytes, name);
      ADD_FAILURE() << name << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}
