#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "maskterial/util/file_writer.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;
using namespace maskterial;

namespace {
fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}
}  // namespace

TEST(BackgroundFileWriter, WritesEveryFileWholeInOrderAndLeavesNoTemp) {
  const fs::path dir = fresh_dir("mt_file_writer");
  {
    // A bound smaller than two files: write() has to wait for the thread, and a file over the bound still goes.
    BackgroundFileWriter writer(3000);
    for (int i = 0; i < 20; ++i) writer.write((dir / ("f" + std::to_string(i % 7))).string(), std::string(2000 + i, 'a' + i));
    writer.write((dir / "big").string(), std::string(10000, 'z'));
    EXPECT_TRUE(writer.finish().empty());
  }
  for (int k = 0; k < 7; ++k) {
    const int last = 14 + k <= 19 ? 14 + k : 7 + k;  // the last of i = k, k + 7, k + 14 below 20
    EXPECT_EQ(read_file((dir / ("f" + std::to_string(k))).string()), std::string(2000 + last, 'a' + last));
  }
  EXPECT_EQ(read_file((dir / "big").string()), std::string(10000, 'z'));
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) entries += e.is_regular_file();
  EXPECT_EQ(entries, 8);
  fs::remove_all(dir);
}

TEST(BackgroundFileWriter, ReportsAFailedWriteByItsFileAndGoesOn) {
  const fs::path dir = fresh_dir("mt_file_writer_errors");
  fs::create_directories(dir);
  write_file_atomic((dir / "a_file").string(), "x");
  BackgroundFileWriter writer;
  writer.write((dir / "a_file" / "below_a_file.json").string(), "{}");  // a folder that cannot exist
  writer.write((dir / "fine.json").string(), "{}");
  const std::vector<std::string> errors = writer.finish();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("a_file"), std::string::npos) << errors[0];
  EXPECT_EQ(read_file((dir / "fine.json").string()), "{}");
  EXPECT_TRUE(writer.finish().empty());  // reported once
  fs::remove_all(dir);
}
