#include <gtest/gtest.h>

#include <filesystem>

#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;
using namespace maskterial;

TEST(Files, AtomicWriteReplacesWholeFileAndLeavesNoTemp) {
  const fs::path dir = fs::temp_directory_path() / "mt_files_test";
  fs::remove_all(dir);
  const std::string path = (dir / "sub" / "out.json").string();
  write_file_atomic(path, "first");
  write_file_atomic(path, "second");
  EXPECT_EQ(read_file(path), "second");
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir / "sub")) entries += e.is_regular_file();
  EXPECT_EQ(entries, 1);
  fs::remove_all(dir);
}

TEST(Files, MissingAndMalformedFilesNameTheFile) {
  try {
    read_json("/nonexistent/x.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.json"), std::string::npos);
  }
  const std::string bad = (fs::temp_directory_path() / "mt_bad.json").string();
  write_file_atomic(bad, "{\"a\": [1, 2");
  try {
    read_json(bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("malformed JSON"), std::string::npos);
  }
}
